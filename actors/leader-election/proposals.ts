/**
 * Proposals (§5.3), membership proposals (§6) and leadership transfer (thesis §3.10).
 * Refusals are values with a stable code, never exceptions.
 */
import { confChangeProblem, nextConf } from './membership.ts';
import { lastIndex } from './raft-log.ts';
import {
  appendAsLeader,
  broadcastAppend,
  committedInCurrentTerm,
  maybeSendAppend,
  sendTimeoutNow,
} from './replicate.ts';
import { isVoter, type RaftState, send } from './state.ts';
import type { ConfChange, NodeId, ProposeResult } from './types.ts';

/** Leader: append. Follower that knows the leader: forward and say where it went. */
export function propose(s: RaftState, data: string): ProposeResult {
  if (s.role !== 'leader') {
    if (s.leaderId !== 0) send(s, { type: 'forward', to: s.leaderId, term: s.term, data });
    return { ok: false, code: 'not_leader', leaderHint: s.leaderId };
  }
  const refused = leaderRefusal(s);
  if (refused) return refused;
  const entry = appendAsLeader(s, 'normal', data);
  broadcastAppend(s);
  return { ok: true, index: entry.index, term: entry.term };
}

export function proposeConfChange(s: RaftState, cc: ConfChange): ProposeResult {
  if (s.role !== 'leader') return { ok: false, code: 'not_leader', leaderHint: s.leaderId };
  const refused = leaderRefusal(s);
  if (refused) return refused;
  if (s.pendingConfIndex > s.log.applying) {
    return dropped('a membership change is still pending');
  }
  if (!committedInCurrentTerm(s)) {
    return dropped('the leader has not committed an entry in its term yet');
  }
  const problem = confChangeProblem(s.conf, cc);
  if (problem) return dropped(problem);
  const entry = appendAsLeader(s, 'config', JSON.stringify({ ...cc, conf: nextConf(s.conf, cc) }));
  s.pendingConfIndex = entry.index;
  broadcastAppend(s);
  return { ok: true, index: entry.index, term: entry.term };
}

function leaderRefusal(s: RaftState): ProposeResult | null {
  if (s.leadTransferee !== 0) return dropped('leadership transfer in progress');
  // Bounded uncommitted log: a leader cut off from its quorum must not grow without end.
  if (lastIndex(s.log) - s.log.committed >= s.config.maxUncommittedEntries) {
    return dropped('too many uncommitted entries');
  }
  return null;
}

function dropped(reason: string): ProposeResult {
  return { ok: false, code: 'proposal_dropped', reason };
}

/**
 * Hands leadership to `to` (thesis §3.10): stop accepting proposals, bring `to` up to
 * date, then send TimeoutNow so it campaigns at once. Abandoned after an election timeout
 * (see tickLeader). Ignored on a non-leader or for a target that is not a voter.
 */
export function transferLeadership(s: RaftState, to: NodeId): void {
  if (s.role !== 'leader' || to === s.id || !isVoter(s.conf, to)) return;
  if (s.leadTransferee === to) return;
  const pr = s.progress.get(to);
  if (!pr) return;
  s.leadTransferee = to;
  // The transfer gets one election timeout to finish, counted from now.
  s.electionElapsedTicks = 0;
  if (pr.match === lastIndex(s.log)) sendTimeoutNow(s, to);
  else maybeSendAppend(s, to, true);
}
