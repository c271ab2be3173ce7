import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import { createPrng } from '../../src/core/prng.ts';
import { NodeStatusChanged } from '../state/commands.ts';
import { defaultNodeMonitorConfig } from './config.ts';
import { type NodeMonitorEffect, toNodeStatusCommand } from './effects.ts';
import type { CommittedNodeStatus, NodeMonitorMessage } from './messages.ts';
import { createNodeMonitorState, type NodeMonitorState } from './state.ts';
import { step } from './step.ts';

const config = defaultNodeMonitorConfig; // TTL 3000 ms, retry 1000 ms
const tickMs = 100;
const ctx = { prng: createPrng(7) };

/** A monitor on node n1 that knows n1, w1 and w2 as committed up, still a follower. */
function follower(nodeIds = ['n1', 'w1', 'w2']): NodeMonitorState {
  const s = createNodeMonitorState('n1', config);
  for (const id of nodeIds) send(s, committed(id, 'up'));
  return s;
}

function leaderAt(nowMs: number, nodeIds?: string[]): NodeMonitorState {
  const s = follower(nodeIds);
  send(s, { type: 'leadership', isLeader: true, nowMs });
  return s;
}

function send(s: NodeMonitorState, m: NodeMonitorMessage): NodeMonitorEffect[] {
  return step(s, m, ctx).effects;
}

function committed(nodeId: string, status: CommittedNodeStatus): NodeMonitorMessage {
  return { type: 'committed_node', nodeId, status, atMs: 1_700_000_000_000 };
}

function heartbeat(nodeId: string, nowMs: number): NodeMonitorMessage {
  return { type: 'heartbeat', nodeId, nowMs };
}

/** Proposals as `id:status` strings, in order. */
function proposals(effects: NodeMonitorEffect[]): string[] {
  return effects.flatMap((e) =>
    e.type === 'propose' ? [`${e.command.id}:${e.command.status}`] : [],
  );
}

/** Ticks every tickMs over (fromMs, toMs] and records each proposal with its tick time. */
function tickThrough(s: NodeMonitorState, fromMs: number, toMs: number): string[] {
  const seen: string[] = [];
  for (let t = fromMs + tickMs; t <= toMs; t += tickMs) {
    for (const p of proposals(send(s, { type: 'tick', nowMs: t }))) seen.push(`${t} ${p}`);
  }
  return seen;
}

