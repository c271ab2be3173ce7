/**
 * The baseline for Raft commit figures: what the same disk does for the simplest durable
 * write — one SQLite row per transaction, WAL, synchronous=FULL (one fsync per commit).
 * A Raft commit needs at least one such fsync on the leader and one on a follower, so
 * this bounds what a single proposer can hope for.
 */
import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { type LatencySummary, summarize } from './stats.ts';

export interface BaselineBounds {
  /** Stop after this many inserts. */
  insertsMax: number;
  /** Or after this long, in ms, whichever comes first. */
  durationMsMax: number;
}

/** Inserts rows one transaction at a time into a fresh database in `dir`; returns the figures. */
export function runSqliteInsertBaseline(dir: string, bounds: BaselineBounds): LatencySummary {
  const db = new Database(join(dir, 'baseline.db'), { create: true });
  try {
    db.run('PRAGMA journal_mode = WAL');
    db.run('PRAGMA synchronous = FULL');
    db.run('CREATE TABLE rows (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO rows (id, data) VALUES (?, ?)');
    const payload = JSON.stringify({ type: 'bench.cmd', data: { n: 0, pad: 'x'.repeat(64) } });
    const latenciesMs: number[] = [];
    const startMs = performance.now();
    for (let i = 1; i <= bounds.insertsMax; i++) {
      const t0 = performance.now();
      if (t0 - startMs >= bounds.durationMsMax) break;
      insert.run(i, payload); // autocommit: one transaction, one fsync of the WAL
      latenciesMs.push(performance.now() - t0);
    }
    return summarize(latenciesMs, performance.now() - startMs);
  } finally {
    db.close();
  }
}
