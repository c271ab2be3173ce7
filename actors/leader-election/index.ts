/**
 * The public surface of Berth's Raft core (the `leader-election` actor). The core is
 * pure: time arrives as `tick()`, peers' messages as `step()`, and every effect leaves
 * through `ready()` — persist, then send, then apply, then `advance()`.
 */
import type { Prng } from '../../src/core/prng.ts';
import type { RaftConfig } from './config.ts';
import { createRaftNode } from './raft-node.ts';
import type { ReadIndexResult } from './read-index.ts';
import type {
  ConfChange,
  ConfState,
  NodeId,
  ProposeResult,
  RaftMessage,
  RaftStorage,
  Ready,
  Role,
} from './types.ts';

export type { RaftConfig } from './config.ts';
export { defaultRaftConfig, raftTickMs, validateRaftConfig } from './config.ts';
export { MemoryStorage } from './memory-storage.ts';
export { parseConfChange, parseRaftMessage, RaftMessageSchema } from './messages.ts';
/**
 * Result of `readIndex`: the read's index arrives later in `Ready.readStates`.
 * `read_dropped` (beyond the brief's contract) is the bounded-queue refusal.
 */
export type { ReadIndexResult } from './read-index.ts';
export * from './types.ts';

/** What `status()` reports. `role` is 'learner' for a follower that is a learner. */
export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  leaderId: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
}

export interface RaftNode {
  /** One logical tick (time arrives only as ticks). */
  tick(): void;
  /** A message from a peer (or a 'forward' from a follower). */
  step(msg: RaftMessage): void;
  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void;
  /** Leader: appends. Follower knowing the leader: forwards it and returns not_leader. */
  propose(data: string): ProposeResult;
  /** One pending membership change at a time; otherwise proposal_dropped. */
  proposeConfChange(cc: ConfChange): ProposeResult;
  /** Starts a linearizable read; its index arrives later in Ready.readStates. */
  readIndex(requestId: string): ReadIndexResult;
  /** Leader only: hands leadership to `to` once it has caught up. */
  transferLeadership(to: NodeId): void;
  hasReady(): boolean;
  /** What to persist, send and apply now. Call `advance` before the next `ready`. */
  ready(): Ready;
  /** The caller persisted, sent and applied `ready`. */
  advance(ready: Ready): void;
  /** The transport could not reach `peer`; replication to it falls back to probing. */
  reportUnreachable(peer: NodeId): void;
  /** Outcome of sending a snapshot to `peer` (the core also learns it from snapshot_resp). */
  reportSnapshotDone(peer: NodeId, ok: boolean): void;
  status(): RaftStatus;
}

/**
 * Creates a node from its stable storage. A new cluster is bootstrapped by giving each
 * initial node a storage whose conf lists the initial voters and whose hard state is term 0.
 */
export function createRaft(config: RaftConfig, storage: RaftStorage, prng: Prng): RaftNode {
  return createRaftNode(config, storage, prng);
}
