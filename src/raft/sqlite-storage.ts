/**
 * Durable Raft storage on SQLite (DESIGN.md §6, STYLE.md rule 15). The core reads through
 * the `RaftStorage` interface; the driver writes each Ready with `persistReady`, which puts
 * the snapshot, the new entries and the hard state in ONE transaction. The database runs
 * with synchronous=FULL in WAL mode, so the commit returns only after the WAL is fsync'd:
 * when `persistReady` returns, a vote or an acknowledgement may leave the node.
 *
 * Every entry row carries a CRC32 of `term|index|kind|data`, checked (with a zod parse of
 * the row) whenever a row is read back from disk; a mismatch is RaftStorageError('corrupt').
 * Recent entries are kept in an in-memory window so that the hot path (the leader sending
 * what it just appended, term lookups near the tail) never touches the disk.
 */

import type { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { eq, max } from 'drizzle-orm';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { z } from 'zod';
import {
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  RaftStorageError,
  type Ready,
  type Snapshot,
} from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import { openDatabase } from '../storage/db.ts';
import { EntryCache } from './entry-cache.ts';
import { raftConfState, raftEntries, raftHardState, raftLogStart, raftSnapshot } from './schema.ts';
import {
  copyConf,
  entryChecksum,
  entryFromRow,
  hardStateRowSchema,
  logStartRowSchema,
  parseConf,
  parseRow,
  snapshotFromRow,
} from './sqlite-rows.ts';
import { prepareStatements, type RaftStatements } from './sqlite-statements.ts';

export { entryChecksum } from './sqlite-rows.ts';

/** Where drizzle-kit writes this database's migrations. */
export const raftMigrationsFolder = join(import.meta.dir, '../../migrations/raft');

/** Id of the single row in each one-row table. */
const singletonRowId = 1;

export interface SqliteRaftStorageOptions {
  /** Entries kept in memory for hot reads (default `limits.raftEntryCacheMax`). */
  entryCacheMax?: number;
}

/** `RaftStorage` on a SQLite file, fsync'd on every commit. One instance per database file. */
export class SqliteRaftStorage implements RaftStorage {
  readonly #sqlite: Database;
  readonly #db: BunSQLiteDatabase;
  readonly #cache: EntryCache;
  readonly #stmts: RaftStatements;
  #hardState: HardState = { term: 0, vote: 0, commit: 0 };
  /** The membership at index 0 (bootstrap); superseded by the snapshot's once one exists. */
  #bootstrapConf: ConfState = { voters: [], learners: [] };
  #snapshot: Snapshot = {
    meta: { index: 0, term: 0, conf: { voters: [], learners: [] } },
    data: new Uint8Array(),
  };
  /** The last discarded entry (firstIndex - 1) and its term. */
  #logStart = { index: 0, term: 0 };
  #lastIndex = 0;
  #closed = false;

  /** Opens (creating and migrating if needed) the Raft database at `path`. */
  static open(path: string, options: SqliteRaftStorageOptions = {}): SqliteRaftStorage {
    const { sqlite, db } = openDatabase(path, {
      migrationsFolder: raftMigrationsFolder,
      synchronous: 'FULL',
    });
    try {
      return new SqliteRaftStorage(sqlite, db, options);
    } catch (error) {
      sqlite.close();
      throw error;
    }
  }

  private constructor(sqlite: Database, db: BunSQLiteDatabase, options: SqliteRaftStorageOptions) {
    this.#sqlite = sqlite;
    this.#db = db;
    this.#stmts = prepareStatements(db);
    this.#load();
    this.#cache = new EntryCache(
      options.entryCacheMax ?? limits.raftEntryCacheMax,
      this.#lastIndex,
    );
  }

  // ---- RaftStorage (reads) ----

  /**
   * The hard state, and the membership in force where the node resumes: the latest
   * snapshot's conf once one exists (the core resumes at its index and replays the config
   * entries after it), else the bootstrap conf. Same rule as MemoryStorage.
   */
  initialState(): { hardState: HardState; conf: ConfState } {
    this.#assertOpen();
    const snap = this.#snapshot.meta;
    const conf = snap.index > 0 ? snap.conf : this.#bootstrapConf;
    return { hardState: { ...this.#hardState }, conf: copyConf(conf) };
  }

  entries(lo: number, hi: number): Entry[] {
    this.#assertOpen();
    assert(lo <= hi, `entries: lo ${lo} > hi ${hi}`);
    if (lo <= this.#logStart.index) {
      throw new RaftStorageError(
        'compacted',
        `entries from ${lo}: compacted up to ${this.#logStart.index}`,
      );
    }
    if (hi > this.#lastIndex + 1) {
      throw new RaftStorageError(
        'unavailable',
        `entries to ${hi - 1}: last index is ${this.#lastIndex}`,
      );
    }
    if (lo === hi) return [];
    const cacheFirst = this.#cache.firstIndex();
    if (lo >= cacheFirst) return this.#cache.slice(lo, hi);
    const fromDisk = this.#readRange(lo, Math.min(hi, cacheFirst));
    return hi > cacheFirst ? fromDisk.concat(this.#cache.slice(cacheFirst, hi)) : fromDisk;
  }

  term(index: number): number {
    this.#assertOpen();
    if (index === this.#logStart.index) return this.#logStart.term;
    if (index < this.#logStart.index) {
      throw new RaftStorageError(
        'compacted',
        `term of ${index}: compacted up to ${this.#logStart.index}`,
      );
    }
    if (index > this.#lastIndex) {
      throw new RaftStorageError(
        'unavailable',
        `term of ${index}: last index is ${this.#lastIndex}`,
      );
    }
    const cached = this.#cache.get(index);
    if (cached) return cached.term;
    const row = this.#stmts.entryAt.get({ index });
    if (!row) throw new RaftStorageError('corrupt', `raft entry ${index} is missing from the log`);
    return entryFromRow(row).term;
  }

  firstIndex(): number {
    return this.#logStart.index + 1;
  }

  lastIndex(): number {
    return this.#lastIndex;
  }

  snapshot(): Snapshot {
    this.#assertOpen();
    return this.#snapshot;
  }

  // ---- Mutators (same as MemoryStorage) ----

  /** Persists the hard state (fsync'd). */
  setHardState(hs: HardState): void {
    this.#transaction(() => this.#writeHardState(hs));
  }

  /** Appends entries, replacing any stored entry at or after entries[0].index (fsync'd). */
  append(entries: readonly Entry[]): void {
    this.#transaction(() => this.#writeEntries(entries));
  }

  /** Replaces the whole log with `snap` (from a leader's InstallSnapshot). */
  applySnapshot(snap: Snapshot): void {
    this.#transaction(() => this.#writeSnapshot(snap));
  }

  /**
   * Records a snapshot of the state machine at `index` (≤ lastIndex) with `conf`, the
   * membership in force at `index`; from now on a restart starts from that conf. Does not
   * discard entries; call `compact` afterwards to do that.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    this.#assertOpen();
    if (index <= this.#snapshot.meta.index) {
      throw new RaftStorageError(
        'snapshot_out_of_date',
        `snapshot at ${index}: already have one at ${this.#snapshot.meta.index}`,
      );
    }
    if (index > this.#lastIndex) {
      throw new RaftStorageError(
        'unavailable',
        `snapshot at ${index}: last index is ${this.#lastIndex}`,
      );
    }
    const snap: Snapshot = { meta: { index, term: this.term(index), conf: copyConf(conf) }, data };
    this.#transaction(() => this.#putSnapshotRow(snap));
    this.#snapshot = snap;
    return snap;
  }

  /**
   * Discards entries up to and including `index`, which must be covered by the snapshot
   * (a follower that needs them can then be sent the snapshot instead).
   */
  compact(index: number): void {
    this.#assertOpen();
    if (index <= this.#logStart.index) {
      throw new RaftStorageError(
        'compacted',
        `compact(${index}): already compacted to ${this.#logStart.index}`,
      );
    }
    if (index > this.#snapshot.meta.index) {
      throw new RaftStorageError(
        'unavailable',
        `compact(${index}): beyond snapshot ${this.#snapshot.meta.index}, entries would be lost`,
      );
    }
    const start = { index, term: this.term(index) };
    this.#transaction(() => {
      this.#stmts.deleteUpTo.run({ index });
      this.#putLogStart(start);
    });
    this.#logStart = start;
    this.#cache.dropUpTo(index);
  }

  /**
   * Records the bootstrap membership: the conf in force before the first log entry (the
   * initial voters of a new cluster, or what a joining node starts from). Once a snapshot
   * exists, a restart starts from the snapshot's conf instead and this row is not read.
   */
  setConf(conf: ConfState): void {
    this.#transaction(() => this.#putConf(conf));
  }

  /**
   * Persists one Ready: snapshot, entries and hard state in ONE transaction. The caller
   * sends `rd.messages` only after this returns (Raft paper §5.1: a vote or an append
   * acknowledgement must not outrun the disk), so the commit is fsync'd whenever it
   * carries a snapshot, entries, a new term or a vote, or when the core sets `mustSync`.
   *
   * A Ready that only moves the commit index is written without an fsync (WAL with
   * synchronous=NORMAL for that one commit): the commit index is not needed for safety —
   * after a crash it is relearned from the leader — and the next fsync'd commit makes the
   * earlier WAL frames durable too, in order. This saves a follower one fsync per
   * heartbeat that advances its commit.
   *
   * Returns true when the commit was fsync'd (for metrics).
   */
  persistReady(
    rd: Pick<Ready, 'snapshot' | 'entries' | 'hardState'> & { mustSync?: boolean },
  ): boolean {
    if (!rd.snapshot && rd.entries.length === 0 && !rd.hardState) return false;
    const hs = rd.hardState;
    const durable =
      rd.mustSync === true ||
      rd.snapshot !== undefined ||
      rd.entries.length > 0 ||
      (hs !== undefined && (hs.term !== this.#hardState.term || hs.vote !== this.#hardState.vote));
    const write = () => {
      if (rd.snapshot) this.#writeSnapshot(rd.snapshot);
      if (rd.entries.length > 0) this.#writeEntries(rd.entries);
      if (hs) this.#writeHardState(hs);
    };
    if (durable) {
      this.#transaction(write);
      return true;
    }
    this.#sqlite.run('PRAGMA synchronous = NORMAL');
    try {
      this.#transaction(write);
    } finally {
      if (!this.#closed) this.#sqlite.run('PRAGMA synchronous = FULL');
    }
    return false;
  }

  /** The connection's current `PRAGMA synchronous` level (diagnostics and tests). */
  syncMode(): 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA' {
    this.#assertOpen();
    const row = this.#sqlite.query('PRAGMA synchronous').get() as { synchronous: number };
    const modes = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
    const mode = modes[row.synchronous];
    assert(mode !== undefined, `unknown synchronous level ${row.synchronous}`);
    return mode;
  }

  /** Closes the database. Further calls are assertion failures. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sqlite.close();
  }

  // ---- internals ----

  #assertOpen(): void {
    assert(!this.#closed, 'SqliteRaftStorage used after close');
  }

  /**
   * Runs `fn` in one write transaction. Memory is updated inside `fn` after each write, so a
   * failed commit would leave memory ahead of disk: we treat that as fatal by closing the
   * storage (the node restarts from disk) instead of guessing what was lost.
   */
  #transaction(fn: () => void): void {
    this.#assertOpen();
    try {
      this.#sqlite.transaction(fn).immediate();
    } catch (error) {
      if (!(error instanceof RaftStorageError) && !(error instanceof z.ZodError)) this.close();
      throw error;
    }
  }

  #writeHardState(hs: HardState): void {
    this.#stmts.upsertHardState.run({ id: singletonRowId, ...hs });
    this.#hardState = { ...hs };
  }

  #writeEntries(input: readonly Entry[]): void {
    // Entries at or below the log start are already covered by the snapshot; skip them.
    const entries = input.filter((e) => e.index > this.#logStart.index);
    if (entries.length === 0) return;
    const first = entries[0]!;
    assert(
      first.index <= this.#lastIndex + 1,
      `append at ${first.index} leaves a gap after ${this.#lastIndex}`,
    );
    entries.forEach((e, i) => {
      assert(e.index === first.index + i, `append: entries not consecutive at ${e.index}`);
    });
    if (first.index <= this.#lastIndex) this.#stmts.deleteFrom.run({ index: first.index });
    for (const e of entries) {
      this.#stmts.insertEntry.run({ ...e, checksum: entryChecksum(e) });
    }
    this.#lastIndex = entries[entries.length - 1]!.index;
    this.#cache.append(entries);
  }

  #writeSnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.#snapshot.meta.index) {
      throw new RaftStorageError(
        'snapshot_out_of_date',
        `snapshot at ${snap.meta.index}: already have one at ${this.#snapshot.meta.index}`,
      );
    }
    // The snapshot replaces the whole log: entries after it may conflict with the leader's.
    this.#stmts.deleteAll.run();
    this.#putSnapshotRow(snap);
    const start = { index: snap.meta.index, term: snap.meta.term };
    this.#putLogStart(start);
    // The snapshot's entries are committed by definition; never report a lower commit.
    if (this.#hardState.commit < snap.meta.index) {
      this.#writeHardState({ ...this.#hardState, commit: snap.meta.index });
    }
    this.#snapshot = { meta: { ...snap.meta, conf: copyConf(snap.meta.conf) }, data: snap.data };
    this.#logStart = start;
    this.#lastIndex = snap.meta.index;
    this.#cache.reset(snap.meta.index);
  }

  #putSnapshotRow(snap: Snapshot): void {
    this.#stmts.upsertSnapshot.run({
      id: singletonRowId,
      index: snap.meta.index,
      term: snap.meta.term,
      conf: JSON.stringify(copyConf(snap.meta.conf)),
      data: Buffer.from(snap.data),
      checksum: Bun.hash.crc32(snap.data),
    });
  }

  #putLogStart(start: { index: number; term: number }): void {
    this.#stmts.upsertLogStart.run({ id: singletonRowId, ...start });
  }

  #putConf(conf: ConfState): void {
    this.#stmts.upsertConf.run({ id: singletonRowId, conf: JSON.stringify(copyConf(conf)) });
    this.#bootstrapConf = copyConf(conf);
  }

  #readRange(lo: number, hi: number): Entry[] {
    const rows = this.#stmts.entriesIn.all({ lo, hi });
    const entries = rows.map(entryFromRow);
    entries.forEach((e, i) => {
      if (e.index !== lo + i) {
        throw new RaftStorageError('corrupt', `raft entry ${lo + i} is missing from the log`);
      }
    });
    if (entries.length !== hi - lo) {
      throw new RaftStorageError(
        'corrupt',
        `raft entries ${lo}..${hi - 1}: only ${entries.length} found`,
      );
    }
    return entries;
  }

  /** Loads the small state (hard state, conf, snapshot, log bounds) into memory at open. */
  #load(): void {
    const hs = this.#db
      .select()
      .from(raftHardState)
      .where(eq(raftHardState.id, singletonRowId))
      .get();
    if (hs) this.#hardState = parseRow(hardStateRowSchema, hs, 'raft hard state');
    const conf = this.#db
      .select()
      .from(raftConfState)
      .where(eq(raftConfState.id, singletonRowId))
      .get();
    if (conf) this.#bootstrapConf = parseConf(conf.conf, 'raft conf state');
    const snap = this.#db
      .select()
      .from(raftSnapshot)
      .where(eq(raftSnapshot.id, singletonRowId))
      .get();
    if (snap) this.#snapshot = snapshotFromRow(snap);
    const start = this.#db
      .select()
      .from(raftLogStart)
      .where(eq(raftLogStart.id, singletonRowId))
      .get();
    if (start) this.#logStart = parseRow(logStartRowSchema, start, 'raft log start');
    const last = this.#db
      .select({ value: max(raftEntries.index) })
      .from(raftEntries)
      .get();
    this.#lastIndex = last?.value ?? this.#logStart.index;
    assert(this.#snapshot.meta.index >= this.#logStart.index, 'log compacted beyond its snapshot');
  }
}
