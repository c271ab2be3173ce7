/**
 * The Raft node's state: plain data that the step functions mutate. One object per node;
 * nothing here performs I/O, and randomness comes only from the injected prng.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import type { Prng } from '../../src/core/prng.ts';
import type { RaftConfig } from './config.ts';
import type { Progress } from './progress.ts';
import type { RaftLog } from './raft-log.ts';
import type { ConfState, NodeId, RaftMessage, ReadState, SnapshotMeta } from './types.ts';

/** The roles the core moves between; 'learner' is reported, not a separate state. */
export type CoreRole = 'follower' | 'pre_candidate' | 'candidate' | 'leader';

/** A ReadIndex request waiting for a quorum to confirm the leader (§6.4). */
export interface PendingRead {
  requestId: string;
  index: number;
  acks: Set<NodeId>;
}

/** A snapshot arriving in chunks from the leader. */
export interface IncomingSnapshot {
  from: NodeId;
  meta: SnapshotMeta;
  chunks: Uint8Array[];
  receivedBytes: number;
}

export interface RaftState {
  config: RaftConfig;
  prng: Prng;
  id: NodeId;
  term: number;
  /** Whom we voted for in `term`; 0 for nobody. */
  vote: NodeId;
  role: CoreRole;
  /** 0 when unknown. */
  leaderId: NodeId;
  log: RaftLog;
  /** The membership in effect: the latest one handed out in committed entries. */
  conf: ConfState;
  /** Leader only: one entry per member, including itself. */
  progress: Map<NodeId, Progress>;
  /** Candidates: the answers received in this election (true = granted). */
  votes: Map<NodeId, boolean>;
  /** Ticks since the last election timeout reset (or, on a leader, the last quorum check). */
  electionElapsedTicks: number;
  heartbeatElapsedTicks: number;
  /** This node's current timeout, drawn from [electionTicks, 2*electionTicks). */
  randomizedElectionTicks: number;
  /** Leader: the node leadership is being handed to; 0 when none. */
  leadTransferee: NodeId;
  /** Leader: index of the last config entry proposed; a new one waits until it is applied. */
  pendingConfIndex: number;
  /** Leader: reads waiting for the first commit in this term. */
  readsAwaitingCommit: string[];
  /** Leader: reads waiting for a heartbeat quorum, oldest first. */
  pendingReads: PendingRead[];
  incomingSnapshot: IncomingSnapshot | null;
  /** Outputs, drained by ready(). */
  msgs: RaftMessage[];
  readStates: ReadState[];
}

/** Messages are built without the envelope's `from`; send() stamps it. */
export type Outgoing = RaftMessage extends infer M
  ? M extends RaftMessage
    ? Omit<M, 'from'>
    : never
  : never;

export function send(s: RaftState, msg: Outgoing): void {
  assert(s.msgs.length < limits.raftOutboxMax, 'raft outbox overflow: ready() not drained');
  assert(msg.to !== s.id, 'a node never messages itself');
  s.msgs.push({ ...msg, from: s.id } as RaftMessage);
}

export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

export function isLearner(conf: ConfState, id: NodeId): boolean {
  return conf.learners.includes(id);
}

/** Voters can campaign; learners and removed nodes cannot. */
export function isPromotable(s: RaftState): boolean {
  return isVoter(s.conf, s.id);
}

/** Size of a majority of the voters (§5.2). */
export function quorumSize(conf: ConfState): number {
  return Math.floor(conf.voters.length / 2) + 1;
}

export function peersOf(s: RaftState): NodeId[] {
  return [...s.conf.voters, ...s.conf.learners].filter((id) => id !== s.id);
}

export function resetRandomizedElectionTicks(s: RaftState): void {
  const base = s.config.electionTicks;
  s.randomizedElectionTicks = s.prng.int(base, 2 * base);
}
