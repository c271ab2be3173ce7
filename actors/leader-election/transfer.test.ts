import { describe, expect, test } from 'bun:test';
import { createCluster, elect, node, stabilize, tickNode } from './test-cluster.ts';

describe('thesis §3.10 leadership transfer', () => {
  // Proves a transfer to an up-to-date voter makes it leader of the next term, even though voters are in their lease.
  test('transfer to an up-to-date follower', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    const term = node(c, 1).raft.status().term;
    node(c, 1).raft.transferLeadership(2);
    stabilize(c);
    expect(node(c, 2).raft.status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(node(c, 1).raft.status()).toMatchObject({ role: 'follower', leaderId: 2 });
  });

  // Proves the leader first catches a lagging target up, then sends TimeoutNow; proposals are refused meanwhile.
  test('transfer to a lagging follower catches it up first', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    node(c, 3).down = true;
    for (let i = 0; i < 5; i++) node(c, 1).raft.propose(`p${i}`);
    stabilize(c);
    node(c, 3).down = false;
    c.delivered = [];
    node(c, 1).raft.transferLeadership(3);
    expect(node(c, 1).raft.propose('during')).toMatchObject({
      ok: false,
      code: 'proposal_dropped',
    });
    stabilize(c);
    const kinds = c.delivered.filter((m) => m.from === 1 && m.to === 3).map((m) => m.type);
    expect(kinds.indexOf('timeout_now')).toBeGreaterThan(kinds.indexOf('append'));
    expect(node(c, 3).raft.status().role).toBe('leader');
    expect(node(c, 3).appliedData.length).toBe(5);
  });

  // Proves a transfer that cannot finish is abandoned after an election timeout and proposals resume.
  test('a stuck transfer is aborted', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    node(c, 3).down = true;
    node(c, 1).raft.transferLeadership(3);
    expect(node(c, 1).raft.propose('x').ok).toBe(false);
    for (let i = 0; i < c.configFor(1).electionTicks; i++) {
      tickNode(c, 1);
      stabilize(c);
    }
    expect(node(c, 1).raft.status().role).toBe('leader');
    expect(node(c, 1).raft.propose('y').ok).toBe(true);
  });

  // Proves transfers to non-voters (learners, unknown ids) are ignored.
  test('only voters can receive leadership', () => {
    const c = createCluster({ voters: [1, 2, 3], learners: [4] });
    elect(c, 1);
    node(c, 1).raft.transferLeadership(4);
    node(c, 1).raft.transferLeadership(9);
    expect(node(c, 1).raft.propose('still-leader').ok).toBe(true);
    stabilize(c);
    expect(node(c, 4).appliedData).toEqual(['still-leader']);
  });
});
