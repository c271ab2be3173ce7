/**
 * The node's view of its log: the stable part in RaftStorage plus an unstable tail (and
 * maybe a snapshot) that the caller has not persisted yet. Shape learned from etcd's
 * raftLog/unstable; plain data with functions (STYLE.md rule 13).
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import { type Entry, type RaftStorage, RaftStorageError, type Snapshot } from './types.ts';

export interface RaftLog {
  storage: RaftStorage;
  /** A snapshot received from the leader and not yet persisted. */
  unstableSnapshot: Snapshot | null;
  /** Index of unstableEntries[0]. */
  unstableOffset: number;
  unstableEntries: Entry[];
  /** Highest index known committed. */
  committed: number;
  /** Highest index handed out in a Ready (committed entries or a snapshot). */
  applying: number;
  /** Highest index the caller confirmed applied (through advance). */
  applied: number;
}

export function createRaftLog(storage: RaftStorage, committed: number): RaftLog {
  const lastIndex = storage.lastIndex();
  assert(committed <= lastIndex, `hard state commit ${committed} beyond last index ${lastIndex}`);
  // The snapshot is the state machine's starting point, and its conf is the membership the
  // storage restarts with (initialState). Resuming at the snapshot index, not at the first
  // entry still held (compaction may keep some entries below the snapshot), keeps the two
  // in step: replaying a config entry the snapshot already covers would briefly put an
  // older membership in force. Committed entries after the snapshot are handed out again
  // after a restart (the caller's apply must tolerate replay), config changes included.
  const resumeIndex = Math.max(storage.firstIndex() - 1, storage.snapshot().meta.index);
  return {
    storage,
    unstableSnapshot: null,
    unstableOffset: lastIndex + 1,
    unstableEntries: [],
    committed: Math.max(committed, resumeIndex),
    applying: resumeIndex,
    applied: resumeIndex,
  };
}

export function firstIndex(log: RaftLog): number {
  if (log.unstableSnapshot) return log.unstableSnapshot.meta.index + 1;
  return log.storage.firstIndex();
}

export function lastIndex(log: RaftLog): number {
  if (log.unstableEntries.length > 0) return log.unstableOffset + log.unstableEntries.length - 1;
  if (log.unstableSnapshot) return log.unstableSnapshot.meta.index;
  return log.storage.lastIndex();
}

/** Term of entry `index`, or null when it was compacted or is beyond the log. */
export function termAt(log: RaftLog, index: number): number | null {
  if (index === 0) return 0;
  if (index > lastIndex(log)) return null;
  if (index >= log.unstableOffset) {
    const e = log.unstableEntries[index - log.unstableOffset];
    if (e) return e.term;
  }
  const snap = log.unstableSnapshot;
  if (snap) return index === snap.meta.index ? snap.meta.term : null;
  try {
    return log.storage.term(index);
  } catch (err) {
    if (err instanceof RaftStorageError && err.code === 'compacted') return null;
    throw err;
  }
}

export function lastTerm(log: RaftLog): number {
  const t = termAt(log, lastIndex(log));
  assert(t !== null, 'the last entry always has a term');
  return t;
}

export function matchTerm(log: RaftLog, index: number, term: number): boolean {
  return termAt(log, index) === term;
}

/** §5.4.1: a candidate's log is at least as up-to-date as ours. */
export function isUpToDate(log: RaftLog, candLastIndex: number, candLastTerm: number): boolean {
  const ourTerm = lastTerm(log);
  return candLastTerm > ourTerm || (candLastTerm === ourTerm && candLastIndex >= lastIndex(log));
}

/** Entries in [lo, hi), or null when lo was compacted (the caller sends a snapshot). */
export function entriesIn(log: RaftLog, lo: number, hi: number): Entry[] | null {
  if (lo < firstIndex(log)) return null;
  const end = Math.min(hi, lastIndex(log) + 1);
  if (lo >= end) return [];
  const out: Entry[] = [];
  if (lo < log.unstableOffset) {
    out.push(...log.storage.entries(lo, Math.min(end, log.unstableOffset)));
  }
  if (end > log.unstableOffset) {
    const from = Math.max(lo, log.unstableOffset) - log.unstableOffset;
    out.push(...log.unstableEntries.slice(from, end - log.unstableOffset));
  }
  return out;
}

