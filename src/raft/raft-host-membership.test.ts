import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import type { ConfState } from '../../actors/leader-election/types.ts';
import { encodeLogCommand } from './log-entry-codec.ts';
import {
  proposeMany,
  rejection,
  TestCluster,
  type TestMember,
  waitFor,
} from './raft-host-test-cluster.ts';

const joining: ConfState = { voters: [], learners: [] };
let c: TestCluster;

beforeEach(() => {
  c = new TestCluster([1, 2, 3]);
});

afterEach(async () => {
  await c.close();
});

/** Waits until the leader has seen `id` acknowledge its whole log. */
function caughtUp(leader: TestMember, id: number): Promise<true> {
  return waitFor(`node ${id} to catch up`, () => {
    const peer = leader.host.peers().find((p) => p.id === id);
    return peer?.lagEntries === 0 || undefined;
  });
}

describe('RaftHost membership operations (thesis §4.1, single-server changes)', () => {
  test('a learner receives the log without counting for quorum; once promoted it counts', async () => {
    // Proves learners are non-voting (§4.2.1) and that promote makes the node part of the quorum.
    c.startVoters();
    let leader = await c.leader();
    await proposeMany(leader.host, 2, 'before');
    const learner = c.start(4, { conf: joining });
    await leader.host.addLearner(4);
    const writes = await proposeMany(leader.host, 5, 'with-learner');
    const last = writes[writes.length - 1]!.index;
    await waitFor('the learner to apply', () => learner.host.commitIndex() >= last);
    expect(learner.host.read(1, last)).toEqual(leader.host.read(1, last));
    expect(learner.host.status().role).toBe('learner');
    expect(learner.host.status().conf).toEqual({ voters: [1, 2, 3], learners: [4] });

    // Two of three voters down: the learner holds the entry, yet it cannot commit.
    const followers = c.others(leader.host.id).filter((m) => m.host.id !== 4);
    for (const f of followers) c.net.setIsolated(f.host.id, true);
    const stuck = leader.host.propose(encodeLogCommand('test.cmd', 'needs-quorum'), {
      timeoutMs: 300,
    });
    const stuckError = rejection(stuck);
    const stuckIndex = leader.host.status().lastIndex;
    await waitFor('the learner to store it', () => learner.storage.lastIndex() >= stuckIndex);
    expect((await stuckError).code).toBe('timeout');
    expect(leader.host.commitIndex()).toBeLessThan(stuckIndex);
    for (const f of followers) c.net.setIsolated(f.host.id, false);

    leader = await c.leader([1, 2, 3]);
    // A new leader accepts membership changes once it has applied an entry of its term.
    await proposeMany(leader.host, 1, 'new-term');
    await caughtUp(leader, 4);
    await leader.host.promote(4);
    expect(leader.host.status().conf.voters).toEqual([1, 2, 3, 4]);
    // Retire one original voter, cut off the other: {leader, 4} is a quorum of {a, b, 4}.
    const [gone, cut] = [1, 2, 3].filter((id) => id !== leader.host.id);
    await leader.host.removeNode(gone!);
    await c.stop(gone!);
    c.net.setIsolated(cut!, true);
    const [committed] = await proposeMany(leader.host, 1, 'four-counts');
    await waitFor('node 4 to apply it', () => learner.host.commitIndex() >= committed!.index);
    expect(c.member(cut!).host.commitIndex()).toBeLessThan(committed!.index);
    expect(learner.host.status().role).toBe('follower');
  });

  test('a removed follower gets no more entries and its id can never be added again', async () => {
    // Proves removeNode and id retirement: a stale process with an old id is never let back in.
    c.startVoters();
    const leader = await c.leader();
    await proposeMany(leader.host, 2, 'before');
    const [removed, kept] = c.others(leader.host.id);
    const change = await leader.host.removeNode(removed!.host.id);
    expect(leader.host.status().conf).toEqual({
      voters: [leader.host.id, kept!.host.id].sort(),
      learners: [],
      retired: [removed!.host.id],
    });
    await waitFor('the kept follower to apply it', () => kept!.host.commitIndex() >= change.index);
    expect(kept!.host.peers().map((p) => p.id)).not.toContain(removed!.host.id);
    const after = await proposeMany(leader.host, 5, 'after');
    const last = after[after.length - 1]!.index;
    await waitFor('the kept follower to apply', () => kept!.host.commitIndex() >= last);
    expect(removed!.storage.lastIndex()).toBeLessThan(after[0]!.index);
    const id = removed!.host.id;
    expect((await rejection(leader.host.addLearner(id))).code).toBe('node_retired');
    expect((await rejection(leader.host.promote(id))).code).toBe('node_retired');
    expect((await rejection(leader.host.removeNode(id))).code).toBe('node_retired');
    expect(leader.host.status().lastIndex).toBe(last);
  });

  test('membership operations refuse with precise codes and append nothing', async () => {
    // Proves each refusal has a stable code a caller can branch on, decided before anything is logged.
    c.startVoters();
    const leader = await c.leader();
    await proposeMany(leader.host, 1, 'warm-up');
    const follower = c.others(leader.host.id)[0]!;
    await waitFor('the follower to know the leader', () => {
      return follower.host.status().leaderId === leader.host.id;
    });
    const lastBefore = leader.host.status().lastIndex;
    const code = async (p: Promise<unknown>) => (await rejection(p)).code;
    expect(await code(leader.host.addLearner(follower.host.id))).toBe('already_member');
    expect(await code(leader.host.promote(follower.host.id))).toBe('already_voter');
    expect(await code(leader.host.promote(9))).toBe('peer_not_found');
    expect(await code(leader.host.removeNode(9))).toBe('peer_not_found');
    expect(await code(leader.host.addLearner(0))).toBe('invalid_node_id');
    const notLeader = await rejection(follower.host.addLearner(5));
    expect(notLeader).toMatchObject({
      code: 'not_leader',
      details: { leaderHint: leader.host.id },
    });
    expect(leader.host.status().lastIndex).toBe(lastBefore);
    // One change at a time: the second, made before the first applied, is refused.
    const first = leader.host.addLearner(5);
    expect(await code(leader.host.addLearner(6))).toBe('membership_change_pending');
    await first;
    // Node 5 never started, so it never acknowledged anything: promoting it could stall commits.
    const lagging = await rejection(leader.host.promote(5));
    expect(lagging).toMatchObject({ code: 'learner_lagging', details: { matchIndex: null } });
    expect(leader.host.status().conf.learners).toEqual([5]);
  });

  test('peers() lists voters and learners, and on the leader each member match index and lag', async () => {
    // Proves the membership view: roles, the leader flag, and the leader's replication progress.
    c.startVoters();
    const leader = await c.leader();
    await proposeMany(leader.host, 1, 'warm-up');
    c.start(4, { conf: joining });
    await leader.host.addLearner(4);
    const writes = await proposeMany(leader.host, 3, 'peers');
    const last = writes[writes.length - 1]!.index;
    for (const id of [1, 2, 3, 4]) if (id !== leader.host.id) await caughtUp(leader, id);
    const leaderId = leader.host.id;
    expect(leader.host.peers()).toEqual(
      [1, 2, 3, 4].map((id) => ({
        id,
        role: id === 4 ? 'learner' : 'voter',
        isLeader: id === leaderId,
        isSelf: id === leaderId,
        matchIndex: last,
        lagEntries: 0,
      })),
    );
    // A learner that stops answering falls behind by exactly what it missed.
    c.net.setIsolated(4, true);
    await proposeMany(leader.host, 2, 'missed');
    expect(leader.host.peers().find((p) => p.id === 4)).toMatchObject({
      matchIndex: last,
      lagEntries: 2,
    });
    const follower = c.others(leaderId).find((m) => m.host.id !== 4)!;
    for (const p of follower.host.peers()) {
      expect(p).toMatchObject({ matchIndex: null, lagEntries: null });
      expect(p.isSelf).toBe(p.id === follower.host.id);
    }
  });
});
