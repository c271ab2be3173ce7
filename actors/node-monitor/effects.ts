/**
 * What the node monitor asks the runtime to do. The monitor never touches the log: it
 * emits `propose` effects and the runtime turns each into a replicated `node_status`
 * command (stamping the leader's wall clock with `toNodeStatusCommand`) and proposes it.
 * The other effects are reports for logs and metrics; no decision depends on them.
 */
import type { z } from 'zod';
import type { NodeStatusChanged } from '../state/commands.ts';

/** Why the leader proposes a status: a silent node, or a down node heard from again. */
export type NodeStatusReason = 'heartbeat_ttl_expired' | 'heartbeat_resumed';

/** A status transition the leader wants committed. `status` is never `draining`. */
export interface NodeStatusProposal {
  type: 'node_status';
  id: string;
  status: 'up' | 'down';
  reason: NodeStatusReason;
}

export type NodeMonitorEffect =
  /** Propose `command` to Raft (on the leader). */
  | { type: 'propose'; command: NodeStatusProposal }
  /**
   * The leader proposed this transition limits.nodeStatusProposalAttemptsMax times and
   * none committed; it stops proposing it until the committed status or the leadership
   * changes. Worth a warning: the log is probably not committing at all.
   */
  | { type: 'proposal_abandoned'; id: string; status: 'up' | 'down'; attempts: number }
  /** A committed node could not be tracked because limits.nodesTrackedMax was reached. */
  | { type: 'node_dropped'; id: string; reason: 'nodes_tracked_max' };

/** The payload of the replicated `node_status` command for a proposal. */
export function toNodeStatusCommand(
  proposal: NodeStatusProposal,
  atMs: number,
): z.input<typeof NodeStatusChanged> {
  return { id: proposal.id, status: proposal.status, atMs };
}
