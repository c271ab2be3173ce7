/**
 * The single-node local log: a CommittedLog on SQLite for a node that runs without Raft
 * (development, a one-server cluster, tests). Every append commits at once with term 1.
 *
 * The log is a trust boundary in both directions (STYLE.md rule 6): an entry is validated
 * against its type's schema before it is written, and again when it is read back, because
 * the file on disk may have been written by another version or damaged.
 *
 * Durability: the log is the source of truth here, so its database must be opened with
 * `synchronous: 'FULL'` (asserted below); an append that returned must survive power loss.
 */
import type { Database } from 'bun:sqlite';
import { and, asc, eq, gte, lt, lte, max } from 'drizzle-orm';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { z } from 'zod';
import { assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { MessageKinds } from '../mailbox/message-kinds.ts';
import { localLog, localLogMeta } from '../storage/state-schema.ts';
import type { CommittedLog, LogEntry } from './committed-log.ts';

/** The term every local-log entry carries: there is no election without Raft. */
export const localLogTerm = 1;

/** PRAGMA synchronous values that fsync every commit: FULL (2) and EXTRA (3). */
const synchronousFullMin = 2;

/** Shape of one row as read back from disk; checked before anything else trusts it. */
const LocalLogRow = z.object({
  logIndex: z.number().int().positive(),
  term: z.number().int().positive(),
  tag: z.number().int().positive(),
  type: z.string().min(1),
  data: z.string(),
});

export interface LocalLogOptions {
  logger?: Logger;
}

/** A committed log held in the `local_log` table of an opened state database. */
export class LocalLog implements CommittedLog {
  readonly #db: BunSQLiteDatabase;
  readonly #kinds: MessageKinds;
  readonly #logger: Logger;
  readonly #listeners = new Set<(commitIndex: number) => void>();

  constructor(
    opened: { sqlite: Database; db: BunSQLiteDatabase },
    kinds: MessageKinds,
    options: LocalLogOptions = {},
  ) {
    const row = opened.sqlite.query('PRAGMA synchronous').get() as { synchronous: number } | null;
    assert(
      row !== null && row.synchronous >= synchronousFullMin,
      'the local log is the source of truth: open its database with synchronous FULL',
    );
    this.#db = opened.db;
    this.#kinds = kinds;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Validates and appends one entry, committing it before returning. Throws
   * `unknown_message_type`, `message_type_retired`, `invalid_message` or
   * `log_entry_too_large` (BerthError) without writing anything; a local type is a bug
   * and throws AssertionError.
   */
  append(type: string, data: unknown): LogEntry {
    const kind = this.#kinds.requireAppendable(type);
    const encoded = this.#encode(type, data);
    const index = this.#db.transaction(
      (tx) => {
        const next = this.#lastIndexIn(tx) + 1;
        tx.insert(localLog)
          .values({ logIndex: next, term: localLogTerm, tag: kind.tag, type, data: encoded.json })
          .run();
        return next;
      },
      // IMMEDIATE takes the write lock before reading the last index, so two processes
      // appending to the same file cannot both pick the same next index.
      { behavior: 'immediate' },
    );
    this.#notify(index);
    return { index, term: localLogTerm, type, data: encoded.value };
  }

  commitIndex(): number {
    return this.#lastIndexIn(this.#db);
  }

  firstIndex(): number {
    const meta = this.#db.select().from(localLogMeta).where(eq(localLogMeta.id, 1)).get();
    return meta?.firstIndex ?? 1;
  }

  /** Entries in [fromIndex, fromIndex + max) that are still held, in order, re-validated. */
  read(fromIndex: number, max: number): LogEntry[] {
    assert(Number.isSafeInteger(fromIndex) && fromIndex >= 1, 'read: fromIndex must be >= 1');
    assert(Number.isSafeInteger(max) && max >= 1, 'read: max must be a positive integer');
    assert(max <= limits.logReadBatchMax, `read: max exceeds logReadBatchMax`);
    const rows = this.#db
      .select()
      .from(localLog)
      .where(and(gte(localLog.logIndex, fromIndex), lt(localLog.logIndex, fromIndex + max)))
      .orderBy(asc(localLog.logIndex))
      .all();
    return rows.map((row) => this.#decode(row));
  }

  onCommit(fn: (commitIndex: number) => void): () => void {
    assert(
      this.#listeners.size < limits.logCommitListenersMax,
      'too many commit listeners on one log',
    );
    this.#listeners.add(fn);
    return () => {
      this.#listeners.delete(fn);
    };
  }

  /**
   * Drops entries up to and including `throughIndex` (after a snapshot of the state at
   * that index exists). Consumers behind it will get `snapshot_needed`.
   */
  compact(throughIndex: number): void {
    assert(Number.isSafeInteger(throughIndex) && throughIndex >= 0, 'compact: bad index');
    this.#db.transaction(
      (tx) => {
        const last = this.#lastIndexIn(tx);
        assert(throughIndex <= last, `compact: ${throughIndex} is beyond the last index ${last}`);
        tx.delete(localLog).where(lte(localLog.logIndex, throughIndex)).run();
        const firstIndex = throughIndex + 1;
        tx.insert(localLogMeta)
          .values({ id: 1, firstIndex })
          .onConflictDoUpdate({ target: localLogMeta.id, set: { firstIndex } })
          .run();
      },
      { behavior: 'immediate' },
    );
  }

  /**
   * Validates the payload, then validates the JSON round-trip of the validated value: what
   * readers will parse is the JSON text, so a value that does not survive JSON (a Date, a
   * bigint, undefined in an array) must be refused now, not discovered on read.
   */
  #encode(type: string, data: unknown): { json: string; value: unknown } {
    const first = this.#kinds.parse(type, data);
    if (!first.ok) throw first.error;
    let json: string | undefined;
    try {
      json = JSON.stringify(first.data);
    } catch (error) {
      throw new BerthError('invalid_message', `${type} payload is not JSON: ${String(error)}`, {
        type,
      });
    }
    if (json === undefined) {
      throw new BerthError('invalid_message', `${type} payload is not JSON-representable`, {
        type,
      });
    }
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > limits.localLogEntryBytesMax) {
      throw new BerthError('log_entry_too_large', `${type} payload is ${bytes} bytes`, {
        type,
        bytes,
        bytesMax: limits.localLogEntryBytesMax,
      });
    }
    const second = this.#kinds.parse(type, JSON.parse(json));
    if (!second.ok) throw second.error;
    return { json, value: second.data };
  }

  #decode(raw: unknown): LogEntry {
    const shape = LocalLogRow.safeParse(raw);
    if (!shape.success) throw corrupt(`malformed row: ${z.prettifyError(shape.error)}`, raw);
    const row = shape.data;
    const tagType = this.#kinds.typeOfTag(row.tag);
    if (tagType !== row.type) {
      // Either the tag was reused for another type (a broken append-only rule) or the
      // type is unknown to this version; both mean we cannot trust the payload's meaning.
      throw corrupt(`tag ${row.tag} is ${tagType ?? 'unregistered'}, row says ${row.type}`, raw);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(row.data);
    } catch {
      throw corrupt(`entry ${row.logIndex} holds invalid JSON`, raw);
    }
    const parsed = this.#kinds.parse(row.type, payload);
    if (!parsed.ok) throw corrupt(`entry ${row.logIndex}: ${parsed.error.message}`, raw);
    return { index: row.logIndex, term: row.term, type: row.type, data: parsed.data };
  }

  #lastIndexIn(db: Pick<BunSQLiteDatabase, 'select'>): number {
    const row = db
      .select({ last: max(localLog.logIndex) })
      .from(localLog)
      .get();
    if (row?.last != null) return row.last;
    // Empty table: either nothing was ever appended, or everything was compacted.
    const meta = db.select().from(localLogMeta).where(eq(localLogMeta.id, 1)).get();
    return (meta?.firstIndex ?? 1) - 1;
  }

  #notify(commitIndex: number): void {
    for (const fn of [...this.#listeners]) {
      try {
        fn(commitIndex);
      } catch (error) {
        // The entry is committed whatever a listener does; a listener's bug must not make
        // the append look failed to its caller, who might then append it again.
        this.#logger.error('commit listener threw', { error: String(error) });
      }
    }
  }
}

function corrupt(message: string, row: unknown): BerthError {
  return new BerthError('log_corrupt', `local log: ${message}`, { row });
}
