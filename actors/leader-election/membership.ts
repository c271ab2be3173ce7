/**
 * Membership changes (§6; Ongaro's thesis §4.1): one server at a time.
 *
 * Why single-server changes instead of joint consensus: when the configuration changes by
 * one voter, every majority of the old configuration overlaps every majority of the new
 * one, so the two can never elect separate leaders, and no intermediate joint
 * configuration is needed. It is simpler to implement and to reason about, and it is
 * safe as long as changes happen one at a time — which is all Berth needs: workers join
 * as learners and are promoted one by one. Two rules make it safe here:
 *
 * - one change at a time: a new change is refused until the previous one was applied;
 * - a new leader must commit an entry of its own term (its no-op) before proposing a
 *   change; without it, a change from an earlier term that never committed could be
 *   overridden by a different one (the bug reported on raft-dev in 2015 and fixed in
 *   the thesis errata).
 *
 * A change takes effect when its entry is committed and handed out in committedEntries.
 * The entry carries the change and the whole membership it produces (`conf`): the
 * initial voters are bootstrapped in storage, not in the log, so a node that joins with
 * an empty configuration learns the full membership from the first change it applies
 * (or from a snapshot).
 *
 * Node ids are never reused: a removed id is kept in `conf.retired` (carried in
 * snapshots) and adding it again is refused, so a stale process with an old id can never
 * be mistaken for a fresh member.
 */
import { becomeFollower } from './become.ts';
import { newProgress } from './progress.ts';
import { lastIndex } from './raft-log.ts';
import { broadcastAppend, maybeCommit, maybeSendAppend } from './replicate.ts';
import type { RaftState } from './state.ts';
import type { ConfChange, ConfState, NodeId } from './types.ts';

/** Why `cc` cannot be proposed against `conf`, or null when it can. */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | null {
  const retired = conf.retired ?? [];
  const isVoter = conf.voters.includes(cc.node);
  const isLearner = conf.learners.includes(cc.node);
  if (!Number.isInteger(cc.node) || cc.node <= 0) return `invalid node id ${cc.node}`;
  switch (cc.op) {
    case 'add_learner':
    case 'add_voter':
      if (retired.includes(cc.node)) return `node id ${cc.node} was removed and is retired`;
      if (isVoter || (isLearner && cc.op === 'add_learner')) return `node ${cc.node} is a member`;
      return null;
    case 'promote':
      return isLearner ? null : `node ${cc.node} is not a learner`;
    case 'remove':
      if (!isVoter && !isLearner) return `node ${cc.node} is not a member`;
      if (isVoter && conf.voters.length === 1) return 'cannot remove the last voter';
      return null;
  }
}

/**
 * Applies a committed change. Replaying an already-applied change is a no-op (a restart
 * hands committed entries out again), which holds because ids are never reused.
 */
export function applyConfChange(s: RaftState, cc: ConfChange, after: ConfState | null): void {
  s.conf = after ? normalizeConf(after) : nextConf(s.conf, cc);
  if (s.role !== 'leader') return;
  if (!s.conf.voters.includes(s.id)) {
    // A leader that committed its own removal steps down; the remaining voters elect a
    // leader among themselves once their election timeouts fire.
    becomeFollower(s, s.term, 0);
    return;
  }
  const added = syncProgress(s);
  // The quorum may have shrunk (a removal): entries may now be committed.
  if (maybeCommit(s)) broadcastAppend(s);
  // Start feeding new members now rather than at the next heartbeat.
  for (const id of added) maybeSendAppend(s, id, true);
}

/** The membership `cc` produces from `conf` (stored in the config entry). */
export function nextConf(conf: ConfState, cc: ConfChange): ConfState {
  const retired = new Set(conf.retired ?? []);
  let voters = conf.voters.filter((id) => id !== cc.node);
  let learners = conf.learners.filter((id) => id !== cc.node);
  const wasVoter = voters.length !== conf.voters.length;
  const wasLearner = learners.length !== conf.learners.length;
  if (retired.has(cc.node)) return conf;
  switch (cc.op) {
    case 'add_learner':
      if (wasVoter) return conf;
      learners = [...learners, cc.node];
      break;
    case 'promote':
      if (!wasLearner) return conf;
      voters = [...voters, cc.node];
      break;
    case 'add_voter':
      voters = [...voters, cc.node];
      break;
    case 'remove':
      if (!wasVoter && !wasLearner) return conf;
      retired.add(cc.node);
      break;
  }
  const out: ConfState = { voters: sortIds(voters), learners: sortIds(learners) };
  if (retired.size > 0) out.retired = sortIds([...retired]);
  return out;
}

function normalizeConf(conf: ConfState): ConfState {
  const out: ConfState = { voters: sortIds(conf.voters), learners: sortIds(conf.learners) };
  if (conf.retired && conf.retired.length > 0) out.retired = sortIds(conf.retired);
  return out;
}

function sortIds(ids: NodeId[]): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

/** Adds progress for new members, drops it for removed ones; returns the added ids. */
function syncProgress(s: RaftState): NodeId[] {
  const added: NodeId[] = [];
  const members = new Set([...s.conf.voters, ...s.conf.learners]);
  for (const id of [...s.progress.keys()]) {
    if (!members.has(id)) s.progress.delete(id);
  }
  if (s.leadTransferee !== 0 && !s.conf.voters.includes(s.leadTransferee)) s.leadTransferee = 0;
  const next = lastIndex(s.log) + 1;
  for (const id of members) {
    const learner = s.conf.learners.includes(id);
    const pr = s.progress.get(id);
    if (pr) pr.learner = learner;
    else {
      s.progress.set(id, newProgress(next, learner));
      added.push(id);
    }
  }
  return added;
}
