/**
 * The shared contract every RaftStorage implementation runs (hono's pattern of one test
 * suite for interchangeable implementations): MemoryStorage here, the SQLite storage in
 * src/raft/. Call `runStorageContract(name, make, reopen)` from a *.test.ts file.
 *
 * The restart cases boot the real core over the reopened storage, so they prove the
 * whole restart path: what `initialState` reports, where the core resumes, and that
 * replaying the committed config entries after the snapshot rebuilds the membership.
 */
import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import { createPrng } from '../../src/core/prng.ts';
import { defaultRaftConfig } from './config.ts';
import { createRaft, type RaftNode } from './index.ts';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type NodeId,
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

/**
 * Opens the same durable store again, as a restarted node would (closing the old handle
 * first when it has one). An in-memory store that survives "crashes" returns itself.
 */
export type ReopenStorage = (s: StorageUnderTest) => StorageUnderTest;

/** One case's view of its store: the current handle, and a way to restart onto it. */
export interface ContractRun {
  readonly storage: StorageUnderTest;
  /** Closes and reopens the store; `storage` is the new handle afterwards. */
  restart(): StorageUnderTest;
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

/** A committed config entry as the leader writes it: the change and the membership it produces. */
function confEntry(index: number, term: number, change: ConfChange, after: ConfState): Entry {
  return { index, term, kind: 'config', data: JSON.stringify({ ...change, conf: after }) };
}

/** The membership of the restart scenarios: bootstrap, then a learner, then a removal. */
const bootConf: ConfState = { voters: [1, 2, 3], learners: [] };
const withLearner4: ConfState = { voters: [1, 2, 3], learners: [4] };
const without3: ConfState = { voters: [1, 2], learners: [4], retired: [3] };
const promoted4: ConfState = { voters: [1, 2, 4], learners: [], retired: [3] };

/**
 * Bootstraps voters 1..3 and writes a log with two membership changes: add learner 4
 * (index 3), remove 3 (index 5), promote 4 (index 7), normal entries between, term 1.
 */
function writeChangingLog(s: StorageUnderTest, commit: number): void {
  s.setConf(bootConf);
  s.append([
    { index: 1, term: 1, kind: 'noop', data: '' },
    entry(2, 1),
    confEntry(3, 1, { op: 'add_learner', node: 4 }, withLearner4),
    entry(4, 1),
    confEntry(5, 1, { op: 'remove', node: 3 }, without3),
    entry(6, 1),
    confEntry(7, 1, { op: 'promote', node: 4 }, promoted4),
    entry(8, 1),
  ]);
  s.setHardState({ term: 1, vote: 1, commit });
}

/** Boots the real core over `s` as node `id` (a restart). */
function bootNode(s: StorageUnderTest, id: NodeId): RaftNode {
  return createRaft(defaultRaftConfig(id), s, createPrng(id));
}

/** Runs the node's Ready loop as the driver does; returns the committed entries handed out. */
function drainReady(node: RaftNode, s: StorageUnderTest): Entry[] {
  const handedOut: Entry[] = [];
  for (let round = 0; round < limits.raftReadyRoundsMax && node.hasReady(); round++) {
    const rd = node.ready();
    if (rd.snapshot) s.applySnapshot(rd.snapshot);
    s.append(rd.entries);
    if (rd.hardState) s.setHardState(rd.hardState);
    handedOut.push(...rd.committedEntries);
    node.advance(rd);
  }
  expect(node.hasReady()).toBe(false);
  return handedOut;
}

/**
 * Proves the reported bug is gone: after a snapshot and the compaction of the config
 * entries it covers, a restart starts from the snapshot's membership (retired ids
 * included), never from the bootstrap voters, and the core hands out only what follows.
 */
function restartAfterCompactionKeepsSnapshotConf(run: ContractRun): void {
  writeChangingLog(run.storage, 6);
  run.storage.createSnapshot(6, without3, new Uint8Array([6]));
  run.storage.compact(6);
  const s = run.restart();
  expect(s.initialState().conf).toEqual(without3);
  const node = bootNode(s, 1);
  expect(node.status().conf).toEqual(without3);
  expect(drainReady(node, s)).toEqual([]);
  expect(node.status()).toMatchObject({ applied: 6, commit: 6, conf: without3 });
}

/**
 * Proves a change the node applied after its latest snapshot is rebuilt on restart by
 * replaying the committed config entries after the snapshot (here the snapshot was
 * taken before two changes, at index 4, and compaction dropped index 3's change).
 */
function restartReplaysChangesAfterSnapshot(run: ContractRun): void {
  writeChangingLog(run.storage, 8);
  run.storage.createSnapshot(4, withLearner4, new Uint8Array([4]));
  run.storage.compact(4);
  const s = run.restart();
  expect(s.initialState().conf).toEqual(withLearner4);
  const node = bootNode(s, 1);
  const replayed = drainReady(node, s);
  expect(replayed.map((e) => e.index)).toEqual([5, 6, 7, 8]);
  expect(node.status().conf).toEqual(promoted4);
}

/**
 * Proves config entries held but beyond the persisted commit index (a commit-only write
 * may be lost in a crash) take effect once the leader advances the commit index again,
 * and not before: until then the node keeps the snapshot's membership.
 */
function changesBeyondPersistedCommitApplyLater(run: ContractRun): void {
  writeChangingLog(run.storage, 4);
  run.storage.createSnapshot(4, withLearner4, new Uint8Array([4]));
  run.storage.compact(2);
  const s = run.restart();
  const node = bootNode(s, 1);
  expect(drainReady(node, s)).toEqual([]);
  expect(node.status().conf).toEqual(withLearner4);
  node.step({ type: 'heartbeat', from: 2, to: 1, term: 1, commit: 8 });
  expect(drainReady(node, s).map((e) => e.index)).toEqual([5, 6, 7, 8]);
  expect(node.status().conf).toEqual(promoted4);
  expect(s.initialState().hardState.commit).toBe(8);
}

/**
 * Proves the core resumes at the snapshot, not at the first entry still held, when
 * compaction keeps entries below the snapshot: the config entries the snapshot covers
 * are not replayed, so an older membership is never put back in force, even briefly.
 */
function restartResumesAtSnapshotNotFirstEntry(run: ContractRun): void {
  writeChangingLog(run.storage, 8);
  run.storage.createSnapshot(7, promoted4, new Uint8Array([7]));
  const s = run.restart();
  expect(s.firstIndex()).toBe(1);
  expect(s.initialState().conf).toEqual(promoted4);
  const node = bootNode(s, 4);
  expect(node.status()).toMatchObject({ role: 'follower', applied: 7, conf: promoted4 });
  expect(drainReady(node, s).map((e) => e.index)).toEqual([8]);
  expect(node.status().conf).toEqual(promoted4);
}

/**
 * Proves a learner that joined with an empty conf and was caught up by a snapshot
 * restarts as a learner of the snapshot's membership (retired ids kept), then replays
 * its promotion committed after the snapshot.
 */
function joinerWithSnapshotRestartsFromIt(run: ContractRun): void {
  const atSnapshot: ConfState = { voters: [1, 2, 3], learners: [4], retired: [5] };
  const afterPromote: ConfState = { voters: [1, 2, 3, 4], learners: [], retired: [5] };
  run.storage.applySnapshot({
    meta: { index: 10, term: 2, conf: atSnapshot },
    data: new Uint8Array([10]),
  });
  run.storage.append([confEntry(11, 2, { op: 'promote', node: 4 }, afterPromote)]);
  run.storage.setHardState({ term: 2, vote: 0, commit: 11 });
  const s = run.restart();
  expect(s.initialState().conf).toEqual(atSnapshot);
  const node = bootNode(s, 4);
  expect(node.status().role).toBe('learner');
  expect(drainReady(node, s).map((e) => e.index)).toEqual([11]);
  expect(node.status()).toMatchObject({ role: 'follower', conf: afterPromote });
}

/**
 * Proves `setConf` is the bootstrap membership only: once a snapshot exists, a later
 * `setConf` (say, of the conf a driver just applied) does not change where a restart
 * starts, which must stay in step with where the core resumes applying.
 */
function setConfDoesNotOverrideSnapshotConf(run: ContractRun): void {
  writeChangingLog(run.storage, 8);
  run.storage.createSnapshot(4, withLearner4, new Uint8Array([4]));
  run.storage.setConf(promoted4);
  const s = run.restart();
  expect(s.initialState().conf).toEqual(withLearner4);
  const node = bootNode(s, 1);
  drainReady(node, s);
  expect(node.status().conf).toEqual(promoted4);
}

type ContractCase = (run: ContractRun) => void;

/** Adapts a case that needs only the store, not a restart. */
function onStore(body: (s: StorageUnderTest) => void): ContractCase {
  return (run) => body(run.storage);
}

/** The cases, by name; each function's doc comment says what it proves. */
const contractCases: [string, ContractCase][] = [
  ['starts empty', onStore(startsEmpty)],
  ['appends and reads back', onStore(appendsAndReadsBack)],
  ['append replaces the suffix', onStore(appendReplacesSuffix)],
  ['hard state and conf round-trip', onStore(hardStateAndConfRoundTrip)],
  ['snapshot then compact', onStore(snapshotThenCompact)],
  ['applySnapshot replaces the log', onStore(applySnapshotReplacesLog)],
  ['restart after compaction keeps the snapshot conf', restartAfterCompactionKeepsSnapshotConf],
  ['restart replays changes after the snapshot', restartReplaysChangesAfterSnapshot],
  ['changes beyond the persisted commit apply later', changesBeyondPersistedCommitApplyLater],
  ['restart resumes at the snapshot, not the first entry', restartResumesAtSnapshotNotFirstEntry],
  ['a joiner restored from a snapshot restarts from it', joinerWithSnapshotRestartsFromIt],
  ['setConf does not override the snapshot conf', setConfDoesNotOverrideSnapshotConf],
];

/**
 * Registers the contract for one implementation. `reopen` defaults to the identity, for
 * in-memory stores that outlive the node that uses them.
 */
export function runStorageContract(
  name: string,
  makeStorage: () => StorageUnderTest,
  reopen: ReopenStorage = (s) => s,
): void {
  describe(`RaftStorage contract: ${name}`, () => {
    for (const [caseName, body] of contractCases) {
      // Proves the property stated on the case's function (see contractCases).
      test(caseName, () => {
        let storage = makeStorage();
        const run: ContractRun = {
          get storage() {
            return storage;
          },
          restart() {
            storage = reopen(storage);
            return storage;
          },
        };
        try {
          body(run);
        } finally {
          storage.close?.();
        }
      });
    }
  });
}
