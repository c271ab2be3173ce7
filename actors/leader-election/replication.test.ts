import { describe, expect, test } from 'bun:test';
import {
  createCluster,
  elect,
  node,
  processAllReady,
  restart,
  stabilize,
  tickNode,
} from './test-cluster.ts';
import type { RaftMessage } from './types.ts';

const quiet = (x: ReturnType<typeof import('./config.ts').defaultRaftConfig>) => ({
  ...x,
  checkQuorum: false,
});

function logOf(c: ReturnType<typeof createCluster>, id: number): string[] {
  const st = node(c, id).raft.status();
  return node(c, id)
    .storage.entries(1, st.lastIndex + 1)
    .map((e) => `${e.index}/${e.term}/${e.kind}/${e.data}`);
}

describe('§5.3 log replication', () => {
  // Proves §5.3: every committed entry reaches every node's state machine in the same order.
  test('entries commit and apply in order everywhere', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    for (const d of ['a', 'b', 'c']) expect(node(c, 1).raft.propose(d).ok).toBe(true);
    stabilize(c);
    for (const id of [1, 2, 3]) expect(node(c, id).appliedData).toEqual(['a', 'b', 'c']);
    expect(logOf(c, 2)).toEqual(logOf(c, 1));
  });

  // Proves §5.3: a follower's conflicting uncommitted suffix is truncated and replaced by the leader's.
  test('conflicting entries are truncated', () => {
    const c = createCluster({ voters: [1, 2, 3], config: quiet });
    elect(c, 1);
    c.partitions = [[1], [2, 3]];
    node(c, 1).raft.propose('lost1');
    node(c, 1).raft.propose('lost2');
    stabilize(c);
    node(c, 2).raft.campaign();
    stabilize(c);
    node(c, 2).raft.propose('kept');
    stabilize(c);
    c.partitions = [];
    tickNode(c, 2); // heartbeat: 1 learns the new term and is repaired
    stabilize(c);
    expect(logOf(c, 1)).toEqual(logOf(c, 2));
    expect(node(c, 1).appliedData).toEqual(['kept']);
    expect(logOf(c, 1).some((e) => e.includes('lost'))).toBe(false);
  });

  // Proves the fast-backtracking optimisation (§5.3 end): a long divergent tail costs a few round trips, not one per entry.
  test('fast backtracking skips a whole term per round trip', () => {
    const c = createCluster({ voters: [1, 2, 3], config: quiet });
    elect(c, 1);
    c.partitions = [[1], [2, 3]];
    for (let i = 0; i < 60; i++) node(c, 1).raft.propose(`old${i}`);
    stabilize(c);
    node(c, 2).raft.campaign();
    stabilize(c);
    for (let i = 0; i < 40; i++) node(c, 2).raft.propose(`new${i}`);
    stabilize(c);
    // A newer leader starts with an optimistic next index for 1 (its own last index + 1),
    // far beyond where 1's log (60 entries of term 1) stops matching.
    node(c, 3).raft.campaign();
    stabilize(c);
    node(c, 3).raft.propose('newest');
    stabilize(c);
    c.partitions = [];
    c.delivered = [];
    tickNode(c, 3);
    stabilize(c);
    const rejects = c.delivered.filter(
      (m) => m.type === 'append_resp' && m.from === 1 && !m.success,
    );
    expect(rejects.length).toBeGreaterThan(0);
    expect(rejects.length).toBeLessThanOrEqual(3);
    expect(logOf(c, 1)).toEqual(logOf(c, 3));
  });

  // Proves pipelining is bounded: with acks withheld, at most maxInflightMsgs appends with entries are outstanding.
  test('the in-flight window bounds pipelined appends', () => {
    const c = createCluster({
      voters: [1, 2],
      config: (x) => ({ ...x, checkQuorum: false, maxInflightMsgs: 3, maxEntriesPerMsg: 1 }),
    });
    elect(c, 1);
    c.delivered = [];
    for (let i = 0; i < 10; i++) node(c, 1).raft.propose(`p${i}`);
    stabilize(c, (m) => m.type === 'append_resp');
    const sent = c.delivered.filter((m) => m.type === 'append' && m.entries.length > 0);
    expect(sent.length).toBe(3);
    for (const m of sent) if (m.type === 'append') expect(m.entries.length).toBe(1);
    tickNode(c, 1); // a heartbeat answer frees a slot and replication resumes
    stabilize(c);
    expect(node(c, 2).appliedData.length).toBe(10);
  });

  // Proves reportUnreachable drops a follower back to probing, after which it still catches up.
  test('reportUnreachable falls back to probing', () => {
    const c = createCluster({ voters: [1, 2, 3], config: (x) => ({ ...x, maxEntriesPerMsg: 1 }) });
    elect(c, 1);
    for (let i = 0; i < 3; i++) node(c, 1).raft.propose(`p${i}`);
    processAllReady(c);
    c.queue = c.queue.filter((m) => m.to !== 3); // the transport lost them
    node(c, 1).raft.reportUnreachable(3);
    c.delivered = [];
    node(c, 1).raft.propose('next');
    stabilize(c);
    // In probe mode the leader sends one append to 3 and waits for the answer.
    const firstToThree = c.delivered.find((m) => m.type === 'append' && m.to === 3);
    expect(firstToThree?.type === 'append' ? firstToThree.prevIndex : -1).toBe(1);
    tickNode(c, 1);
    stabilize(c);
    expect(node(c, 3).appliedData).toEqual(['p0', 'p1', 'p2', 'next']);
  });

  // Proves batching: one append carries at most maxEntriesPerMsg entries.
  test('appends are batched up to maxEntriesPerMsg', () => {
    const c = createCluster({ voters: [1, 2, 3], config: (x) => ({ ...x, maxEntriesPerMsg: 4 }) });
    elect(c, 1);
    node(c, 3).down = true;
    for (let i = 0; i < 10; i++) node(c, 1).raft.propose(`p${i}`);
    stabilize(c);
    node(c, 3).down = false;
    c.delivered = [];
    tickNode(c, 1);
    stabilize(c);
    const toThree = c.delivered.filter((m) => m.type === 'append' && m.to === 3);
    const sizes = toThree.map((m) => (m.type === 'append' ? m.entries.length : 0));
    expect(Math.max(...sizes)).toBe(4);
    expect(node(c, 3).appliedData.length).toBe(10);
  });

  // Proves a node restarted from its storage keeps its log and term and catches up.
  test('a restarted follower recovers from storage', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    node(c, 1).raft.propose('a');
    stabilize(c);
    restart(c, 2);
    expect(node(c, 2).raft.status()).toMatchObject({ term: 1, lastIndex: 2, commit: 2 });
    stabilize(c);
    expect(node(c, 2).appliedData).toEqual(['a']); // handed out again after the restart
    node(c, 1).raft.propose('b');
    stabilize(c);
    expect(node(c, 2).appliedData).toEqual(['a', 'b']);
  });
});

