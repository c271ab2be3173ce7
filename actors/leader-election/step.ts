/**
 * The one entry point for messages and ticks. `step` applies the term rules of §5.1
 * (plus pre-vote and the leader lease), then dispatches to one step function per role.
 */
import { becomeFollower } from './become.ts';
import { campaign, handleVoteRequest } from './election.ts';
import { propose } from './proposals.ts';
import { broadcastHeartbeat, tickOutgoingSnapshots } from './replicate.ts';
import { isPromotable, quorumSize, type RaftState, send } from './state.ts';
import { stepCandidate } from './step-candidate.ts';
import { stepFollower } from './step-follower.ts';
import { stepLeader } from './step-leader.ts';
import type { RaftMessage } from './types.ts';

export function step(s: RaftState, m: RaftMessage): void {
  if (m.type === 'forward') {
    // A follower's forwarded proposal is local in spirit: no term rules. Only a leader
    // acts on it; anyone else drops it (never re-forwarded, so it cannot loop).
    if (s.role === 'leader') propose(s, m.data);
    return;
  }
  if (m.term > s.term && !acceptHigherTerm(s, m)) return;
  if (m.term < s.term) {
    answerStaleTerm(s, m);
    return;
  }
  if (m.type === 'vote') {
    handleVoteRequest(s, m);
    return;
  }
  switch (s.role) {
    case 'follower':
      stepFollower(s, m);
      return;
    case 'pre_candidate':
    case 'candidate':
      stepCandidate(s, m);
      return;
    case 'leader':
      stepLeader(s, m);
      return;
  }
}

/** A message from a higher term. Returns false when it must be ignored. */
function acceptHigherTerm(s: RaftState, m: RaftMessage): boolean {
  if (m.type === 'vote') {
    // Leader stickiness (thesis §4.2.3 / §9.6): while we heard from a leader within an
    // election timeout, a vote request is from a node that lost touch (or was removed)
    // and must not disrupt the cluster. A transfer request (TimeoutNow) is the exception.
    const inLease =
      s.config.checkQuorum && s.leaderId !== 0 && s.electionElapsedTicks < s.config.electionTicks;
    if (inLease && !m.transfer) return false;
    // A pre-vote never moves our term: the pre-candidate has not moved either.
    if (m.pre) return true;
    becomeFollower(s, m.term, 0);
    return true;
  }
  // A granted pre-vote carries the term the candidate would move to, not the voter's.
  if (m.type === 'vote_resp' && m.pre && m.granted) return true;
  const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
  becomeFollower(s, m.term, fromLeader ? m.from : 0);
  return true;
}

function answerStaleTerm(s: RaftState, m: RaftMessage): void {
  if (
    (m.type === 'append' || m.type === 'heartbeat') &&
    (s.config.checkQuorum || s.config.preVote)
  ) {
    // With pre-vote or check-quorum a node can sit at a lower term than the cluster
    // without ever campaigning past it (a stale leader behind a partition). Telling it
    // our term makes it step down instead of being ignored forever.
    send(s, {
      type: 'append_resp',
      to: m.from,
      term: s.term,
      success: false,
      index: 0,
      rejectHint: 0,
      rejectHintTerm: 0,
    });
  } else if (m.type === 'vote' && m.pre) {
    // Tell a stale pre-candidate our term so it can catch up instead of retrying.
    send(s, { type: 'vote_resp', to: m.from, term: s.term, pre: true, granted: false });
  }
}

/** One logical tick: election timeouts on followers/candidates, heartbeats on leaders. */
export function tick(s: RaftState): void {
  if (s.role === 'leader') tickLeader(s);
  else tickElection(s);
}

function tickElection(s: RaftState): void {
  s.electionElapsedTicks++;
  if (isPromotable(s) && s.electionElapsedTicks >= s.randomizedElectionTicks) {
    s.electionElapsedTicks = 0;
    campaign(s, false);
  }
}

function tickLeader(s: RaftState): void {
  s.heartbeatElapsedTicks++;
  s.electionElapsedTicks++;
  tickOutgoingSnapshots(s);
  if (s.electionElapsedTicks >= s.config.electionTicks) {
    s.electionElapsedTicks = 0;
    if (s.config.checkQuorum && !quorumActive(s)) {
      // Check-quorum (thesis §6.2): a leader cut off from a majority steps down, so
      // clients stop waiting on it and lease reads stay safe.
      becomeFollower(s, s.term, 0);
      return;
    }
    // A transfer that did not finish within an election timeout is abandoned, so the
    // leader accepts proposals again.
    s.leadTransferee = 0;
  }
  if (s.heartbeatElapsedTicks >= s.config.heartbeatTicks) {
    s.heartbeatElapsedTicks = 0;
    broadcastHeartbeat(s);
  }
}

/** Whether a quorum of voters was heard from since the last check; starts a new round. */
function quorumActive(s: RaftState): boolean {
  let active = 0;
  for (const id of s.conf.voters) {
    const pr = s.progress.get(id);
    if (id === s.id || pr?.recentActive) active++;
  }
  for (const [id, pr] of s.progress) pr.recentActive = id === s.id;
  return active >= quorumSize(s.conf);
}
