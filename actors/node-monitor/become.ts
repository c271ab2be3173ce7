/**
 * Role changes happen only here (STYLE.md rule 2). Both transitions forget what the old
 * role knew about heartbeats and proposals, because the judgement starts over under the
 * new role.
 */
import { assert } from '../../src/core/assert.ts';
import type { NodeMonitorState } from './state.ts';

/**
 * This node became leader. Every known node gets exactly one TTL of grace from now: a
 * node that was silent since before the failover is declared down one TTL after the new
 * leader took over — never after a multi-minute blanket grace (the mistake of Nomad's
 * 300 s FailoverHeartbeatTTL), and never at once either, since the old leader's
 * heartbeats did not reach us. Proposals of a previous leadership are forgotten: they
 * either committed (and arrive as committed_node) or are re-judged from scratch.
 */
export function becomeLeader(s: NodeMonitorState): void {
  assert(s.role === 'follower', `only a follower becomes leader, not a ${s.role}`);
  s.role = 'leader';
  for (const node of s.nodes.values()) {
    node.lastSeenMs = s.nowMs;
    node.lastHeartbeatMs = null;
    node.pending = null;
  }
}

/**
 * This node lost leadership. Followers do not judge, so heartbeat times and pending
 * proposals are dropped; only the committed node set is kept, for the next leadership.
 */
export function becomeFollower(s: NodeMonitorState): void {
  assert(s.role === 'leader', `only a leader becomes follower, not a ${s.role}`);
  s.role = 'follower';
  for (const node of s.nodes.values()) {
    node.lastHeartbeatMs = null;
    node.pending = null;
  }
}
