/**
 * Leader election (§5.2) with pre-vote (thesis §9.6) and the vote rules of §5.4.1.
 */
import { limits } from '../../src/core/limits.ts';
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate } from './become.ts';
import { entriesIn, isUpToDate, lastIndex, lastTerm } from './raft-log.ts';
import { isPromotable, isVoter, quorumSize, type RaftState, send } from './state.ts';
import type { RaftMessage } from './types.ts';

type VoteRequest = Extract<RaftMessage, { type: 'vote' }>;
type VoteResponse = Extract<RaftMessage, { type: 'vote_resp' }>;

/**
 * Starts an election: a pre-vote round first when enabled, unless `transfer` (a leader
 * handed us leadership with TimeoutNow, so there is no reason to ask first).
 */
export function campaign(s: RaftState, transfer: boolean): void {
  if (s.role === 'leader' || !isPromotable(s)) return;
  // A committed config change we have not applied yet may change who votes; campaigning
  // with a stale configuration could count the wrong quorum (etcd refuses too).
  if (hasUnappliedConfChange(s)) return;
  if (s.config.preVote && !transfer) {
    becomePreCandidate(s);
    requestVotes(s, true, false);
  } else {
    becomeCandidate(s);
    requestVotes(s, false, transfer);
  }
}

function hasUnappliedConfChange(s: RaftState): boolean {
  const { applying, committed } = s.log;
  if (committed <= applying) return false;
  // Beyond one apply batch, treat the backlog as possibly holding a change: catch up first.
  if (committed - applying > limits.raftApplyBatchMax) return true;
  const pending = entriesIn(s.log, applying + 1, committed + 1) ?? [];
  return pending.some((e) => e.kind === 'config');
}

function requestVotes(s: RaftState, pre: boolean, transfer: boolean): void {
  // A pre-vote asks "would you vote for me in the next term?" without moving to it.
  const term = pre ? s.term + 1 : s.term;
  s.votes.set(s.id, true);
  if (tallyAndAct(s)) return;
  const index = lastIndex(s.log);
  const lt = lastTerm(s.log);
  for (const id of s.conf.voters) {
    if (id === s.id) continue;
    send(s, { type: 'vote', to: id, term, pre, lastIndex: index, lastTerm: lt, transfer });
  }
}

/**
 * Answers a (pre-)vote request whose term is not below ours. We grant when we have not
 * voted for someone else in this term (for a pre-vote, when its term is ahead of ours),
 * and the candidate's log is at least as up-to-date as ours (§5.4.1).
 */
export function handleVoteRequest(s: RaftState, m: VoteRequest): void {
  // Learners (and nodes outside the configuration) never vote: only voters decide.
  const voter = isVoter(s.conf, s.id);
  const voteTwice = s.config.testBugs?.voteTwiceInTerm === true && !m.pre && s.leaderId === 0;
  const canVote =
    s.vote === m.from ||
    (s.vote === 0 && s.leaderId === 0) ||
    (m.pre && m.term > s.term) ||
    voteTwice;
  if (voter && canVote && isUpToDate(s.log, m.lastIndex, m.lastTerm)) {
    // A granted answer carries the candidate's term, so a pre-candidate does not read it
    // as stale. A real vote is recorded in HardState, which the caller fsyncs (mustSync)
    // before this response leaves (the Ready ordering contract).
    send(s, { type: 'vote_resp', to: m.from, term: m.term, pre: m.pre, granted: true });
    if (!m.pre) {
      s.electionElapsedTicks = 0;
      s.vote = m.from;
    }
    return;
  }
  send(s, { type: 'vote_resp', to: m.from, term: s.term, pre: m.pre, granted: false });
}

/** A (pre-)candidate received an answer to its request. */
export function handleVoteResponse(s: RaftState, m: VoteResponse): void {
  const pre = s.role === 'pre_candidate';
  if (m.pre !== pre) return; // an answer from an earlier round
  if (!s.votes.has(m.from)) s.votes.set(m.from, m.granted);
  tallyAndAct(s);
}

/** Moves on when the election is decided; returns whether it was. */
function tallyAndAct(s: RaftState): boolean {
  let granted = 0;
  let rejected = 0;
  for (const [id, yes] of s.votes) {
    if (!isVoter(s.conf, id)) continue;
    if (yes) granted++;
    else rejected++;
  }
  const quorum = quorumSize(s.conf);
  if (granted >= quorum) {
    if (s.role === 'pre_candidate') {
      // The pre-vote quorum says we could win: now bump the term and ask for real.
      becomeCandidate(s);
      requestVotes(s, false, false);
    } else {
      becomeLeader(s);
    }
    return true;
  }
  // Lost once enough voters refused that the rest cannot make a majority.
  if (s.conf.voters.length - rejected < quorum) {
    becomeFollower(s, s.term, 0);
    return true;
  }
  return false;
}
