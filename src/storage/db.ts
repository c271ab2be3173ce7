/**
 * Opening a SQLite database for Berth: one place that sets the pragmas, wraps the
 * connection with drizzle and applies the drizzle-kit migrations before anyone reads.
 *
 * Two kinds of database use this (DESIGN.md §6): the Raft log with its hard state, and
 * the node's state machine. They differ only in how much durability a commit buys.
 */
import { Database } from 'bun:sqlite';
import { type BunSQLiteDatabase, drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';

/** How long a connection waits on another connection's write lock before SQLITE_BUSY. */
export const busyTimeoutMs = 5_000;

export interface OpenDatabaseOptions {
  /** Folder of drizzle-kit SQL migrations (with `meta/_journal.json`), applied at open. */
  migrationsFolder: string;
  /**
   * `FULL` (the default) fsyncs the WAL on every commit: use it for the Raft log and hard
   * state, because an acknowledgement or a vote must survive power loss. `NORMAL` fsyncs
   * only at checkpoints: acceptable for the state database, which is derived from the
   * committed log and can be rebuilt from it (its cursor rolls back together with the
   * state it describes, so a lost tail is simply re-applied).
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/** An open database: the raw bun:sqlite handle (for pragmas, close) and the drizzle wrapper. */
export interface OpenedDatabase {
  sqlite: Database;
  db: BunSQLiteDatabase;
}

/**
 * Opens (creating if needed) the SQLite database at `path` (or ':memory:'), sets the
 * pragmas and applies pending migrations. Throws if a migration fails; the caller should
 * treat that as fatal at start-up.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions): OpenedDatabase {
  const sqlite = new Database(path, { create: true, strict: true });
  try {
    applyPragmas(sqlite, options.synchronous ?? 'FULL');
    const db = drizzle({ client: sqlite });
    migrate(db, { migrationsFolder: options.migrationsFolder });
    return { sqlite, db };
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

function applyPragmas(sqlite: Database, synchronous: 'FULL' | 'NORMAL'): void {
  // First, so every pragma below waits too: a second connection (a snapshot reader, a CLI
  // opened on the same file), or a process restarted right after a kill -9 while the
  // kernel still releases the dead one's locks, waits briefly for the lock instead of
  // failing at once with SQLITE_BUSY.
  sqlite.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  // WAL lets readers (the API, snapshots) proceed while one writer appends, and turns a
  // commit into a sequential append; ':memory:' databases ignore it and stay 'memory'.
  sqlite.run('PRAGMA journal_mode = WAL');
  // See OpenDatabaseOptions.synchronous for why the log needs FULL and the state NORMAL.
  sqlite.run(`PRAGMA synchronous = ${synchronous}`);
  // Foreign keys are off by default in SQLite; we want declared references enforced.
  sqlite.run('PRAGMA foreign_keys = ON');
}
