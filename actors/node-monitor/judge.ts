/**
 * The leader's judgement: which nodes are silent past the TTL, which down nodes are
 * heard from again, and the bounded, de-duplicated proposals that follow.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import type { NodeMonitorEffect, NodeStatusReason } from './effects.ts';
import type { HeartbeatMessage } from './messages.ts';
import { isServing, type NodeMonitorState, type TrackedNode } from './state.ts';

/**
 * A heartbeat reached the leader. Heartbeats from nodes the log does not know yet are
 * ignored: a status for an unregistered node would be rejected at apply, and the node
 * gets its grace when its registration commits.
 */
export function handleHeartbeat(
  s: NodeMonitorState,
  m: HeartbeatMessage,
  effects: NodeMonitorEffect[],
): void {
  assert(s.role === 'leader', 'only the leader judges heartbeats');
  const node = s.nodes.get(m.nodeId);
  if (node === undefined) return;
  markHeard(node, m.nowMs);
  judgeNode(s, node, effects);
}

/** A tick on the leader: judge every tracked node once, in first-committed order. */
export function handleTick(s: NodeMonitorState, effects: NodeMonitorEffect[]): void {
  assert(s.role === 'leader', 'only the leader judges on ticks');
  assert(s.nodes.size <= limits.nodesTrackedMax, 'tracked nodes above nodesTrackedMax');
  // The leader is alive by definition: its own node never waits on a heartbeat to itself.
  const self = s.nodes.get(s.selfId);
  if (self !== undefined) markHeard(self, s.nowMs);
  for (const node of s.nodes.values()) judgeNode(s, node, effects);
}

/**
 * Decides whether `node` needs a status change now and proposes it. A serving node goes
 * down once its silence exceeds the TTL (strictly, so a heartbeat exactly one TTL ago
 * still counts). A down node comes up only on a real heartbeat within the TTL.
 */
export function judgeNode(
  s: NodeMonitorState,
  node: TrackedNode,
  effects: NodeMonitorEffect[],
): void {
  const { ttlMs } = s.config;
  if (isServing(node) && s.nowMs - node.lastSeenMs > ttlMs) {
    maybePropose(s, node, 'down', 'heartbeat_ttl_expired', effects);
  } else if (
    node.status === 'down' &&
    node.lastHeartbeatMs !== null &&
    s.nowMs - node.lastHeartbeatMs <= ttlMs
  ) {
    maybePropose(s, node, 'up', 'heartbeat_resumed', effects);
  } else {
    forgetStalePending(s, node);
  }
}

function markHeard(node: TrackedNode, nowMs: number): void {
  node.lastSeenMs = Math.max(node.lastSeenMs, nowMs);
  node.lastHeartbeatMs = Math.max(node.lastHeartbeatMs ?? nowMs, nowMs);
}

/**
 * Proposes `status` unless the same proposal is still in flight. A proposal in flight
 * for longer than proposalRetryMs is presumed lost (dropped by a busy or deposed Raft
 * leader) and proposed again, up to limits.nodeStatusProposalAttemptsMax times.
 */
function maybePropose(
  s: NodeMonitorState,
  node: TrackedNode,
  status: 'up' | 'down',
  reason: NodeStatusReason,
  effects: NodeMonitorEffect[],
): void {
  const pending = node.pending;
  const propose: NodeMonitorEffect = {
    type: 'propose',
    command: { type: 'node_status', id: node.id, status, reason },
  };
  if (pending === null || pending.status !== status) {
    node.pending = { status, proposedAtMs: s.nowMs, attempts: 1, abandoned: false };
    effects.push(propose);
    return;
  }
  if (pending.abandoned || s.nowMs - pending.proposedAtMs < s.config.proposalRetryMs) return;
  if (pending.attempts >= limits.nodeStatusProposalAttemptsMax) {
    pending.abandoned = true;
    effects.push({ type: 'proposal_abandoned', id: node.id, status, attempts: pending.attempts });
    return;
  }
  pending.attempts++;
  pending.proposedAtMs = s.nowMs;
  effects.push(propose);
}

/**
 * The transition a pending proposal asked for is no longer wanted (the node spoke again
 * before its down committed, say). Within the retry interval the proposal may still be
 * in flight, so it is kept to de-duplicate; after it, it is forgotten, so a later need
 * starts a fresh attempt count instead of inheriting an old one (or an abandonment).
 */
function forgetStalePending(s: NodeMonitorState, node: TrackedNode): void {
  const pending = node.pending;
  if (pending === null) return;
  if (s.nowMs - pending.proposedAtMs >= s.config.proposalRetryMs) node.pending = null;
}
