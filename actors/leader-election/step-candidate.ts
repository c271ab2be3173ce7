/**
 * Pre-candidate and candidate behaviour (§5.2): count answers; a leader of our term
 * (or, for a pre-candidate, of the term we are in) makes us a follower.
 */
import { becomeFollower } from './become.ts';
import { handleVoteResponse } from './election.ts';
import type { RaftState } from './state.ts';
import { stepFollower } from './step-follower.ts';
import type { RaftMessage } from './types.ts';

export function stepCandidate(s: RaftState, m: RaftMessage): void {
  switch (m.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      // §5.2: another node won this term; recognise it and handle its message.
      becomeFollower(s, m.term, m.from);
      stepFollower(s, m);
      return;
    case 'vote_resp':
      handleVoteResponse(s, m);
      return;
    default:
      return; // TimeoutNow and leader-bound responses mean nothing while campaigning
  }
}
