/**
 * The node monitor's state: the committed status of every known node and, on the leader,
 * when each was last heard from and which status proposal is still in flight.
 */
import { assert } from '../../src/core/assert.ts';
import type { NodeMonitorConfig } from './config.ts';

/** A status transition proposed and not yet seen committed. */
export interface PendingProposal {
  status: 'up' | 'down';
  /** When it was last proposed, on this node's clock. */
  proposedAtMs: number;
  /** Proposals of this transition so far (≤ limits.nodeStatusProposalAttemptsMax). */
  attempts: number;
  /** True once attempts ran out; nothing more is proposed until the status changes. */
  abandoned: boolean;
}

export interface TrackedNode {
  id: string;
  /** The status committed in the log. */
  status: 'up' | 'down' | 'draining';
  /**
   * The start of the node's current silence on this node's clock: its last heartbeat, or
   * the moment a grace began (this node became leader, or the node was committed up),
   * whichever is later. Down is judged from this.
   */
  lastSeenMs: number;
  /**
   * The last heartbeat this node received from it while leader, or null. Up is judged
   * from this alone, so a grace period never brings a down node back up by itself.
   */
  lastHeartbeatMs: number | null;
  pending: PendingProposal | null;
}

export interface NodeMonitorState {
  /** Only the leader judges; followers only keep the committed node set. */
  role: 'follower' | 'leader';
  /** This node's id: the leader never judges itself silent. */
  selfId: string;
  config: NodeMonitorConfig;
  /**
   * The latest `nowMs` any message carried. Committed entries carry no local time, so a
   * node newly committed up gets its grace from here. Never moves backwards.
   */
  nowMs: number;
  /** Known nodes by id, in the order they were first committed (deterministic scans). */
  nodes: Map<string, TrackedNode>;
}

/** A fresh monitor: a follower that knows no nodes yet. */
export function createNodeMonitorState(
  selfId: string,
  config: NodeMonitorConfig,
  nowMs = 0,
): NodeMonitorState {
  assert(selfId.length > 0, 'node monitor needs its own node id');
  assert(Number.isFinite(nowMs) && nowMs >= 0, 'nowMs is a non-negative finite number');
  return { role: 'follower', selfId, config, nowMs, nodes: new Map() };
}

/** Whether `node` is committed as serving (up or draining) and thus can go down. */
export function isServing(node: TrackedNode): boolean {
  return node.status === 'up' || node.status === 'draining';
}