describe('node-monitor step', () => {
  test('a silent node is proposed down on the first tick past the TTL, not before', () => {
    // Proves the TTL is strict and judged at tick granularity: silence of exactly ttlMs is
    // still alive, the next tick after it proposes down, and the leader never judges itself.
    const s = leaderAt(0);
    send(s, heartbeat('w1', 1_000));
    expect(tickThrough(s, 0, 3_000)).toEqual([]);
    expect(tickThrough(s, 3_000, 3_100)).toEqual(['3100 w2:down']);
    send(s, committed('w2', 'down'));
    expect(tickThrough(s, 3_100, 4_000)).toEqual([]);
    expect(tickThrough(s, 4_000, 4_100)).toEqual(['4100 w1:down']);
  });

  test('the down proposal is made once while pending and never again once committed', () => {
    // Proves de-duplication: while a down proposal is in flight (within proposalRetryMs)
    // ticks and repeated judgements add nothing, and after it commits the node stays quiet.
    const s = leaderAt(0, ['n1', 'w1']);
    const effects = tickThrough(s, 0, 3_100 + config.proposalRetryMs - tickMs);
    expect(effects).toEqual(['3100 w1:down']);
    send(s, committed('w1', 'down'));
    expect(tickThrough(s, 4_000, 30_000)).toEqual([]);
    expect(s.nodes.get('w1')?.pending).toBeNull();
  });

  test('an uncommitted proposal is retried each proposalRetryMs, then abandoned', () => {
    // Proves retries are bounded by limits.nodeStatusProposalAttemptsMax and that giving
    // up is reported once, not silently and not repeatedly.
    const s = leaderAt(0, ['n1', 'w1']);
    const all: NodeMonitorEffect[] = [];
    for (let t = tickMs; t <= 60_000; t += tickMs) all.push(...send(s, { type: 'tick', nowMs: t }));
    expect(proposals(all)).toEqual(Array(limits.nodeStatusProposalAttemptsMax).fill('w1:down'));
    const abandoned = all.filter((e) => e.type === 'proposal_abandoned');
    expect(abandoned).toEqual([
      {
        type: 'proposal_abandoned',
        id: 'w1',
        status: 'down',
        attempts: limits.nodeStatusProposalAttemptsMax,
      },
    ]);
  });

  test('a down node that heartbeats again is proposed up once, and not down right after', () => {
    // Proves the return path: a heartbeat from a committed-down node proposes up at once,
    // further heartbeats do not repeat it, and the committed up gets a fresh TTL.
    const s = leaderAt(0, ['n1', 'w1']);
    send(s, committed('w1', 'down'));
    expect(proposals(send(s, heartbeat('w1', 5_000)))).toEqual(['w1:up']);
    expect(proposals(send(s, heartbeat('w1', 5_500)))).toEqual([]);
    expect(tickThrough(s, 5_500, 5_900)).toEqual([]);
    send(s, { type: 'tick', nowMs: 6_000 });
    send(s, committed('w1', 'up'));
    // The grace runs from the commit (6000), later than the last heartbeat (5500).
    expect(tickThrough(s, 6_000, 9_000)).toEqual([]);
    expect(tickThrough(s, 9_000, 9_100)).toEqual(['9100 w1:down']);
  });

  test('a down node is not proposed up by a grace period alone', () => {
    // Proves up needs a real heartbeat: becoming leader or ticking never revives a node.
    const s = follower(['n1', 'w1']);
    send(s, committed('w1', 'down'));
    send(s, { type: 'leadership', isLeader: true, nowMs: 1_000 });
    expect(tickThrough(s, 1_000, 20_000)).toEqual([]);
  });

  test('a new leader gives nodes silent since before the failover one TTL, not more', () => {
    // Proves DESIGN.md §5: no proposal at takeover, none within one TTL of it, and the
    // down proposal on the first tick after exactly one TTL (no multi-minute grace).
    const s = follower(['n1', 'w1', 'w2']);
    send(s, heartbeat('w1', 500)); // heard while a follower: ignored
    expect(tickThrough(s, 0, 10_000)).toEqual([]);
    expect(send(s, { type: 'leadership', isLeader: true, nowMs: 10_000 })).toEqual([]);
    expect(tickThrough(s, 10_000, 13_000)).toEqual([]);
    expect(tickThrough(s, 13_000, 13_100)).toEqual(['13100 w1:down', '13100 w2:down']);
  });

  test('a repeated leadership notice does not renew the grace', () => {
    // Proves a duplicate "you are leader" cannot keep a dead node up indefinitely.
    const s = leaderAt(0, ['n1', 'w1']);
    send(s, { type: 'leadership', isLeader: true, nowMs: 2_900 });
    expect(tickThrough(s, 0, 3_100)).toEqual(['3100 w1:down']);
  });

  test('losing leadership forgets pending proposals; regaining it restarts the grace', () => {
    // Proves pending state does not leak across leaderships: the re-elected leader
    // proposes again, one TTL after it regained leadership.
    const s = leaderAt(0, ['n1', 'w1']);
    expect(tickThrough(s, 0, 3_100)).toEqual(['3100 w1:down']);
    send(s, { type: 'leadership', isLeader: false, nowMs: 3_200 });
    expect(s.nodes.get('w1')?.pending).toBeNull();
    send(s, { type: 'leadership', isLeader: true, nowMs: 3_300 });
    expect(tickThrough(s, 3_300, 6_300)).toEqual([]);
    expect(tickThrough(s, 6_300, 6_400)).toEqual(['6400 w1:down']);
  });

  test('a follower proposes nothing', () => {
    // Proves only the leader judges: silence, heartbeats and a down node that speaks again
    // produce no effect on a follower, however long it runs.
    const s = follower(['n1', 'w1', 'w2']);
    send(s, committed('w2', 'down'));
    const all: NodeMonitorEffect[] = [];
    for (let t = tickMs; t <= 30_000; t += tickMs) {
      all.push(...send(s, { type: 'tick', nowMs: t }));
      if (t % 500 === 0) all.push(...send(s, heartbeat('w2', t)));
    }
    expect(all).toEqual([]);
  });

  test('a draining node that goes silent is proposed down', () => {
    // Proves draining nodes are still judged: draining is serving, not exempt.
    const s = leaderAt(0, ['n1', 'w1']);
    send(s, committed('w1', 'draining'));
    expect(tickThrough(s, 0, 3_100)).toEqual(['3100 w1:down']);
  });

  test('a status change by another route ends the pending proposal', () => {
    // Proves an operator's drain (or any other committed change) clears a pending down, and
    // the leader re-judges at once instead of waiting out the retry interval.
    const s = leaderAt(0, ['n1', 'w1']);
    expect(tickThrough(s, 0, 3_100)).toEqual(['3100 w1:down']);
    expect(proposals(send(s, committed('w1', 'draining')))).toEqual(['w1:down']);
  });

  test('removed nodes stop being tracked, and their heartbeats are ignored', () => {
    // Proves removal ends tracking: no proposals, and heartbeats do not bring it back.
    const s = leaderAt(0, ['n1', 'w1', 'w2']);
    send(s, committed('w2', 'removed'));
    expect(s.nodes.has('w2')).toBe(false);
    send(s, heartbeat('w2', 100));
    expect(s.nodes.has('w2')).toBe(false);
    expect(tickThrough(s, 0, 3_100)).toEqual(['3100 w1:down']);
  });

  test('a node registered under a leader gets one TTL from its registration', () => {
    // Proves registration is a grace start: the monitor's latest time, not time zero.
    const s = leaderAt(0, ['n1']);
    expect(tickThrough(s, 0, 5_000)).toEqual([]);
    send(s, committed('w9', 'up'));
    expect(tickThrough(s, 5_000, 8_000)).toEqual([]);
    expect(tickThrough(s, 8_000, 8_100)).toEqual(['8100 w9:down']);
  });

  test('the leader proposes its own node up if the log says it is down', () => {
    // Proves the leader counts itself as heard on every tick: it never proposes itself
    // down, and it repairs a stale down left by a previous leader.
    const s = leaderAt(0, ['n1']);
    send(s, committed('n1', 'down'));
    expect(tickThrough(s, 0, 100)).toEqual(['100 n1:up']);
  });

  test('tracking stops at nodesTrackedMax with an explicit node_dropped', () => {
    // Proves the node map is bounded and overflow is reported, not silent.
    const s = createNodeMonitorState('n1', config);
    for (let i = 0; i < limits.nodesTrackedMax; i++) {
      expect(send(s, committed(`node-${i}`, 'up'))).toEqual([]);
    }
    expect(send(s, committed('one-too-many', 'up'))).toEqual([
      { type: 'node_dropped', id: 'one-too-many', reason: 'nodes_tracked_max' },
    ]);
    expect(s.nodes.size).toBe(limits.nodesTrackedMax);
    expect(send(s, committed('node-0', 'down'))).toEqual([]);
  });

  test('a proposal becomes a valid replicated node_status payload', () => {
    // Proves the effect shape maps onto the state actor's node_status command schema.
    const s = leaderAt(0, ['n1', 'w1']);
    const effect = send(s, { type: 'tick', nowMs: 3_100 }).find((e) => e.type === 'propose');
    expect(effect?.type).toBe('propose');
    if (effect?.type !== 'propose') return;
    const payload = toNodeStatusCommand(effect.command, 1_700_000_123_456);
    expect(NodeStatusChanged.parse(payload)).toEqual({
      id: 'w1',
      status: 'down',
      atMs: 1_700_000_123_456,
    });
  });
});
