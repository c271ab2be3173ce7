import { expect, test } from 'bun:test';
import { parseConfEntry, parseRaftMessage } from './messages.ts';
import { createCluster, elect, node, stabilize, tickNode } from './test-cluster.ts';

// Proves every message the core emits in a run (votes, appends, heartbeats, snapshots, forwards) round-trips through the zod schema.
test('RaftMessageSchema accepts everything the core sends', () => {
  const c = createCluster({ voters: [1, 2, 3], config: (x) => ({ ...x, snapshotChunkBytes: 2 }) });
  elect(c, 1);
  node(c, 3).down = true;
  node(c, 2).raft.propose('via-forward');
  node(c, 1).raft.readIndex('ctx');
  stabilize(c);
  const one = node(c, 1);
  const applied = one.raft.status().applied;
  one.storage.createSnapshot(applied, one.raft.status().conf, new Uint8Array([1, 2, 3, 4, 5]));
  one.storage.compact(applied);
  node(c, 3).down = false;
  tickNode(c, 1);
  stabilize(c);
  node(c, 1).raft.transferLeadership(2);
  stabilize(c);
  const types = new Set(c.delivered.map((m) => m.type));
  expect(types.size).toBe(10);
  for (const m of c.delivered) {
    const wire = JSON.parse(JSON.stringify(m));
    expect(parseRaftMessage(wire)).toEqual(wire);
  }
});

// Proves malformed frames are rejected as values, not exceptions.
test('malformed messages are rejected', () => {
  expect(parseRaftMessage({ type: 'vote', from: 1 })).toBeNull();
  expect(parseRaftMessage({ type: 'nope', from: 1, to: 2, term: 1 })).toBeNull();
  expect(parseRaftMessage('garbage')).toBeNull();
  expect(parseRaftMessage({ type: 'heartbeat', from: 1, to: 2, term: -1, commit: 0 })).toBeNull();
});

// Proves a config entry's data parses as its change plus the membership it produces.
test('config entry data parses', () => {
  const data = JSON.stringify({
    op: 'remove',
    node: 3,
    conf: { voters: [1, 2], learners: [], retired: [3] },
  });
  expect(parseConfEntry(data)).toEqual({
    change: { op: 'remove', node: 3 },
    conf: { voters: [1, 2], learners: [], retired: [3] },
  });
  expect(parseConfEntry('{"op":"explode"}')).toBeNull();
  expect(parseConfEntry('not json')).toBeNull();
});
