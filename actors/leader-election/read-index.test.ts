import { describe, expect, test } from 'bun:test';
import { createPrng } from '../../src/core/prng.ts';
import { defaultRaftConfig } from './config.ts';
import { createRaft } from './index.ts';
import { MemoryStorage } from './memory-storage.ts';
import {
  createCluster,
  elect,
  node,
  processAllReady,
  stabilize,
  tickNode,
} from './test-cluster.ts';

describe('§6.4 ReadIndex', () => {
  // Proves §6.4: the leader answers a read with its commit index only after a heartbeat quorum echoes the request.
  test('the leader confirms leadership before answering', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    node(c, 1).raft.propose('w');
    stabilize(c);
    expect(node(c, 1).raft.readIndex('r1')).toEqual({ ok: true });
    processAllReady(c);
    expect(node(c, 1).readStates).toEqual([]);
    const beats = c.queue.filter((m) => m.type === 'heartbeat' && m.context === 'r1');
    expect(beats.length).toBe(2);
    stabilize(c);
    expect(node(c, 1).readStates).toEqual([{ requestId: 'r1', index: 2 }]);
  });

  // Proves §6.4 step 1: a new leader holds reads until it has committed an entry of its own term.
  test('reads wait for the first commit of the term', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    node(c, 1).raft.campaign();
    stabilize(c, (m) => m.type === 'append_resp');
    expect(node(c, 1).raft.status().role).toBe('leader');
    expect(node(c, 1).raft.readIndex('early')).toEqual({ ok: true });
    stabilize(c, (m) => m.type === 'append_resp');
    expect(node(c, 1).readStates).toEqual([]);
    tickNode(c, 1);
    stabilize(c);
    expect(node(c, 1).readStates).toEqual([{ requestId: 'early', index: 1 }]);
  });

  // Proves a leader cut off from its quorum never answers a read (it might be stale).
  test('a partitioned leader cannot serve reads', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    c.partitions = [[1], [2, 3]];
    node(c, 1).raft.readIndex('stale?');
    for (let i = 0; i < 3; i++) {
      tickNode(c, 1);
      stabilize(c);
    }
    expect(node(c, 1).readStates).toEqual([]);
  });

  // Proves followers refuse reads with a hint to the leader (no forwarding of reads).
  test('followers answer not_leader', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    expect(node(c, 2).raft.readIndex('r')).toEqual({
      ok: false,
      code: 'not_leader',
      leaderHint: 1,
    });
  });

  // Proves lease reads skip the heartbeat round, and are refused by configuration without check-quorum.
  test('lease reads answer at once and require checkQuorum', () => {
    const c = createCluster({ voters: [1, 2, 3], config: (x) => ({ ...x, leaseReads: true }) });
    elect(c, 1);
    node(c, 1).raft.readIndex('lease');
    processAllReady(c);
    expect(node(c, 1).readStates).toEqual([{ requestId: 'lease', index: 1 }]);
    const storage = new MemoryStorage();
    const config = { ...defaultRaftConfig(1), leaseReads: true, checkQuorum: false };
    expect(() => createRaft(config, storage, createPrng(1))).toThrow(
      'leaseReads requires checkQuorum',
    );
  });
});
