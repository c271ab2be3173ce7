/**
 * The shared contract every RaftStorage implementation runs (hono's pattern of one test
 * suite for interchangeable implementations): MemoryStorage here, the SQLite storage in
 * src/raft/. Call `runStorageContract(name, make)` from a *.test.ts file.
 */
import { describe, expect, test } from 'bun:test';
import {
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  RaftStorageError,
  type Snapshot,
} from './types.ts';

/** A RaftStorage with the mutators the driver calls when it handles a Ready. */
export interface StorageUnderTest extends RaftStorage {
  setHardState(hs: HardState): void;
  setConf(conf: ConfState): void;
  append(entries: Entry[]): void;
  applySnapshot(snap: Snapshot): void;
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot;
  compact(index: number): void;
  /** Releases resources (a database handle); optional. */
  close?(): void;
}

function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, kind: 'normal', data };
}

function entriesFrom(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term));
  return out;
}

function storageErrorCode(fn: () => unknown): string | null {
  try {
    fn();
  } catch (err) {
    return err instanceof RaftStorageError ? err.code : 'other';
  }
  return null;
}

/** Proves a fresh store is the empty log: index 0 with term 0, no hard state. */
function startsEmpty(s: StorageUnderTest): void {
  expect(s.firstIndex()).toBe(1);
  expect(s.lastIndex()).toBe(0);
  expect(s.term(0)).toBe(0);
  expect(s.entries(1, 1)).toEqual([]);
  expect(s.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
}

/** Proves appended entries read back by range and by term, and ranges are [lo, hi). */
function appendsAndReadsBack(s: StorageUnderTest): void {
  s.append(entriesFrom(1, 5, 1));
  expect(s.lastIndex()).toBe(5);
  expect(s.entries(2, 4)).toEqual([entry(2, 1), entry(3, 1)]);
  expect(s.term(5)).toBe(1);
  expect(storageErrorCode(() => s.entries(4, 8))).not.toBeNull();
}

/** Proves §5.3's truncation: an append replaces every stored entry from its first index. */
function appendReplacesSuffix(s: StorageUnderTest): void {
  s.append(entriesFrom(1, 5, 1));
  s.append([entry(4, 2, 'new4')]);
  expect(s.lastIndex()).toBe(4);
  expect(s.entries(3, 5)).toEqual([entry(3, 1), entry(4, 2, 'new4')]);
  s.append(entriesFrom(5, 6, 2));
  expect(s.lastIndex()).toBe(6);
  expect(s.term(6)).toBe(2);
}

/** Proves hard state and membership (with retired ids) survive a round trip. */
function hardStateAndConfRoundTrip(s: StorageUnderTest): void {
  s.append(entriesFrom(1, 3, 2));
  s.setHardState({ term: 7, vote: 3, commit: 2 });
  s.setConf({ voters: [1, 2, 3], learners: [4], retired: [5] });
  const st = s.initialState();
  expect(st.hardState).toEqual({ term: 7, vote: 3, commit: 2 });
  expect(st.conf.voters).toEqual([1, 2, 3]);
  expect(st.conf.learners).toEqual([4]);
  expect(st.conf.retired ?? []).toEqual([5]);
}

/** Proves §7 compaction: older entries become 'compacted'; the snapshot index keeps its term. */
function snapshotThenCompact(s: StorageUnderTest): void {
  s.append(entriesFrom(1, 10, 3));
  const conf = { voters: [1, 2, 3], learners: [] };
  const snap = s.createSnapshot(6, conf, new Uint8Array([1, 2, 3]));
  expect(snap.meta).toMatchObject({ index: 6, term: 3 });
  s.compact(6);
  expect(s.firstIndex()).toBe(7);
  expect(s.lastIndex()).toBe(10);
  expect(s.term(6)).toBe(3);
  expect(storageErrorCode(() => s.term(5))).toBe('compacted');
  expect(storageErrorCode(() => s.entries(5, 8))).toBe('compacted');
  expect(s.entries(7, 9)).toEqual([entry(7, 3), entry(8, 3)]);
  expect(s.snapshot().meta.index).toBe(6);
  expect([...s.snapshot().data]).toEqual([1, 2, 3]);
  const stale = () => s.createSnapshot(5, conf, new Uint8Array());
  expect(storageErrorCode(stale)).toBe('snapshot_out_of_date');
}

/** Proves a snapshot from the leader replaces the whole log and sets the membership. */
function applySnapshotReplacesLog(s: StorageUnderTest): void {
  s.append(entriesFrom(1, 4, 1));
  const conf = { voters: [1, 2], learners: [3], retired: [4] };
  s.applySnapshot({ meta: { index: 20, term: 5, conf }, data: new Uint8Array([9]) });
  expect(s.firstIndex()).toBe(21);
  expect(s.lastIndex()).toBe(20);
  expect(s.term(20)).toBe(5);
  expect(s.initialState().conf.learners).toEqual([3]);
  expect(storageErrorCode(() => s.entries(4, 5))).toBe('compacted');
  s.append([entry(21, 5)]);
  expect(s.lastIndex()).toBe(21);
  const stale = { meta: { index: 10, term: 5, conf }, data: new Uint8Array() };
  expect(storageErrorCode(() => s.applySnapshot(stale))).toBe('snapshot_out_of_date');
}

/** The cases, by name; each function's doc comment says what it proves. */
const contractCases: [string, (s: StorageUnderTest) => void][] = [
  ['starts empty', startsEmpty],
  ['appends and reads back', appendsAndReadsBack],
  ['append replaces the suffix', appendReplacesSuffix],
  ['hard state and conf round-trip', hardStateAndConfRoundTrip],
  ['snapshot then compact', snapshotThenCompact],
  ['applySnapshot replaces the log', applySnapshotReplacesLog],
];

export function runStorageContract(name: string, makeStorage: () => StorageUnderTest): void {
  describe(`RaftStorage contract: ${name}`, () => {
    for (const [caseName, body] of contractCases) {
      // Proves the property stated on the case's function (see contractCases).
      test(caseName, () => {
        const s = makeStorage();
        try {
          body(s);
        } finally {
          s.close?.();
        }
      });
    }
  });
}
