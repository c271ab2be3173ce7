/**
 * The `state` actor hosted on a node: the state database, the log-backed mailbox that
 * applies committed entries to it (DESIGN.md §2), and the two snapshot paths Raft needs —
 * taking a snapshot of the state database at its applied index (then compacting the Raft
 * log), and replacing it with a snapshot the leader installed.
 */
import type { Database } from 'bun:sqlite';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import type { Snapshot } from '../../actors/leader-election/types.ts';
import {
  type StateCommandType,
  type StateKinds,
  stateCommands,
} from '../../actors/state/commands.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { CommittedLog } from '../log/committed-log.ts';
import { LogConsumer } from '../mailbox/log-consumer.ts';
import { createStateSnapshot, restoreStateSnapshot } from '../state/snapshot.ts';
import { createStateMachine } from '../state/state-machine.ts';
import { openStateDatabase } from '../storage/state-db.ts';

export interface StateHostOptions {
  path: string;
  log: CommittedLog;
  logger?: Logger;
  /** Told when the consumer fails; the agent treats it as fatal (let it crash). */
  onFailure?: (error: unknown) => void;
}

/** Owns the state database and its consumer; both are replaced on snapshot restore. */
export class StateHost {
  readonly #path: string;
  readonly #log: CommittedLog;
  readonly #logger: Logger;
  readonly #onFailure: (error: unknown) => void;
  #sqlite: Database;
  #db: BunSQLiteDatabase;
  #consumer: LogConsumer<StateKinds, StateCommandType> | undefined;
  #unsubscribeCommit: (() => void) | undefined;
  #commitListeners = new Set<(index: number) => void>();

  constructor(options: StateHostOptions) {
    this.#path = options.path;
    this.#log = options.log;
    this.#logger = (options.logger ?? silentLogger).child({ actor: 'state' });
    this.#onFailure =
      options.onFailure ?? ((e) => this.#logger.error('state failed', { error: String(e) }));
    const opened = openStateDatabase(this.#path, { synchronous: 'NORMAL' });
    this.#sqlite = opened.sqlite;
    this.#db = opened.db;
  }

  get db(): BunSQLiteDatabase {
    return this.#db;
  }

  get sqlite(): Database {
    return this.#sqlite;
  }

  /** Starts applying committed entries. */
  start(): void {
    this.#startConsumer();
  }

  stop(): void {
    this.#unsubscribeCommit?.();
    this.#unsubscribeCommit = undefined;
    this.#consumer?.stop();
    this.#consumer = undefined;
  }

  close(): void {
    this.stop();
    this.#sqlite.close();
  }

  /** The last log index applied to the state database. */
  appliedIndex(): number {
    return this.#consumerOrThrow().cursor();
  }

  /** Applies what is committed now, synchronously (used before a snapshot and by reads). */
  catchUp(): number {
    const consumer = this.#consumerOrThrow();
    for (let i = 0; i < 1_000; i++) {
      if (consumer.drain().status === 'caught_up') break;
    }
    return consumer.cursor();
  }

  /** Calls `fn` after each drain that moved the applied index. */
  onApplied(fn: (index: number) => void): () => void {
    this.#commitListeners.add(fn);
    return () => this.#commitListeners.delete(fn);
  }

  /** A consistent copy of the state database at its applied index. */
  snapshot(): { index: number; data: Uint8Array } {
    const index = this.catchUp();
    return { index, data: createStateSnapshot(this.#sqlite) };
  }

  /** Replaces the state with a snapshot the leader sent (Raft InstallSnapshot). */
  restore(snap: Snapshot): void {
    this.stop();
    this.#sqlite.close();
    const restored = restoreStateSnapshot(this.#path, snap.data, { synchronous: 'NORMAL' });
    this.#sqlite = restored.opened.sqlite;
    this.#db = restored.opened.db;
    this.#logger.info('state restored from snapshot', { index: restored.position.appliedIndex });
    this.#startConsumer();
  }

  #consumerOrThrow() {
    if (!this.#consumer) throw new Error('state host is not started');
    return this.#consumer;
  }

  #startConsumer(): void {
    const consumer = new LogConsumer({
      db: this.#db,
      log: this.#log,
      kinds: stateCommands,
      actor: createStateMachine({ logger: this.#logger }),
      logger: this.#logger,
      onFailure: (error) => this.#onFailure(error),
    });
    this.#consumer = consumer;
    consumer.start();
    // Listeners drain first (synchronously), so they always see this commit applied,
    // whichever of the consumer's own wake and this one runs first.
    this.#unsubscribeCommit = this.#log.onCommit(() => {
      setImmediate(() => {
        if (this.#consumer !== consumer || this.#commitListeners.size === 0) return;
        const index = this.catchUp();
        for (const fn of this.#commitListeners) fn(index);
      });
    });
  }
}
