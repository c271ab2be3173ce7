import { describe, expect, test } from 'bun:test';
import {
  createCluster,
  elect,
  node,
  stabilize,
  type TestCluster,
  tickNode,
} from './test-cluster.ts';

/** The leader snapshots its applied state and compacts its log (what the driver does). */
function compactLeader(c: TestCluster, leaderId: number, data: Uint8Array): number {
  const n = node(c, leaderId);
  const applied = n.raft.status().applied;
  n.storage.createSnapshot(applied, n.raft.status().conf, data);
  n.storage.compact(applied);
  return applied;
}

function lagBehindCompaction(chunkBytes: number, data: Uint8Array) {
  const c = createCluster({
    voters: [1, 2, 3],
    config: (x) => ({ ...x, snapshotChunkBytes: chunkBytes }),
  });
  elect(c, 1);
  node(c, 3).down = true;
  for (let i = 0; i < 10; i++) node(c, 1).raft.propose(`p${i}`);
  stabilize(c);
  const snapIndex = compactLeader(c, 1, data);
  node(c, 1).raft.propose('after');
  stabilize(c);
  node(c, 3).down = false;
  c.delivered = [];
  return { c, snapIndex };
}

describe('§7 log compaction and InstallSnapshot', () => {
  // Proves §7: a follower needing compacted entries gets the snapshot, installs it, then the rest of the log.
  test('a lagging follower is caught up with a snapshot', () => {
    const data = new TextEncoder().encode('state-machine-bytes');
    const { c, snapIndex } = lagBehindCompaction(1024, data);
    tickNode(c, 1);
    stabilize(c);
    const three = node(c, 3);
    expect(three.snapshotsInstalled.length).toBe(1);
    expect(three.snapshotsInstalled[0]?.meta.index).toBe(snapIndex);
    expect(new TextDecoder().decode(three.snapshotsInstalled[0]?.data)).toBe('state-machine-bytes');
    expect(three.storage.firstIndex()).toBe(snapIndex + 1);
    expect(three.appliedData).toEqual(['after']); // only what follows the snapshot
    expect(three.raft.status().commit).toBe(node(c, 1).raft.status().commit);
    expect(three.raft.status().conf.voters).toEqual([1, 2, 3]);
  });

  // Proves chunking: the snapshot travels in snapshotChunkBytes pieces and is reassembled byte for byte.
  test('snapshots are sent in chunks and reassembled', () => {
    const data = Uint8Array.from({ length: 10 }, (_, i) => i * 7);
    const { c } = lagBehindCompaction(4, data);
    tickNode(c, 1);
    stabilize(c);
    const chunks = c.delivered.filter((m) => m.type === 'snapshot');
    expect(chunks.map((m) => (m.type === 'snapshot' ? [m.offset, m.done] : []))).toEqual([
      [0, false],
      [4, false],
      [8, true],
    ]);
    expect([...(node(c, 3).snapshotsInstalled[0]?.data ?? [])]).toEqual([...data]);
  });

  // Proves a lost chunk does not stall the transfer: it is resent after an election timeout of silence.
  test('a lost chunk is resent', () => {
    const data = Uint8Array.from({ length: 10 }, (_, i) => i);
    const { c } = lagBehindCompaction(4, data);
    tickNode(c, 1);
    let dropped = 0;
    stabilize(c, (m) => m.type === 'snapshot' && m.offset === 4 && dropped++ === 0);
    expect(node(c, 3).snapshotsInstalled.length).toBe(0);
    for (let i = 0; i < c.configFor(1).electionTicks; i++) {
      tickNode(c, 1);
      tickNode(c, 2);
      tickNode(c, 3);
      stabilize(c);
    }
    expect(node(c, 3).snapshotsInstalled.length).toBe(1);
    expect([...(node(c, 3).snapshotsInstalled[0]?.data ?? [])]).toEqual([...data]);
  });

  // Proves reportSnapshotDone(false) abandons the transfer and a later heartbeat starts it again.
  test('a failed snapshot is retried', () => {
    const data = new Uint8Array([1, 2, 3]);
    const { c } = lagBehindCompaction(1024, data);
    tickNode(c, 1);
    stabilize(c, (m) => m.type === 'snapshot');
    node(c, 1).raft.reportSnapshotDone(3, false);
    tickNode(c, 1);
    stabilize(c);
    expect(node(c, 3).snapshotsInstalled.length).toBe(1);
    expect(node(c, 3).appliedData).toEqual(['after']);
  });
});
