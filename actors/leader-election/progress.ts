/**
 * The leader's view of one follower (§5.3, etcd's Progress): how much of the log it is
 * known to hold (`match`), what to send next (`next`), and how to send it:
 *
 * - probe: we do not know where its log diverges; send one append at a time and wait for
 *   the answer (or the next heartbeat) before sending another.
 * - replicate: its log matches ours up to `match`; stream appends optimistically, at most
 *   `maxInflightMsgs` unacknowledged at once (the pipelining window).
 * - snapshot: it needs entries we compacted; send the snapshot in chunks and nothing else.
 */
import { assert } from '../../src/core/assert.ts';
import type { SnapshotMeta } from './types.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A snapshot being streamed to a follower, one chunk in flight at a time. */
export interface OutgoingSnapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
  /** Bytes the follower confirmed it holds. */
  ackedBytes: number;
  /** Leader ticks since the last acknowledgement; a stalled chunk is resent. */
  idleTicks: number;
}

export interface Progress {
  match: number;
  next: number;
  state: ProgressState;
  /** Probe: an append is outstanding; wait for its answer or a heartbeat response. */
  probeSent: boolean;
  /** Replicate: last index of each unacknowledged append, ascending. */
  inflights: number[];
  /** Snapshot: the index of the snapshot being sent. */
  pendingSnapshot: number;
  /** Heard from since the last check-quorum round. */
  recentActive: boolean;
  learner: boolean;
  outgoingSnapshot: OutgoingSnapshot | null;
}

export function newProgress(next: number, learner: boolean): Progress {
  return {
    match: 0,
    next,
    state: 'probe',
    probeSent: false,
    inflights: [],
    pendingSnapshot: 0,
    recentActive: false,
    learner,
    outgoingSnapshot: null,
  };
}

function resetState(pr: Progress, state: ProgressState): void {
  pr.state = state;
  pr.probeSent = false;
  pr.inflights = [];
  pr.pendingSnapshot = 0;
  pr.outgoingSnapshot = null;
}

export function becomeProbe(pr: Progress): void {
  // After a snapshot, resume right after it (the follower holds everything up to it).
  const next =
    pr.state === 'snapshot' ? Math.max(pr.match + 1, pr.pendingSnapshot + 1) : pr.match + 1;
  resetState(pr, 'probe');
  pr.next = next;
}

export function becomeReplicate(pr: Progress): void {
  resetState(pr, 'replicate');
  pr.next = pr.match + 1;
}

export function becomeSnapshot(pr: Progress, snapshotIndex: number): void {
  resetState(pr, 'snapshot');
  pr.pendingSnapshot = snapshotIndex;
}

/** The follower acknowledged `index`; returns false for a stale acknowledgement. */
export function maybeUpdate(pr: Progress, index: number): boolean {
  let updated = false;
  if (pr.match < index) {
    pr.match = index;
    updated = true;
    pr.probeSent = false;
  }
  pr.next = Math.max(pr.next, index + 1);
  while (pr.inflights.length > 0 && (pr.inflights[0] ?? 0) <= index) pr.inflights.shift();
  return updated;
}

/**
 * The follower rejected an append at `rejected`; `matchHint` is where its log may match
 * (from the fast-backtracking hint). Returns false when the rejection is stale.
 */
export function maybeDecrTo(pr: Progress, rejected: number, matchHint: number): boolean {
  if (pr.state === 'replicate') {
    // In replicate, next is optimistic: a rejection at or below match is a stale answer.
    if (rejected <= pr.match) return false;
    pr.next = pr.match + 1;
    return true;
  }
  // In probe, only the answer to the outstanding probe (at next - 1) counts.
  if (pr.next - 1 !== rejected) return false;
  pr.next = Math.max(Math.min(rejected, matchHint + 1), pr.match + 1, 1);
  pr.probeSent = false;
  return true;
}

export function isPaused(pr: Progress, maxInflightMsgs: number): boolean {
  switch (pr.state) {
    case 'probe':
      return pr.probeSent;
    case 'replicate':
      return pr.inflights.length >= maxInflightMsgs;
    case 'snapshot':
      return true;
  }
}

/** Records an append carrying entries up to `lastSentIndex` (or none). */
export function sentAppend(pr: Progress, lastSentIndex: number, entryCount: number): void {
  if (pr.state === 'replicate') {
    if (entryCount > 0) {
      assert(lastSentIndex >= pr.next, 'replicate sends move next forward');
      pr.next = lastSentIndex + 1;
      pr.inflights.push(lastSentIndex);
    }
    return;
  }
  if (pr.state === 'probe') pr.probeSent = true;
}
