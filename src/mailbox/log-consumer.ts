/**
 * The log-backed mailbox (DESIGN.md §2): one actor consumes committed entries in log
 * order. Each entry the actor consumes is applied inside ONE SQLite transaction that also
 * moves the actor's cursor (`actor_cursors.applied_index`) to the entry's index, so after
 * a crash the actor resumes at cursor + 1 with nothing lost and nothing applied twice.
 *
 * Entries of types the actor does not consume only move the cursor; consecutive ones are
 * folded into the next transaction so a busy log does not cost one write per entry.
 *
 * The consumer keeps no authoritative state in memory: every drain starts from the cursor
 * on disk, so discarding the object at any point (a crash) and creating a new one is safe.
 * It does not depend on the actor runtime; the runtime hosts it through `LogMailbox`.
 */
import { eq } from 'drizzle-orm';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { AssertionError, assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { CommittedLog, LogEntry } from '../log/committed-log.ts';
import { actorCursors } from '../storage/state-schema.ts';
import type {
  KindDefinitions,
  MessageKinds,
  ReplicatedTypeOf,
  TypedEntry,
} from './message-kinds.ts';

/** The transaction handle `apply` receives: drizzle's synchronous bun:sqlite transaction. */
export type StateTx = Parameters<Parameters<BunSQLiteDatabase['transaction']>[0]>[0];

/** An actor whose mailbox is the committed log. */
export interface LogActor<D extends KindDefinitions, T extends ReplicatedTypeOf<D>> {
  /** The cursor's key in `actor_cursors`; unique per actor in one state database. */
  name: string;
  /** Replicated types this actor applies; entries of other types only move its cursor. */
  consumes: readonly T[];
  /**
   * Applies one committed entry, synchronously, inside the transaction that also writes
   * the cursor. It must not read the clock or randomness (every node must compute the
   * same state); throwing rolls back both its writes and the cursor.
   */
  apply(tx: StateTx, entry: TypedEntry<D, T>): void;
}

/** What one `drain` call achieved. `more` means its batch budget ran out first. */
export interface DrainResult {
  status: 'caught_up' | 'more';
  /** The cursor on disk after the drain. */
  cursor: number;
  /** Entries the actor applied (consumed types only). */
  applied: number;
}

export type LogMailboxStatus = 'idle' | 'running' | 'stopped' | 'failed';

/** The surface an actor runtime hosts: start, stop, observe, or drive it by hand. */
export interface LogMailbox {
  readonly status: LogMailboxStatus;
  /** The last index applied, as recorded on disk. */
  cursor(): number;
  /** Applies at most `batchesMax` batches now, synchronously. Throws on failure. */
  drain(batchesMax?: number): DrainResult;
  /** Subscribes to commits and drains on every wake until stopped or failed. */
  start(): void;
  /** Unsubscribes; a drain already scheduled does nothing. */
  stop(): void;
}

export interface LogConsumerOptions<D extends KindDefinitions, T extends ReplicatedTypeOf<D>> {
  /** The state database holding `actor_cursors` and the actor's own tables. */
  db: BunSQLiteDatabase;
  log: CommittedLog;
  kinds: MessageKinds<D>;
  actor: LogActor<D, T>;
  /** Entries read per batch; defaults to and may not exceed limits.logReadBatchMax. */
  batchMax?: number;
  /** Batches per wake before yielding; defaults to limits.logConsumerBatchesPerWakeMax. */
  batchesPerWakeMax?: number;
  /** Runs a wake later; defaults to setImmediate so a long backlog yields to I/O. */
  schedule?: (fn: () => void) => void;
  /** Told when a started consumer fails (its supervisor restarts it). Defaults to logging. */
  onFailure?: (error: unknown) => void;
  logger?: Logger;
}

/** Consumes a committed log into one actor's state, exactly once per entry. */
export class LogConsumer<D extends KindDefinitions, T extends ReplicatedTypeOf<D>>
  implements LogMailbox
{
  readonly #db: BunSQLiteDatabase;
  readonly #log: CommittedLog;
  readonly #kinds: MessageKinds<D>;
  readonly #actor: LogActor<D, T>;
  readonly #consumes: ReadonlySet<string>;
  readonly #batchMax: number;
  readonly #batchesPerWakeMax: number;
  readonly #schedule: (fn: () => void) => void;
  readonly #onFailure: (error: unknown) => void;
  readonly #logger: Logger;
  #status: LogMailboxStatus = 'idle';
  #scheduled = false;
  #unsubscribe: (() => void) | undefined;

  constructor(options: LogConsumerOptions<D, T>) {
    const batchMax = options.batchMax ?? limits.logReadBatchMax;
    const batchesPerWakeMax = options.batchesPerWakeMax ?? limits.logConsumerBatchesPerWakeMax;
    assert(batchMax >= 1 && batchMax <= limits.logReadBatchMax, 'batchMax out of range');
    assert(batchesPerWakeMax >= 1, 'batchesPerWakeMax must be positive');
    assert(options.actor.name.length > 0, 'a log actor needs a name');
    // Throws for an unregistered type and asserts for a local one: a consumer of a type
    // that cannot be in the log is a wiring bug, found at start-up rather than never.
    for (const type of options.actor.consumes) options.kinds.requireReplicated(type);
    this.#db = options.db;
    this.#log = options.log;
    this.#kinds = options.kinds;
    this.#actor = options.actor;
    this.#consumes = new Set(options.actor.consumes);
    this.#batchMax = batchMax;
    this.#batchesPerWakeMax = batchesPerWakeMax;
    this.#schedule = options.schedule ?? ((fn) => setImmediate(fn));
    this.#logger = (options.logger ?? silentLogger).child({ actor: options.actor.name });
    this.#onFailure =
      options.onFailure ??
      ((error) => this.#logger.error('log consumer failed', { error: String(error) }));
  }

  get status(): LogMailboxStatus {
    return this.#status;
  }

  cursor(): number {
    const row = this.#db
      .select()
      .from(actorCursors)
      .where(eq(actorCursors.actor, this.#actor.name))
      .get();
    return row?.appliedIndex ?? 0;
  }

  /**
   * Applies committed entries after the cursor, at most `batchesMax` batches. Throws
   * BerthError `snapshot_needed` when the log no longer holds the entry after the cursor
   * (compacted), `log_entry_invalid` when a consumed entry fails its schema, and
   * AssertionError on a gap or a local type in the log.
   */
  drain(batchesMax: number = this.#batchesPerWakeMax): DrainResult {
    assert(batchesMax >= 1 && batchesMax <= this.#batchesPerWakeMax, 'batchesMax out of range');
    let cursor = this.cursor();
    let applied = 0;
    for (let batch = 0; batch < batchesMax; batch++) {
      const commitIndex = this.#log.commitIndex();
      if (cursor >= commitIndex) return { status: 'caught_up', cursor, applied };
      const entries = this.#readAfter(cursor, Math.min(this.#batchMax, commitIndex - cursor));
      const outcome = this.#applyBatch(entries, cursor);
      cursor = outcome.cursor;
      applied += outcome.applied;
    }
    const caughtUp = cursor >= this.#log.commitIndex();
    return { status: caughtUp ? 'caught_up' : 'more', cursor, applied };
  }

  start(): void {
    assert(this.#status === 'idle', `cannot start a consumer that is ${this.#status}`);
    this.#status = 'running';
    this.#unsubscribe = this.#log.onCommit(() => this.#wake());
    this.#wake();
  }

  stop(): void {
    if (this.#status === 'running') this.#status = 'stopped';
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #wake(): void {
    if (this.#scheduled || this.#status !== 'running') return;
    this.#scheduled = true;
    this.#schedule(() => {
      this.#scheduled = false;
      if (this.#status !== 'running') return;
      try {
        // A backlog larger than one wake's budget continues on the next turn, so other
        // actors and I/O get the event loop in between.
        if (this.drain().status === 'more') this.#wake();
      } catch (error) {
        this.#status = 'failed';
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
        this.#onFailure(error);
      }
    });
  }

  /** Reads the next batch, telling a compacted log start apart from a real gap. */
  #readAfter(cursor: number, count: number): LogEntry[] {
    const wanted = cursor + 1;
    this.#requireNotCompacted(wanted);
    const entries = this.#log.read(wanted, count);
    if (entries[0]?.index !== wanted) {
      // Compaction may have run between the check and the read (another process).
      this.#requireNotCompacted(wanted);
      throw new AssertionError(
        `log gap for ${this.#actor.name}: wanted ${wanted}, got ${entries[0]?.index ?? 'nothing'}`,
      );
    }
    return entries;
  }

  #requireNotCompacted(wanted: number): void {
    const firstIndex = this.#log.firstIndex();
    if (firstIndex <= wanted) return;
    throw new BerthError(
      'snapshot_needed',
      `${this.#actor.name} needs entry ${wanted} but the log starts at ${firstIndex}`,
      { actor: this.#actor.name, cursor: wanted - 1, firstIndex },
    );
  }

  /** Applies one batch; returns the new durable cursor and how many entries were applied. */
  #applyBatch(entries: LogEntry[], cursor: number): { cursor: number; applied: number } {
    let durable = cursor;
    let seen = cursor;
    let applied = 0;
    for (const entry of entries) {
      assert(entry.index === seen + 1, `log gap: entry ${entry.index} after ${seen}`);
      seen = entry.index;
      if (!this.#isConsumed(entry.type)) continue;
      const typed = this.#parse(entry);
      this.#db.transaction((tx) => {
        this.#actor.apply(tx, typed);
        this.#writeCursor(tx, durable, entry.index);
      });
      durable = entry.index;
      applied++;
    }
    if (seen > durable) {
      this.#db.transaction((tx) => this.#writeCursor(tx, durable, seen));
      durable = seen;
    }
    return { cursor: durable, applied };
  }

  /** Asserts a local type never came out of the log; says whether this actor applies it. */
  #isConsumed(type: string): boolean {
    const kind = this.#kinds.kindOf(type);
    if (kind?.delivery === 'local') {
      throw new AssertionError(`local message type ${type} found in the committed log`);
    }
    // An unregistered type comes from a newer version; this actor cannot consume what it
    // does not know, so it only moves past it.
    return this.#consumes.has(type);
  }

  #parse(entry: LogEntry): TypedEntry<D, T> {
    const parsed = this.#kinds.parse(entry.type, entry.data);
    if (!parsed.ok) {
      // Skipping a committed entry would make this node's state diverge; stop instead.
      throw new BerthError('log_entry_invalid', `entry ${entry.index}: ${parsed.error.message}`, {
        actor: this.#actor.name,
        index: entry.index,
        type: entry.type,
      });
    }
    return { ...entry, data: parsed.data } as TypedEntry<D, T>;
  }

  /**
   * Moves the cursor from `expected` to `next` inside the caller's transaction. Checking
   * the stored value (compare-and-set) makes a second consumer of the same actor, or any
   * other double application, fail loudly instead of applying an entry twice.
   */
  #writeCursor(tx: StateTx, expected: number, next: number): void {
    const row = tx
      .select()
      .from(actorCursors)
      .where(eq(actorCursors.actor, this.#actor.name))
      .get();
    const stored = row?.appliedIndex ?? 0;
    assert(stored === expected, `${this.#actor.name} cursor is ${stored}, expected ${expected}`);
    tx.insert(actorCursors)
      .values({ actor: this.#actor.name, appliedIndex: next })
      .onConflictDoUpdate({ target: actorCursors.actor, set: { appliedIndex: next } })
      .run();
  }
}
