/**
 * Linearizable reads without writing to the log (thesis §6.4, ReadIndex):
 *
 * 1. The leader must have committed an entry of its own term, so its commit index is at
 *    least that of every earlier leader. Until then reads wait (readsAwaitingCommit).
 * 2. It records the commit index as the read index.
 * 3. It confirms it is still the leader with a heartbeat round carrying the request id;
 *    once a quorum of voters answered, no newer leader could have committed anything
 *    when the read index was taken.
 * 4. It hands out ReadState{requestId, index}; the caller serves the read once its state
 *    machine applied `index`.
 *
 * With `leaseReads` (which requires checkQuorum) step 3 is skipped: check-quorum makes a
 * leader step down within an election timeout of losing its quorum, and followers refuse
 * to elect anyone while they heard from it within one, so its lease covers the read as
 * long as clocks on different nodes run at about the same rate.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import { broadcastHeartbeat, committedInCurrentTerm } from './replicate.ts';
import { isVoter, quorumSize, type RaftState } from './state.ts';
import type { NodeId } from './types.ts';

export type ReadIndexResult =
  | { ok: true }
  | { ok: false; code: 'not_leader'; leaderHint: NodeId }
  | { ok: false; code: 'read_dropped'; reason: string };

export function requestReadIndex(s: RaftState, requestId: string): ReadIndexResult {
  if (s.role !== 'leader') return { ok: false, code: 'not_leader', leaderHint: s.leaderId };
  const pending = s.readsAwaitingCommit.length + s.pendingReads.length;
  if (pending >= limits.raftReadIndexPendingMax) {
    return { ok: false, code: 'read_dropped', reason: 'too many reads awaiting confirmation' };
  }
  if (!committedInCurrentTerm(s)) {
    s.readsAwaitingCommit.push(requestId);
    return { ok: true };
  }
  startRead(s, requestId);
  return { ok: true };
}

function startRead(s: RaftState, requestId: string): void {
  const index = s.log.committed;
  if (quorumSize(s.conf) === 1 || s.config.leaseReads === true) {
    s.readStates.push({ requestId, index });
    return;
  }
  s.pendingReads.push({ requestId, index, acks: new Set([s.id]) });
  broadcastHeartbeat(s, requestId);
}

/** Called when the commit index advances: reads waiting for a term commit may start. */
export function releaseReadsAwaitingCommit(s: RaftState): void {
  if (s.readsAwaitingCommit.length === 0 || !committedInCurrentTerm(s)) return;
  const waiting = s.readsAwaitingCommit;
  s.readsAwaitingCommit = [];
  for (const requestId of waiting) startRead(s, requestId);
}

/**
 * A voter echoed `requestId` in a heartbeat response. A quorum for one read confirms
 * every read queued before it too (their heartbeats went out earlier).
 */
export function handleReadAck(s: RaftState, from: NodeId, requestId: string): void {
  if (!isVoter(s.conf, from)) return;
  const at = s.pendingReads.findIndex((r) => r.requestId === requestId);
  if (at < 0) return;
  const read = s.pendingReads[at];
  assert(read, 'found index is in range');
  read.acks.add(from);
  const votersAcked = [...read.acks].filter((id) => isVoter(s.conf, id)).length;
  if (votersAcked < quorumSize(s.conf)) return;
  const confirmed = s.pendingReads.splice(0, at + 1);
  for (const r of confirmed) s.readStates.push({ requestId: r.requestId, index: r.index });
}
