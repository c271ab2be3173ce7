/**
 * Follower (and learner) behaviour: accept the leader's appends and heartbeats (§5.3),
 * snapshots (§7), and TimeoutNow from a leader handing over leadership.
 */

import { assert } from '../../src/core/assert.ts';
import { campaign } from './election.ts';
import {
  appendEntries,
  commitTo,
  findConflict,
  findConflictByTerm,
  lastIndex,
  matchTerm,
} from './raft-log.ts';
import { handleSnapshotChunk } from './snapshot-receive.ts';
import { isPromotable, type RaftState, send } from './state.ts';
import type { RaftMessage } from './types.ts';

type Append = Extract<RaftMessage, { type: 'append' }>;
type Heartbeat = Extract<RaftMessage, { type: 'heartbeat' }>;

export function stepFollower(s: RaftState, m: RaftMessage): void {
  switch (m.type) {
    case 'append':
      heardFromLeader(s, m.from);
      handleAppend(s, m);
      return;
    case 'heartbeat':
      heardFromLeader(s, m.from);
      handleHeartbeat(s, m);
      return;
    case 'snapshot':
      heardFromLeader(s, m.from);
      handleSnapshotChunk(s, m);
      return;
    case 'timeout_now':
      // The leader chose us (leadership transfer): campaign at once, skipping pre-vote
      // and asking voters to ignore their lease, since the leader is stepping aside.
      if (isPromotable(s)) campaign(s, true);
      return;
    default:
      return; // responses meant for a leader or candidate we no longer are
  }
}

function heardFromLeader(s: RaftState, leaderId: number): void {
  s.electionElapsedTicks = 0;
  s.leaderId = leaderId;
}

/** §5.3: accept entries only if our log holds (prevIndex, prevTerm); else give a hint. */
export function handleAppend(s: RaftState, m: Append): void {
  if (!entriesAreContiguous(m)) return; // malformed: drop rather than corrupt the log
  if (m.prevIndex < s.log.committed) {
    // Everything up to our commit index is known to match; report where we are.
    replyAppend(s, m.from, true, s.log.committed, 0, 0);
    return;
  }
  if (matchTerm(s.log, m.prevIndex, m.prevTerm)) {
    const lastNewIndex = m.prevIndex + m.entries.length;
    const conflict = findConflict(s.log, m.entries);
    if (conflict !== 0) {
      // Only a conflicting suffix is replaced; entries we already hold stay (a delayed,
      // shorter append must not truncate what a later one added).
      assert(conflict > s.log.committed, `conflict at ${conflict} below commit`);
      appendEntries(s.log, m.entries.slice(conflict - m.prevIndex - 1));
    }
    commitTo(s.log, Math.min(m.commit, lastNewIndex));
    replyAppend(s, m.from, true, lastNewIndex, 0, 0);
    return;
  }
  // Fast backtracking: point the leader at our last entry whose term is <= prevTerm, so
  // it can skip a whole term of mismatching entries in one round trip.
  const probeFrom = Math.min(m.prevIndex, lastIndex(s.log));
  const [hintIndex, hintTerm] = findConflictByTerm(s.log, probeFrom, m.prevTerm);
  replyAppend(s, m.from, false, m.prevIndex, hintIndex, hintTerm);
}

function entriesAreContiguous(m: Append): boolean {
  return m.entries.every((e, i) => e.index === m.prevIndex + 1 + i && e.term <= m.term);
}

function replyAppend(
  s: RaftState,
  to: number,
  success: boolean,
  index: number,
  rejectHint: number,
  rejectHintTerm: number,
): void {
  send(s, { type: 'append_resp', to, term: s.term, success, index, rejectHint, rejectHintTerm });
}

function handleHeartbeat(s: RaftState, m: Heartbeat): void {
  // The leader caps the commit index at what it knows we hold, so it is safe to take.
  commitTo(s.log, Math.min(m.commit, lastIndex(s.log)));
  if (m.context === undefined) send(s, { type: 'heartbeat_resp', to: m.from, term: s.term });
  else send(s, { type: 'heartbeat_resp', to: m.from, term: s.term, context: m.context });
}
