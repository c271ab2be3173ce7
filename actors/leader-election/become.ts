/**
 * Role changes happen only here (STYLE.md rule 2), and each asserts that the transition
 * is legal: follower → pre_candidate → candidate → leader, and anything → follower.
 */
import { assert } from '../../src/core/assert.ts';
import { newProgress } from './progress.ts';
import { lastIndex } from './raft-log.ts';
import { appendAsLeader, broadcastAppend } from './replicate.ts';
import {
  isLearner,
  isPromotable,
  peersOf,
  type RaftState,
  resetRandomizedElectionTicks,
} from './state.ts';
import type { NodeId } from './types.ts';

/** Clears per-term and per-role state; a new term also clears the vote (§5.1). */
function reset(s: RaftState, term: number): void {
  if (term !== s.term) {
    assert(term > s.term, `terms only grow: ${s.term} -> ${term}`);
    s.term = term;
    s.vote = 0;
  }
  s.leaderId = 0;
  s.electionElapsedTicks = 0;
  s.heartbeatElapsedTicks = 0;
  resetRandomizedElectionTicks(s);
  s.leadTransferee = 0;
  s.votes = new Map();
  s.progress = new Map();
  s.pendingConfIndex = 0;
  // Reads in flight are abandoned on any role change: their callers time out and retry
  // against the new leader (as in etcd); answering them could break linearizability.
  s.readsAwaitingCommit = [];
  s.pendingReads = [];
}

export function becomeFollower(s: RaftState, term: number, leaderId: NodeId): void {
  reset(s, term);
  s.role = 'follower';
  s.leaderId = leaderId;
}

export function becomePreCandidate(s: RaftState): void {
  assert(s.role !== 'leader', 'a leader never becomes a pre-candidate');
  assert(isPromotable(s), 'only voters campaign');
  // Pre-vote (thesis §9.6) changes neither the term nor the vote: a node that cannot win
  // (for instance one cut off by a partition) leaves the cluster's term untouched.
  s.role = 'pre_candidate';
  s.votes = new Map();
  s.leaderId = 0;
  s.electionElapsedTicks = 0;
  resetRandomizedElectionTicks(s);
}

export function becomeCandidate(s: RaftState): void {
  assert(s.role !== 'leader', 'a leader never becomes a candidate');
  assert(isPromotable(s), 'only voters campaign');
  reset(s, s.term + 1);
  s.role = 'candidate';
  s.vote = s.id;
}

export function becomeLeader(s: RaftState): void {
  assert(s.role === 'candidate', `only a candidate becomes leader, not a ${s.role}`);
  reset(s, s.term);
  s.role = 'leader';
  s.leaderId = s.id;
  const next = lastIndex(s.log) + 1;
  const self = newProgress(next, false);
  self.match = next - 1;
  self.recentActive = true;
  s.progress.set(s.id, self);
  for (const id of peersOf(s)) s.progress.set(id, newProgress(next, isLearner(s.conf, id)));
  // Entries of earlier terms may hold a config change that is not applied yet; a new one
  // must wait until everything up to here is applied (one change at a time).
  s.pendingConfIndex = next - 1;
  // §5.4.2 / §8: a no-op in the new term lets the leader commit (and so learn the commit
  // index of) everything before it, which ReadIndex and conf changes wait for.
  appendAsLeader(s, 'noop', '');
  broadcastAppend(s);
}
