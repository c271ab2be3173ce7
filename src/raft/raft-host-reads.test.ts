import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { limits } from '../core/limits.ts';
import { encodeLogCommand } from './log-entry-codec.ts';
import type { ProposalOutcome } from './proposal-tracker.ts';
import {
  proposeMany,
  rejection,
  TestCluster,
  type TestMember,
  waitFor,
  waitMsMax,
} from './raft-host-test-cluster.ts';

let c: TestCluster;

beforeEach(() => {
  c = new TestCluster([1, 2, 3]);
});

afterEach(async () => {
  await c.close();
});

/** Polls on every macrotask (not every 5 ms), to act right after a role change. */
async function waitForLeaderClosely(m: TestMember): Promise<void> {
  const deadline = performance.now() + waitMsMax;
  while (m.host.status().role !== 'leader') {
    if (performance.now() > deadline) throw new Error(`node ${m.host.id} never led`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('RaftHost.readBarrier (thesis §6.4, ReadIndex)', () => {
  test('a barrier on the leader covers every write acknowledged before it, and the state has applied it', async () => {
    // Proves linearizable reads: read index >= each acknowledged write, applied before the barrier resolves.
    c.startVoters();
    const leader = await c.leader();
    const checks: Promise<void>[] = [];
    const barrierAfter = (write: ProposalOutcome) =>
      leader.host.readBarrier().then(({ index }) => {
        expect(index).toBeGreaterThanOrEqual(write.index);
        expect(leader.host.commitIndex()).toBeGreaterThanOrEqual(index);
      });
    for (let i = 0; i < 10; i++) {
      const write = await leader.host.propose(encodeLogCommand('test.cmd', { i }));
      checks.push(barrierAfter(write));
    }
    // Writes and barriers interleaved: each barrier starts when its write is acknowledged.
    const writes = Array.from({ length: 30 }, (_, i) =>
      leader.host
        .propose(encodeLogCommand('test.cmd', { burst: i }))
        .then((write) => barrierAfter(write)),
    );
    await Promise.all([...checks, ...writes]);
    expect(checks.length + writes.length).toBe(40);
  });

  test('a barrier on a just-elected leader covers writes the previous leader acknowledged', async () => {
    // Proves the §6.4 rule that a new leader first commits an entry of its term before serving reads.
    c.startVoters();
    const oldLeader = await c.leader();
    const writes = await proposeMany(oldLeader.host, 5, 'old-term');
    const lastWrite = writes[writes.length - 1]!.index;
    const next = c.others(oldLeader.host.id)[0]!;
    oldLeader.host.transferLeadership(next.host.id);
    await waitForLeaderClosely(next);
    const { index } = await next.host.readBarrier();
    expect(index).toBeGreaterThanOrEqual(lastWrite);
    expect(next.host.commitIndex()).toBeGreaterThanOrEqual(index);
    expect(next.host.status().term).toBeGreaterThan(writes[0]!.term);
  });

  test('a follower refuses a barrier with not_leader and names the leader', async () => {
    // Proves the API layer gets a usable leaderHint to forward reads to.
    c.startVoters();
    const leader = await c.leader();
    const follower = c.others(leader.host.id)[0]!;
    await waitFor('the follower to know the leader', () => {
      return follower.host.status().leaderId === leader.host.id;
    });
    const error = await rejection(follower.host.readBarrier());
    expect(error.code).toBe('not_leader');
    expect(error.details).toEqual({ leaderHint: leader.host.id });
  });

  test('a leader cut off from its quorum never completes a barrier, while the majority moves on', async () => {
    // Proves no stale read (§6.4): the deposed leader's barrier fails, at once, instead of serving old state.
    c.startVoters();
    const oldLeader = await c.leader();
    await proposeMany(oldLeader.host, 3, 'before');
    c.net.setIsolated(oldLeader.host.id, true);
    const read = rejection(oldLeader.host.readBarrier({ timeoutMs: waitMsMax }));
    const newLeader = await c.leader(c.others(oldLeader.host.id).map((m) => m.host.id));
    const [write] = await proposeMany(newLeader.host, 1, 'after');
    const error = await read;
    // Check-quorum makes it step down; the host then fails the round the core abandoned,
    // instead of letting the caller wait for its timeout.
    expect(error.code).toBe('not_leader');
    expect(oldLeader.host.commitIndex()).toBeLessThan(write!.index);
    c.net.setIsolated(oldLeader.host.id, false);
    await waitFor('the old leader to catch up', () => oldLeader.host.commitIndex() >= write!.index);
  });

  test('without check-quorum an isolated leader keeps its role but its barrier times out; pending barriers are bounded', async () => {
    // Proves it is the quorum heartbeat round, not the role, that confirms a read; and the named bound.
    c.startVoters({ config: { checkQuorum: false }, pendingReadsMax: 4 });
    const leader = await c.leader();
    await proposeMany(leader.host, 2, 'before');
    c.net.setIsolated(leader.host.id, true);
    const reads = Array.from({ length: 4 }, () =>
      rejection(leader.host.readBarrier({ timeoutMs: 200 })),
    );
    const overflow = await rejection(leader.host.readBarrier());
    expect(overflow.code).toBe('read_dropped');
    for (const error of await Promise.all(reads)) {
      expect(error.code).toBe('timeout');
      expect(error.details).toEqual({ stage: 'confirming' });
    }
    expect(leader.host.status().role).toBe('leader');
    c.net.setIsolated(leader.host.id, false);
    const current = await c.leader();
    const { index } = await current.host.readBarrier();
    expect(index).toBeGreaterThanOrEqual(3);
  });

  test("rounds abandoned by timed-out barriers fill the core's bounded queue, which answers read_dropped", async () => {
    // Proves the core's read_dropped refusal reaches the caller as BerthError read_dropped.
    c.startVoters({ config: { checkQuorum: false } });
    const leader = await c.leader();
    await proposeMany(leader.host, 1, 'before');
    c.net.setIsolated(leader.host.id, true);
    const timedOut: Promise<unknown>[] = [];
    for (let i = 0; i < limits.raftReadIndexPendingMax; i++) {
      timedOut.push(rejection(leader.host.readBarrier({ timeoutMs: 1 })));
      // One round per macrotask: barriers in one turn would share a round.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(timedOut);
    const error = await rejection(leader.host.readBarrier());
    expect(error.code).toBe('read_dropped');
    expect(leader.host.status().role).toBe('leader');
  });

  test('closing the host rejects pending barriers with host_closed', async () => {
    // Proves no barrier is left hanging when the node stops.
    c.startVoters({ config: { checkQuorum: false } });
    const leader = await c.leader();
    c.net.setIsolated(leader.host.id, true);
    const read = rejection(leader.host.readBarrier({ timeoutMs: waitMsMax }));
    await new Promise((resolve) => setImmediate(resolve));
    await c.stop(leader.host.id);
    expect((await read).code).toBe('host_closed');
    expect((await rejection(leader.host.readBarrier())).code).toBe('host_closed');
  });
});
