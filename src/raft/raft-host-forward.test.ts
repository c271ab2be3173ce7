import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { encodeLogCommand } from './log-entry-codec.ts';
import { TestCluster, waitFor } from './raft-host-test-cluster.ts';

let c: TestCluster;

beforeEach(() => {
  c = new TestCluster([1, 2, 3]);
});

afterEach(async () => {
  await c.close();
});

describe('RaftHost.forward (follower proposals through the peer transport)', () => {
  // Proves a follower's fire-and-forget proposal reaches the leader and commits on every node.
  test('a follower forwards to the leader and the entry commits everywhere', async () => {
    c.startVoters();
    const leader = await c.leader();
    const follower = c.others(leader.host.id)[0]!;
    await waitFor(
      'the follower learns the leader',
      () => follower.host.status().leaderId === leader.host.id,
    );
    const data = encodeLogCommand('test.forwarded', { n: 1 });
    expect(follower.host.forward(data)).toBe('forwarded');
    for (const id of [1, 2, 3]) {
      await waitFor(`node ${id} applies the forwarded entry`, () =>
        c.member(id).applied.some((e) => e.data === data),
      );
    }
    expect(leader.host.forward(encodeLogCommand('test.forwarded', { n: 2 }))).toBe('proposed');
  });

  // Proves a node with no known leader says so instead of pretending to forward.
  test('no leader known → no_leader', () => {
    c.start(1);
    expect(c.member(1).host.forward(encodeLogCommand('test.forwarded', {}))).toBe('no_leader');
  });
});
