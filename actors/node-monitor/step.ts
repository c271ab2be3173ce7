/**
 * The node monitor's one entry point: a pure step `(state, message, ctx) → { state,
 * effects }`. It does no I/O and reads no clock; time arrives in the messages.
 *
 * Every node runs it and keeps the committed node set; only the leader judges. Followers
 * ignore heartbeats and ticks entirely (they keep no lastSeen): whatever a follower heard
 * would be replaced by the one-TTL grace the moment it became leader anyway, and workers
 * send their heartbeats to the leader only.
 *
 * The step mutates `state` in place and returns it (as etcd's raft does); the caller
 * owns the state and must not keep a reference to an earlier version.
 */

import { unreachable } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import type { Prng } from '../../src/core/prng.ts';
import { becomeFollower, becomeLeader } from './become.ts';
import type { NodeMonitorEffect } from './effects.ts';
import { handleHeartbeat, handleTick, judgeNode } from './judge.ts';
import type { CommittedNodeMessage, LeadershipMessage, NodeMonitorMessage } from './messages.ts';
import type { NodeMonitorState } from './state.ts';

/** What the step may use besides the message. It draws no randomness today. */
export interface NodeMonitorContext {
  prng: Prng;
}

export interface NodeMonitorStepResult {
  state: NodeMonitorState;
  effects: NodeMonitorEffect[];
}

export function step(
  s: NodeMonitorState,
  m: NodeMonitorMessage,
  _ctx: NodeMonitorContext,
): NodeMonitorStepResult {
  const effects: NodeMonitorEffect[] = [];
  // The runtime's clock is monotonic, but a heartbeat stamped on arrival may be handled
  // after a later tick; the monitor's notion of now never moves backwards.
  if (m.type !== 'committed_node') s.nowMs = Math.max(s.nowMs, m.nowMs);
  switch (m.type) {
    case 'leadership':
      handleLeadership(s, m);
      break;
    case 'committed_node':
      handleCommittedNode(s, m, effects);
      break;
    case 'heartbeat':
      if (s.role === 'leader') handleHeartbeat(s, m, effects);
      break;
    case 'tick':
      if (s.role === 'leader') handleTick(s, effects);
      break;
    default:
      unreachable(m, 'unknown node-monitor message');
  }
  return { state: s, effects };
}

/**
 * A repeated notice of the current role is ignored: treating it as a new leadership
 * would renew every node's grace and could keep a dead node up indefinitely.
 */
function handleLeadership(s: NodeMonitorState, m: LeadershipMessage): void {
  if (m.isLeader && s.role === 'follower') becomeLeader(s);
  else if (!m.isLeader && s.role === 'leader') becomeFollower(s);
}

/**
 * A node's committed state changed (or was re-committed). A pending proposal ends when
 * its status commits or when the status changes another way (an operator drained the
 * node, say); the leader then judges the node afresh. A node newly committed `up` gets
 * one TTL of grace from now: whoever proposed it had just heard from it, or it just
 * registered, and this node's clock has no record of that heartbeat.
 */
function handleCommittedNode(
  s: NodeMonitorState,
  m: CommittedNodeMessage,
  effects: NodeMonitorEffect[],
): void {
  if (m.status === 'removed') {
    s.nodes.delete(m.nodeId);
    return;
  }
  const node = s.nodes.get(m.nodeId);
  if (node === undefined) {
    if (s.nodes.size >= limits.nodesTrackedMax) {
      effects.push({ type: 'node_dropped', id: m.nodeId, reason: 'nodes_tracked_max' });
      return;
    }
    const fresh = { id: m.nodeId, status: m.status, lastSeenMs: s.nowMs };
    s.nodes.set(m.nodeId, { ...fresh, lastHeartbeatMs: null, pending: null });
    return;
  }
  const changed = node.status !== m.status;
  if (changed || node.pending?.status === m.status) node.pending = null;
  if (changed && m.status === 'up') node.lastSeenMs = Math.max(node.lastSeenMs, s.nowMs);
  node.status = m.status;
  if (changed && s.role === 'leader') judgeNode(s, node, effects);
}
