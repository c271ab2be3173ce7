/**
 * The RaftNode object: wires the pure step functions to the public API and builds each
 * Ready (etcd's RawNode). The caller persists Ready.snapshot/entries/hardState, sends
 * Ready.messages, applies Ready.committedEntries, then calls advance(ready).
 */
import { assert } from '../../src/core/assert.ts';
import type { Prng } from '../../src/core/prng.ts';
import { type RaftConfig, validateRaftConfig } from './config.ts';
import { campaign } from './election.ts';
import type { RaftNode, RaftStatus } from './index.ts';
import { applyConfChange } from './membership.ts';
import { parseConfEntry } from './messages.ts';
import { becomeProbe } from './progress.ts';
import { propose, proposeConfChange, transferLeadership } from './proposals.ts';
import {
  createRaftLog,
  lastIndex,
  nextCommittedEntries,
  stableSnapshotTo,
  stableTo,
} from './raft-log.ts';
import { requestReadIndex } from './read-index.ts';
import { cloneConf } from './snapshot-receive.ts';
import { isLearner, type RaftState, resetRandomizedElectionTicks } from './state.ts';
import { step, tick } from './step.ts';
import { snapshotFinished } from './step-leader.ts';
import type { Entry, HardState, RaftStorage, Ready, Role, SoftState } from './types.ts';

export function createRaftNode(config: RaftConfig, storage: RaftStorage, prng: Prng): RaftNode {
  validateRaftConfig(config);
  const s = initialState(config, storage, prng);
  const t: ReadyTracker = {
    prevHard: hardStateOf(s),
    prevSoft: softStateOf(s),
    outstanding: false,
  };
  return {
    tick: () => tick(s),
    step: (msg) => step(s, msg),
    campaign: () => campaign(s, false),
    propose: (data) => propose(s, data),
    proposeConfChange: (cc) => proposeConfChange(s, cc),
    readIndex: (requestId) => requestReadIndex(s, requestId),
    transferLeadership: (to) => transferLeadership(s, to),
    hasReady: () => hasReady(s, t),
    ready: () => buildReady(s, t),
    advance: (rd) => advanceReady(s, t, rd),
    reportUnreachable(peer) {
      const pr = s.role === 'leader' ? s.progress.get(peer) : undefined;
      // Appends in the pipeline were probably lost: fall back to probing.
      if (pr && pr.state === 'replicate') becomeProbe(pr);
    },
    reportSnapshotDone(peer, ok) {
      const pr = s.role === 'leader' ? s.progress.get(peer) : undefined;
      if (pr) snapshotFinished(pr, ok);
    },
    status: (): RaftStatus => ({
      id: s.id,
      role: reportedRole(s),
      term: s.term,
      leaderId: s.leaderId,
      commit: s.log.committed,
      applied: s.log.applied,
      lastIndex: lastIndex(s.log),
      conf: cloneConf(s.conf),
    }),
  };
}

/** What the caller last acknowledged through advance(), to hand out only changes. */
interface ReadyTracker {
  prevHard: HardState;
  prevSoft: SoftState;
  /** A Ready was handed out and not yet advanced. */
  outstanding: boolean;
}

function hasReady(s: RaftState, t: ReadyTracker): boolean {
  return (
    !sameSoftState(softStateOf(s), t.prevSoft) ||
    !sameHardState(hardStateOf(s), t.prevHard) ||
    s.log.unstableEntries.length > 0 ||
    s.log.unstableSnapshot !== null ||
    s.msgs.length > 0 ||
    s.readStates.length > 0 ||
    s.log.committed > s.log.applying
  );
}

function buildReady(s: RaftState, t: ReadyTracker): Ready {
  assert(!t.outstanding, 'ready() called again before advance()');
  t.outstanding = true;
  // Hand out committed entries first: applying a config change may change the role or
  // send messages, which then belong to this same Ready.
  const committedEntries = handOutCommitted(s);
  const hs = hardStateOf(s);
  const rd: Ready = {
    entries: [...s.log.unstableEntries],
    // A new term or vote must be durable before any message leaves (a vote granted and
    // forgotten in a crash could elect two leaders); so must new entries before they are
    // acknowledged. A commit-index change alone can be lost and relearned.
    mustSync:
      s.log.unstableEntries.length > 0 ||
      s.log.unstableSnapshot !== null ||
      hs.term !== t.prevHard.term ||
      hs.vote !== t.prevHard.vote,
    messages: s.msgs,
    committedEntries,
    readStates: s.readStates,
  };
  if (s.log.unstableSnapshot) rd.snapshot = s.log.unstableSnapshot;
  if (!sameHardState(hs, t.prevHard)) rd.hardState = hs;
  const soft = softStateOf(s);
  if (!sameSoftState(soft, t.prevSoft)) rd.softState = soft;
  s.msgs = [];
  s.readStates = [];
  return rd;
}

function advanceReady(s: RaftState, t: ReadyTracker, rd: Ready): void {
  assert(t.outstanding, 'advance() without a ready()');
  t.outstanding = false;
  if (rd.hardState) t.prevHard = rd.hardState;
  if (rd.softState) t.prevSoft = rd.softState;
  if (rd.snapshot) {
    stableSnapshotTo(s.log, rd.snapshot.meta.index);
    s.log.applied = Math.max(s.log.applied, rd.snapshot.meta.index);
  }
  const lastEntry = rd.entries[rd.entries.length - 1];
  if (lastEntry) stableTo(s.log, lastEntry.index, lastEntry.term);
  const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
  if (lastApplied) s.log.applied = Math.max(s.log.applied, lastApplied.index);
}

function initialState(config: RaftConfig, storage: RaftStorage, prng: Prng): RaftState {
  const { hardState, conf } = storage.initialState();
  const s: RaftState = {
    config,
    prng,
    id: config.id,
    term: hardState.term,
    vote: hardState.vote,
    role: 'follower',
    leaderId: 0,
    log: createRaftLog(storage, hardState.commit),
    conf: cloneConf(conf),
    progress: new Map(),
    votes: new Map(),
    electionElapsedTicks: 0,
    heartbeatElapsedTicks: 0,
    randomizedElectionTicks: config.electionTicks,
    leadTransferee: 0,
    pendingConfIndex: 0,
    readsAwaitingCommit: [],
    pendingReads: [],
    incomingSnapshot: null,
    msgs: [],
    readStates: [],
  };
  resetRandomizedElectionTicks(s);
  return s;
}

/** Takes the next batch of committed entries and applies config changes among them. */
function handOutCommitted(s: RaftState): Entry[] {
  const entries = nextCommittedEntries(s.log);
  for (const e of entries) {
    s.log.applying = e.index;
    if (e.kind !== 'config') continue;
    const parsed = parseConfEntry(e.data);
    assert(parsed, `committed config entry ${e.index} does not parse`);
    applyConfChange(s, parsed.change, parsed.conf);
  }
  return entries;
}

function reportedRole(s: RaftState): Role {
  return s.role === 'follower' && isLearner(s.conf, s.id) ? 'learner' : s.role;
}

function hardStateOf(s: RaftState): HardState {
  return { term: s.term, vote: s.vote, commit: s.log.committed };
}

function softStateOf(s: RaftState): SoftState {
  return { leaderId: s.leaderId, role: reportedRole(s) };
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leaderId === b.leaderId && a.role === b.role;
}