/** Appends entries to the unstable tail, truncating any conflicting suffix first. */
export function appendEntries(log: RaftLog, entries: Entry[]): void {
  const head = entries[0];
  if (!head) return;
  assert(head.index > log.committed, `append at ${head.index} would overwrite committed`);
  assert(head.index <= lastIndex(log) + 1, `append at ${head.index} leaves a gap`);
  const tailEnd = log.unstableOffset + log.unstableEntries.length;
  if (head.index === tailEnd) {
    log.unstableEntries.push(...entries);
  } else if (head.index <= log.unstableOffset) {
    // Replaces stable entries too: Ready.entries will start at head.index and storage
    // replaces its suffix from there.
    log.unstableOffset = head.index;
    log.unstableEntries = [...entries];
  } else {
    log.unstableEntries = log.unstableEntries.slice(0, head.index - log.unstableOffset);
    log.unstableEntries.push(...entries);
  }
}

/**
 * The first index among `entries` whose term differs from ours (or which we lack), or 0
 * when all are already present (§5.3: only a conflict may truncate the log).
 */
export function findConflict(log: RaftLog, entries: Entry[]): number {
  for (const e of entries) {
    if (!matchTerm(log, e.index, e.term)) return e.index;
  }
  return 0;
}

/**
 * Fast backtracking (thesis §5.3 optimisation, as in etcd): the largest index <= `index`
 * whose term is <= `term`, with that term. A leader probing at (index, term) can skip
 * every entry of a term that cannot match. Stops at the compaction point.
 */
export function findConflictByTerm(log: RaftLog, index: number, term: number): [number, number] {
  const floor = firstIndex(log) - 1;
  const from = Math.min(index, lastIndex(log));
  for (let i = from; i >= floor; i--) {
    const t = termAt(log, i);
    if (t === null) break;
    if (t <= term) return [i, t];
  }
  // The answer lies in the compacted prefix: below both `from` and the compaction point,
  // with an unknown term. A leader probing there finds it compacted and sends a snapshot.
  return [Math.max(0, Math.min(from, floor - 1)), 0];
}

export function commitTo(log: RaftLog, index: number): boolean {
  if (index <= log.committed) return false;
  assert(index <= lastIndex(log), `commit ${index} beyond last index ${lastIndex(log)}`);
  log.committed = index;
  return true;
}

/** Committed entries not yet handed out, at most raftApplyBatchMax of them. */
export function nextCommittedEntries(log: RaftLog): Entry[] {
  if (log.committed <= log.applying) return [];
  const hi = Math.min(log.committed, log.applying + limits.raftApplyBatchMax) + 1;
  const out = entriesIn(log, log.applying + 1, hi);
  assert(out !== null, 'committed entries past applied are never compacted');
  return out;
}

/** Installs a snapshot received from the leader: the whole log is replaced by it. */
export function restoreSnapshot(log: RaftLog, snap: Snapshot): void {
  log.unstableSnapshot = snap;
  log.unstableOffset = snap.meta.index + 1;
  log.unstableEntries = [];
  log.committed = snap.meta.index;
  // The snapshot replaces the state machine; nothing below it is handed out again.
  log.applying = snap.meta.index;
}

/** The caller persisted entries up to (index, term); drop them from the unstable tail. */
export function stableTo(log: RaftLog, index: number, term: number): void {
  if (index < log.unstableOffset) return;
  if (termAt(log, index) !== term) return; // replaced since that Ready; still unstable
  const dropped = index + 1 - log.unstableOffset;
  log.unstableEntries = log.unstableEntries.slice(dropped);
  log.unstableOffset = index + 1;
}

export function stableSnapshotTo(log: RaftLog, index: number): void {
  if (log.unstableSnapshot && log.unstableSnapshot.meta.index === index) {
    log.unstableSnapshot = null;
  }
}

/** The snapshot to send a lagging follower: the pending one, else the stored one. */
export function currentSnapshot(log: RaftLog): Snapshot {
  return log.unstableSnapshot ?? log.storage.snapshot();
}
