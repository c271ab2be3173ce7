/**
 * The Raft log's durable layout (DESIGN.md §6), in its own SQLite database, separate from
 * the state machine's. Migrations are generated from this file with
 * `bun x drizzle-kit generate --config drizzle.raft.config.ts` into `migrations/raft/`.
 *
 * Single-row tables (hard state, conf state, snapshot) are keyed by `id = 1` so an upsert
 * replaces the row in place.
 */
import { blob, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per log entry still held (entries at or below the snapshot are compacted away). */
export const raftEntries = sqliteTable('raft_entries', {
  index: integer('index').primaryKey(),
  term: integer('term').notNull(),
  /** 'normal' | 'noop' | 'config' (EntryKind). */
  kind: text('kind').notNull(),
  /** JSON text of the payload. */
  data: text('data').notNull(),
  /** CRC32 of `term|index|kind|data`, verified on every read from disk. */
  checksum: integer('checksum').notNull(),
});

/** Raft paper Fig. 2 persistent state: currentTerm, votedFor, plus the known commit index. */
export const raftHardState = sqliteTable('raft_hard_state', {
  id: integer('id').primaryKey(),
  term: integer('term').notNull(),
  vote: integer('vote').notNull(),
  commit: integer('commit').notNull(),
});

/** The membership recorded at the last persist: ConfState as JSON (voters, learners, retired). */
export const raftConfState = sqliteTable('raft_conf_state', {
  id: integer('id').primaryKey(),
  conf: text('conf').notNull(),
});

/**
 * The latest snapshot: its metadata and the opaque state-machine bytes. The log starts
 * right after `index` (firstIndex = index + 1), and `term` answers term(firstIndex - 1).
 */
export const raftSnapshot = sqliteTable('raft_snapshot', {
  id: integer('id').primaryKey(),
  index: integer('index').notNull(),
  term: integer('term').notNull(),
  /** ConfState as JSON. */
  conf: text('conf').notNull(),
  data: blob('data', { mode: 'buffer' }).notNull(),
  /** CRC32 of the snapshot bytes, verified when the snapshot is read back. */
  checksum: integer('checksum').notNull(),
});

/**
 * Where the log starts after compaction: the last discarded entry's index and term, so that
 * term(firstIndex - 1) can still be answered once the entries themselves are gone.
 */
export const raftLogStart = sqliteTable('raft_log_start', {
  id: integer('id').primaryKey(),
  index: integer('index').notNull(),
  term: integer('term').notNull(),
});
