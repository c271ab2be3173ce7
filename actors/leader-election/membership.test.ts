import { describe, expect, test } from 'bun:test';
import {
  addNode,
  createCluster,
  elect,
  leaders,
  node,
  restart,
  runUntil,
  stabilize,
  type TestCluster,
  tickNode,
} from './test-cluster.ts';

const empty = { voters: [], learners: [] };

/** A 3-voter cluster led by 1 with node 4 joined as a learner. */
function withLearner(): TestCluster {
  const c = createCluster({ voters: [1, 2, 3] });
  elect(c, 1);
  node(c, 1).raft.propose('before');
  stabilize(c);
  addNode(c, 4, empty);
  expect(node(c, 1).raft.proposeConfChange({ op: 'add_learner', node: 4 }).ok).toBe(true);
  stabilize(c);
  return c;
}

describe('§6 membership: single-server changes, learners', () => {
  // Proves a learner joins with an empty configuration, receives the whole log and learns the membership.
  test('a learner receives the log', () => {
    const c = withLearner();
    const four = node(c, 4);
    expect(four.appliedData).toEqual(['before']);
    expect(four.raft.status()).toMatchObject({ role: 'learner', leaderId: 1 });
    expect(four.raft.status().conf).toEqual({ voters: [1, 2, 3], learners: [4] });
  });

  // Proves learners never campaign and never count toward a quorum.
  test('learners neither campaign nor count for quorum', () => {
    const c = withLearner();
    c.partitions = [
      [1, 4],
      [2, 3],
    ];
    const r = node(c, 1).raft.propose('needs-quorum');
    stabilize(c);
    expect(node(c, 4).raft.status().lastIndex).toBe(r.ok ? r.index : -1);
    expect(node(c, 1).raft.status().commit).toBeLessThan(r.ok ? r.index : 0);
    c.partitions = [[4], [1, 2, 3]];
    for (let i = 0; i < 50; i++) {
      tickNode(c, 4);
      stabilize(c);
    }
    expect(node(c, 4).raft.status().role).toBe('learner');
    expect(node(c, 4).raft.status().term).toBe(1);
  });

  // Proves promotion: a promoted learner becomes a voter and counts toward a 4-voter quorum of 3.
  test('promote a learner to voter', () => {
    const c = withLearner();
    expect(node(c, 1).raft.proposeConfChange({ op: 'promote', node: 4 }).ok).toBe(true);
    stabilize(c);
    for (const id of [1, 2, 3, 4]) {
      expect(node(c, id).raft.status().conf.voters).toEqual([1, 2, 3, 4]);
    }
    expect(node(c, 4).raft.status().role).toBe('follower');
    c.partitions = [
      [1, 2],
      [3, 4],
    ];
    const r = node(c, 1).raft.propose('two-of-four');
    stabilize(c);
    expect(node(c, 1).raft.status().commit).toBeLessThan(r.ok ? r.index : 0);
    c.partitions = [[1, 2, 4], [3]];
    tickNode(c, 1);
    stabilize(c);
    expect(node(c, 1).raft.status().commit).toBe(r.ok ? r.index : 0);
  });

  // Proves one change at a time: a second change is refused until the first is applied.
  test('only one pending change', () => {
    const c = withLearner();
    addNode(c, 5, empty);
    expect(node(c, 1).raft.proposeConfChange({ op: 'promote', node: 4 }).ok).toBe(true);
    expect(node(c, 1).raft.proposeConfChange({ op: 'add_learner', node: 5 })).toMatchObject({
      ok: false,
      code: 'proposal_dropped',
    });
    stabilize(c);
    expect(node(c, 1).raft.proposeConfChange({ op: 'add_learner', node: 5 }).ok).toBe(true);
  });

  // Proves a new leader may not change membership before committing an entry of its term.
  test('a new leader must commit in its term before a change', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    node(c, 1).raft.campaign();
    stabilize(c, (m) => m.type === 'append_resp');
    expect(node(c, 1).raft.status().role).toBe('leader');
    expect(node(c, 1).raft.proposeConfChange({ op: 'add_learner', node: 4 })).toMatchObject({
      ok: false,
      code: 'proposal_dropped',
    });
  });

  // Proves removal retires the id: the removed node is out of every conf and its id can never be added again.
  test('removed ids are never reused', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    expect(node(c, 1).raft.proposeConfChange({ op: 'remove', node: 3 }).ok).toBe(true);
    stabilize(c);
    expect(node(c, 2).raft.status().conf).toEqual({ voters: [1, 2], learners: [], retired: [3] });
    for (const op of ['add_learner', 'add_voter'] as const) {
      expect(node(c, 1).raft.proposeConfChange({ op, node: 3 })).toMatchObject({
        ok: false,
        code: 'proposal_dropped',
      });
    }
    const r = node(c, 1).raft.propose('two-voters');
    stabilize(c);
    expect(node(c, 2).appliedData).toEqual(['two-voters']);
    expect(node(c, 3).appliedData).toEqual([]);
    expect(r.ok).toBe(true);
  });

  // Proves a restart replays committed config entries idempotently: the membership comes back as it was.
  test('membership survives a restart', () => {
    const c = withLearner();
    expect(node(c, 1).raft.proposeConfChange({ op: 'promote', node: 4 }).ok).toBe(true);
    stabilize(c);
    expect(node(c, 1).raft.proposeConfChange({ op: 'remove', node: 3 }).ok).toBe(true);
    stabilize(c);
    const before = node(c, 2).raft.status().conf;
    expect(before).toEqual({ voters: [1, 2, 4], learners: [], retired: [3] });
    restart(c, 2);
    stabilize(c);
    expect(node(c, 2).raft.status().conf).toEqual(before);
    restart(c, 4); // joined with an empty conf: everything it knows came from the log
    stabilize(c);
    expect(node(c, 4).raft.status().conf).toEqual(before);
  });

  // Proves a leader that removes itself steps down after committing the removal, and the rest elect a leader.
  test('a removed leader steps down', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    expect(node(c, 1).raft.proposeConfChange({ op: 'remove', node: 1 }).ok).toBe(true);
    stabilize(c);
    expect(node(c, 1).raft.status().role).toBe('follower');
    expect(node(c, 2).raft.status().conf.voters).toEqual([2, 3]);
    expect(runUntil(c, () => leaders(c).length === 1, 100)).toBe(true);
    expect([2, 3]).toContain(leaders(c)[0] ?? 0);
    // The removed node never campaigns again.
    for (let i = 0; i < 30; i++) tickNode(c, 1);
    expect(node(c, 1).raft.status().role).toBe('follower');
  });
});
