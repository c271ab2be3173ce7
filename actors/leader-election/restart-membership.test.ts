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
} from './test-cluster.ts';

/** Snapshots node `id` at its applied index and compacts everything the snapshot covers. */
function snapshotAndCompact(c: TestCluster, id: number): number {
  const n = node(c, id);
  const { applied, conf } = n.raft.status();
  n.storage.createSnapshot(applied, conf, new Uint8Array([applied % 256]));
  n.storage.compact(applied);
  return applied;
}

/**
 * Voters 1, 2, 3 led by 1; learner 4 joins with an empty conf and is promoted; voter 3
 * is removed (retired). Membership ends as voters [1, 2, 4], retired [3].
 */
function reshapedCluster(): TestCluster {
  const c = createCluster({ voters: [1, 2, 3] });
  elect(c, 1);
  addNode(c, 4, { voters: [], learners: [] });
  for (const cc of [
    { op: 'add_learner', node: 4 },
    { op: 'promote', node: 4 },
    { op: 'remove', node: 3 },
  ] as const) {
    expect(node(c, 1).raft.proposeConfChange(cc).ok).toBe(true);
    stabilize(c);
  }
  node(c, 3).down = true; // a removed node is shut down for good
  node(c, 1).raft.propose('after-changes');
  stabilize(c);
  return c;
}

describe('§6/§7 membership across snapshot, compaction and restart', () => {
  // Proves §7 + §6 together: after snapshots compact away every config entry, restarted nodes come back with the membership in force (not the bootstrap voters) and can still elect a leader without the removed node.
  test('restarted nodes keep the membership their snapshot recorded', () => {
    const c = reshapedCluster();
    const expected = { voters: [1, 2, 4], learners: [], retired: [3] };
    for (const id of [1, 2, 4]) {
      snapshotAndCompact(c, id);
      expect(node(c, id).storage.firstIndex()).toBeGreaterThan(4); // the config entries are gone
    }
    for (const id of [2, 4]) restart(c, id);
    stabilize(c);
    expect(node(c, 2).raft.status().conf).toEqual(expected);
    expect(node(c, 4).raft.status().conf).toEqual(expected);
    // The old leader goes away: 2 and 4 are a quorum of [1, 2, 4] only if they know it.
    node(c, 1).down = true;
    expect(runUntil(c, () => leaders(c).some((id) => id === 2 || id === 4), 200)).toBe(true);
    const leader = node(c, leaders(c)[0] ?? 0);
    expect(leader.raft.propose('two-of-three').ok).toBe(true);
    stabilize(c);
    expect(node(c, 2).appliedData).toContain('two-of-three');
    expect(node(c, 4).appliedData).toContain('two-of-three');
  });

  // Proves a change applied after the latest snapshot survives a restart through replay of the log after the snapshot.
  test('a change made after the snapshot is replayed on restart', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    node(c, 1).raft.propose('before');
    stabilize(c);
    const snapIndex = snapshotAndCompact(c, 2);
    addNode(c, 4, { voters: [], learners: [] });
    expect(node(c, 1).raft.proposeConfChange({ op: 'add_learner', node: 4 }).ok).toBe(true);
    stabilize(c);
    restart(c, 2);
    expect(node(c, 2).raft.status()).toMatchObject({
      applied: snapIndex,
      conf: { voters: [1, 2, 3], learners: [] },
    });
    stabilize(c);
    expect(node(c, 2).raft.status().conf).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(node(c, 2).applied.map((e) => e.kind)).toEqual(['config']); // only what follows the snapshot
  });
});
