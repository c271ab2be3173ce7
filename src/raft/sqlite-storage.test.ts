import { Database } from 'bun:sqlite';
import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Entry, RaftStorageError } from '../../actors/leader-election/types.ts';
import { SqliteRaftStorage } from './sqlite-storage.ts';

let dir: string;
let path: string;
const opened: SqliteRaftStorage[] = [];

function open(entryCacheMax?: number): SqliteRaftStorage {
  const s = SqliteRaftStorage.open(path, { entryCacheMax });
  opened.push(s);
  return s;
}

function entries(from: number, to: number, term: number, tag = 'cmd'): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++)
    out.push({ index: i, term, kind: 'normal', data: `{"${tag}":${i}}` });
  return out;
}

function storageErrorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof RaftStorageError) return error.code;
    throw error;
  }
  return undefined;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-raft-storage-'));
  path = join(dir, 'raft.db');
});

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteRaftStorage', () => {
  test('hard state, conf and entries written by persistReady survive closing and reopening', () => {
    // Proves durability (Raft §5.1 Fig. 2 persistent state): a reopened store returns what was committed.
    const a = open();
    a.setConf({ voters: [1, 2, 3], learners: [4], retired: [9] });
    a.persistReady({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 2, commit: 3 } });
    a.close();
    const b = open();
    expect(b.initialState()).toEqual({
      hardState: { term: 1, vote: 2, commit: 3 },
      conf: { voters: [1, 2, 3], learners: [4], retired: [9] },
    });
    expect(b.firstIndex()).toBe(1);
    expect(b.lastIndex()).toBe(5);
    expect(b.entries(1, 6)).toEqual(entries(1, 5, 1));
    expect(b.term(5)).toBe(1);
    expect(b.term(0)).toBe(0);
  });

  test('append replaces a conflicting suffix on disk, not only in memory', () => {
    // Proves the log-matching repair (Raft §5.3): entries after a conflict are deleted durably.
    const a = open();
    a.append(entries(1, 6, 1));
    a.append(entries(4, 5, 2, 'new'));
    expect(a.lastIndex()).toBe(5);
    a.close();
    const b = open();
    expect(b.lastIndex()).toBe(5);
    expect(b.entries(1, 6)).toEqual([...entries(1, 3, 1), ...entries(4, 5, 2, 'new')]);
    expect(storageErrorCode(() => b.term(6))).toBe('unavailable');
  });

  test('reads beyond the in-memory window come from disk and agree with the cache', () => {
    // Proves the cache is transparent: with a 4-entry window, ranges spanning disk and memory are exact.
    const a = open(4);
    a.append(entries(1, 20, 1));
    a.append(entries(21, 30, 2));
    expect(a.entries(1, 31)).toEqual([...entries(1, 20, 1), ...entries(21, 30, 2)]);
    expect(a.entries(25, 29)).toEqual(entries(25, 28, 2));
    expect(a.term(3)).toBe(1);
    expect(a.term(30)).toBe(2);
    expect(storageErrorCode(() => a.entries(1, 32))).toBe('unavailable');
  });

  test('a row whose data was altered on disk is reported as corrupt when read', () => {
    // Proves the CRC32 check: a changed payload without a matching checksum is RaftStorageError('corrupt').
    const a = open();
    a.append(entries(1, 3, 1));
    a.close();
    const raw = new Database(path);
    raw.run(`UPDATE raft_entries SET data = '{"cmd":99}' WHERE "index" = 2`);
    raw.close();
    const b = open();
    expect(b.entries(1, 2)).toEqual(entries(1, 1, 1));
    expect(storageErrorCode(() => b.entries(1, 4))).toBe('corrupt');
    expect(storageErrorCode(() => b.term(2))).toBe('corrupt');
  });

  test('a byte flipped in the database file is caught by the checksum', () => {
    // Proves corruption below SQLite (a flipped bit on disk, which SQLite does not detect) is caught.
    const a = open();
    a.append([{ index: 1, term: 1, kind: 'normal', data: '{"payload":"MARKER-abcdefgh"}' }]);
    a.close();
    // Move the WAL into the main file so the flipped byte lands in a table page (a flip in
    // the WAL itself is caught by SQLite's own frame checksums and the frame discarded).
    const raw = new Database(path);
    raw.run('PRAGMA wal_checkpoint(TRUNCATE)');
    raw.close();
    const bytes = readFileSync(path);
    const at = bytes.indexOf('MARKER-abcdefgh');
    expect(at).toBeGreaterThan(0);
    bytes[at + 7] = 'X'.charCodeAt(0);
    writeFileSync(path, bytes);
    const b = open();
    expect(storageErrorCode(() => b.entries(1, 2))).toBe('corrupt');
  });

  test('a row moved to another index fails its checksum (the index is covered)', () => {
    // Proves the checksum binds the index: a valid row copied to the wrong position is corrupt.
    const a = open();
    a.append(entries(1, 2, 1));
    a.close();
    const raw = new Database(path);
    raw.run(
      `UPDATE raft_entries SET data = '{"cmd":1}', checksum = (SELECT checksum FROM raft_entries WHERE "index" = 1) WHERE "index" = 2`,
    );
    raw.close();
    expect(storageErrorCode(() => open().term(2))).toBe('corrupt');
  });

  test('compaction drops entries durably and keeps the term of the last dropped one', () => {
    // Proves compaction after a snapshot (Raft §7): firstIndex moves, term(firstIndex-1) stays answerable.
    const a = open(4);
    a.append(entries(1, 10, 3));
    expect(storageErrorCode(() => a.compact(5))).toBe('unavailable'); // nothing covers 1..5 yet
    a.createSnapshot(6, { voters: [1], learners: [] }, new Uint8Array([1, 2]));
    a.compact(5);
    expect(a.firstIndex()).toBe(6);
    expect(a.term(5)).toBe(3);
    expect(storageErrorCode(() => a.entries(5, 7))).toBe('compacted');
    expect(storageErrorCode(() => a.term(4))).toBe('compacted');
    expect(storageErrorCode(() => a.compact(5))).toBe('compacted');
    a.close();
    const b = open();
    expect(b.firstIndex()).toBe(6);
    expect(b.lastIndex()).toBe(10);
    expect(b.term(5)).toBe(3);
    expect(b.entries(6, 11)).toEqual(entries(6, 10, 3));
    const raw = new Database(path, { readonly: true });
    expect(raw.query('SELECT count(*) AS n FROM raft_entries').get()).toEqual({ n: 5 });
    raw.close();
  });

  test('a created snapshot round-trips through the file with its data and membership', () => {
    // Proves createSnapshot is durable: meta (index, term, conf) and bytes come back after reopen.
    const a = open();
    a.append([...entries(1, 3, 1), ...entries(4, 7, 2)]);
    const data = new Uint8Array(70_000).map((_, i) => i % 251);
    const made = a.createSnapshot(5, { voters: [1, 2, 3], learners: [], retired: [7] }, data);
    expect(made.meta).toEqual({
      index: 5,
      term: 2,
      conf: { voters: [1, 2, 3], learners: [], retired: [7] },
    });
    expect(storageErrorCode(() => a.createSnapshot(5, { voters: [1], learners: [] }, data))).toBe(
      'snapshot_out_of_date',
    );
    expect(storageErrorCode(() => a.createSnapshot(8, { voters: [1], learners: [] }, data))).toBe(
      'unavailable',
    );
    a.close();
    const b = open();
    const snap = b.snapshot();
    expect(snap.meta).toEqual(made.meta);
    expect(Array.from(snap.data)).toEqual(Array.from(data));
    expect(b.firstIndex()).toBe(1); // a snapshot alone does not drop entries
  });

  test('a snapshot from the leader replaces the log, the conf and raises commit, in one persist', () => {
    // Proves InstallSnapshot persistence (Raft §7): the whole log is replaced and restart resumes after it.
    const a = open();
    a.append(entries(1, 4, 1));
    a.persistReady({
      snapshot: {
        meta: { index: 10, term: 4, conf: { voters: [1, 2], learners: [3] } },
        data: new Uint8Array([9]),
      },
      entries: entries(11, 12, 4),
      hardState: { term: 4, vote: 0, commit: 10 },
    });
    a.close();
    const b = open();
    expect(b.firstIndex()).toBe(11);
    expect(b.lastIndex()).toBe(12);
    expect(b.term(10)).toBe(4);
    expect(b.initialState()).toEqual({
      hardState: { term: 4, vote: 0, commit: 10 },
      conf: { voters: [1, 2], learners: [3] },
    });
    expect(b.snapshot().meta.index).toBe(10);
    expect(storageErrorCode(() => b.applySnapshot(b.snapshot()))).toBe('snapshot_out_of_date');
  });

  test('applySnapshot alone raises a lower commit to the snapshot index', () => {
    // Proves a restored node never reports a commit index below what its snapshot already holds.
    const a = open();
    a.setHardState({ term: 2, vote: 1, commit: 1 });
    a.applySnapshot({
      meta: { index: 8, term: 2, conf: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    });
    a.close();
    expect(open().initialState().hardState).toEqual({ term: 2, vote: 1, commit: 8 });
  });

  test('persistReady writes nothing when the transaction fails part-way', () => {
    // Proves atomicity: a Ready whose snapshot is stale leaves entries and hard state untouched.
    const a = open();
    a.applySnapshot({
      meta: { index: 5, term: 1, conf: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    });
    a.setHardState({ term: 1, vote: 1, commit: 5 });
    expect(
      storageErrorCode(() =>
        a.persistReady({
          snapshot: {
            meta: { index: 3, term: 1, conf: { voters: [1], learners: [] } },
            data: new Uint8Array(),
          },
          entries: entries(6, 7, 2),
          hardState: { term: 2, vote: 1, commit: 5 },
        }),
      ),
    ).toBe('snapshot_out_of_date');
    a.close();
    const b = open();
    expect(b.lastIndex()).toBe(5);
    expect(b.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 5 });
  });
});

describe('SqliteRaftStorage durability mode', () => {
  test('after a commit-only persist the connection is back at synchronous=FULL', () => {
    // Proves votes/entries always commit with synchronous=FULL, even right after a commit-only persist.
    const a = open();
    expect(a.syncMode()).toBe('FULL');
    a.persistReady({ entries: entries(1, 2, 1), hardState: { term: 1, vote: 1, commit: 0 } });
    a.persistReady({ entries: [], hardState: { term: 1, vote: 1, commit: 2 } });
    expect(a.syncMode()).toBe('FULL');
    a.persistReady({ entries: [], hardState: { term: 2, vote: 3, commit: 2 } });
    a.close();
    expect(open().initialState().hardState).toEqual({ term: 2, vote: 3, commit: 2 });
  });
});
