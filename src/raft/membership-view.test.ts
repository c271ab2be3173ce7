import { describe, expect, test } from 'bun:test';
import type { RaftStatus } from '../../actors/leader-election/index.ts';
import type { ConfState } from '../../actors/leader-election/types.ts';
import { limits } from '../core/limits.ts';
import {
  AckedIndexes,
  listPeers,
  membershipRefusal,
  pendingChangeRefusal,
  promoteRefusal,
} from './membership-view.ts';

const conf: ConfState = { voters: [1, 2, 3], learners: [4] };

function status(role: RaftStatus['role'], term: number, lastIndex: number): RaftStatus {
  return { id: 1, role, term, leaderId: 1, commit: lastIndex, applied: lastIndex, lastIndex, conf };
}

describe('membershipRefusal', () => {
  test('mirrors the core rules, including the last voter and add_voter of a learner', () => {
    // Proves the pure precheck on cases a 3-node test cluster cannot reach.
    const single: ConfState = { voters: [1], learners: [2], retired: [3] };
    expect(membershipRefusal(single, { op: 'remove', node: 1 })?.code).toBe('last_voter');
    expect(membershipRefusal(single, { op: 'remove', node: 2 })).toBeNull();
    expect(membershipRefusal(single, { op: 'add_voter', node: 2 })).toBeNull();
    expect(membershipRefusal(single, { op: 'add_voter', node: 1 })?.code).toBe('already_member');
    expect(membershipRefusal(single, { op: 'add_voter', node: 3 })?.code).toBe('node_retired');
    expect(membershipRefusal(single, { op: 'add_learner', node: 1.5 })?.code).toBe(
      'invalid_node_id',
    );
    expect(membershipRefusal(single, { op: 'promote', node: 2 })).toBeNull();
    expect(membershipRefusal(single, { op: 'promote', node: 3 })?.code).toBe('node_retired');
  });
});

describe('AckedIndexes and listPeers', () => {
  test('match indices count only in the term they were acknowledged in, and only for members', () => {
    // Proves the rebuilt progress (§5.3): highest ack per term, reset by a new term, bounded to members.
    const acked = new AckedIndexes();
    acked.note(2, 5, 10, () => true);
    acked.note(2, 5, 8, () => true); // a late, smaller ack does not move match back
    acked.note(4, 5, 7, () => true);
    acked.note(9, 5, 7, () => false); // not a member: not remembered
    expect(acked.matchIndex(2, 5)).toBe(10);
    expect(acked.matchIndex(9, 5)).toBeNull();
    expect(acked.matchIndex(2, 6)).toBeNull();
    const peers = listPeers(status('leader', 5, 12), acked);
    expect(peers.map((p) => [p.id, p.role, p.matchIndex, p.lagEntries])).toEqual([
      [1, 'voter', 12, 0],
      [2, 'voter', 10, 2],
      [3, 'voter', null, null],
      [4, 'learner', 7, 5],
    ]);
    expect(listPeers(status('follower', 5, 12), acked).every((p) => p.matchIndex === null)).toBe(
      true,
    );
    acked.retain({ voters: [1, 3], learners: [] });
    expect(acked.matchIndex(2, 5)).toBeNull();
    expect(acked.matchIndex(4, 5)).toBeNull();
  });
});

describe('promoteRefusal and pendingChangeRefusal', () => {
  test('refuse a lagging learner and a change while another is pending or the term has no applied entry', () => {
    // Proves the one-change-at-a-time rules (thesis §4.1) and the catch-up rule get stable codes.
    const lagMax = limits.raftPromoteLagEntriesMax;
    expect(promoteRefusal(4, 100, 100 + lagMax)).toBeNull();
    expect(promoteRefusal(4, 100, 101 + lagMax)?.code).toBe('learner_lagging');
    expect(promoteRefusal(4, null, 1)?.code).toBe('learner_lagging');
    const ready = {
      term: 3,
      appliedIndex: 20,
      appliedTerm: 3,
      lastProposed: { index: 20, term: 3 },
    };
    expect(pendingChangeRefusal(ready)).toBeNull();
    const pending = { ...ready, lastProposed: { index: 21, term: 3 } };
    expect(pendingChangeRefusal(pending)?.code).toBe('membership_change_pending');
    // A proposal from an earlier term of ours is not pending: that term's leader is gone.
    expect(pendingChangeRefusal({ ...ready, lastProposed: { index: 99, term: 2 } })).toBeNull();
    expect(pendingChangeRefusal({ ...ready, appliedTerm: 2 })?.code).toBe(
      'membership_change_pending',
    );
    expect(pendingChangeRefusal({ ...ready, appliedTerm: null })?.code).toBe(
      'membership_change_pending',
    );
  });
});