describe('proposals', () => {
  // Proves the bounded uncommitted log: a leader without its quorum refuses proposals with proposal_dropped.
  test('proposal_dropped beyond maxUncommittedEntries', () => {
    const c = createCluster({
      voters: [1, 2, 3],
      config: (x) => ({ ...x, checkQuorum: false, maxUncommittedEntries: 5 }),
    });
    elect(c, 1);
    c.partitions = [[1], [2, 3]];
    const results = Array.from({ length: 6 }, (_, i) => node(c, 1).raft.propose(`p${i}`));
    expect(results.slice(0, 5).every((r) => r.ok)).toBe(true);
    expect(results[5]).toMatchObject({ ok: false, code: 'proposal_dropped' });
  });

  // Proves follower forwarding: a follower forwards to the known leader and says so; without one, nothing is sent.
  test('followers forward proposals to the leader', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    expect(node(c, 2).raft.propose('early')).toEqual({
      ok: false,
      code: 'not_leader',
      leaderHint: 0,
    });
    processAllReady(c);
    expect(c.queue.some((m) => m.type === 'forward')).toBe(false);
    elect(c, 1);
    expect(node(c, 2).raft.propose('fwd')).toEqual({
      ok: false,
      code: 'not_leader',
      leaderHint: 1,
    });
    stabilize(c);
    for (const id of [1, 2, 3]) expect(node(c, id).appliedData).toEqual(['fwd']);
  });
});

describe('§5.4 safety', () => {
  // Proves §5.4.2 (Figure 8): an old-term entry on a majority is not committed by counting; the bug flag shows the failure.
  test('entries of earlier terms are not committed by counting replicas', () => {
    for (const bug of [false, true]) {
      const c = createCluster({
        voters: [1, 2, 3],
        config: (x) => ({
          ...x,
          checkQuorum: false,
          preVote: false,
          maxEntriesPerMsg: 1,
          testBugs: { countOldTermReplicas: bug },
        }),
      });
      elect(c, 1);
      node(c, 1).raft.propose('x'); // index 2, term 1
      stabilize(c, (m) => m.to === 3 || (m.type === 'append_resp' && m.to === 1));
      node(c, 1).down = true;
      node(c, 2).raft.campaign(); // term 2, no-op at index 3
      // 3 sees the no-op once, rejects it (it lacks x), gets x, then never gets the no-op.
      let noopsToThree = 0;
      const noNoopToThree = (m: RaftMessage) =>
        m.type === 'append' &&
        m.to === 3 &&
        m.entries.some((e) => e.kind === 'noop' && e.term === 2) &&
        noopsToThree++ > 0;
      stabilize(c, noNoopToThree);
      const st = node(c, 2).raft.status();
      expect(st.role).toBe('leader');
      expect(st.commit).toBe(bug ? 2 : 1);
      tickNode(c, 2); // once the no-op reaches 3, counting it commits everything before it
      stabilize(c);
      expect(node(c, 2).raft.status().commit).toBe(3);
    }
  });
});
