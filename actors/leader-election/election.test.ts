import { describe, expect, test } from 'bun:test';
import { createPrng } from '../../src/core/prng.ts';
import { defaultRaftConfig } from './config.ts';
import { createRaft } from './index.ts';
import { MemoryStorage } from './memory-storage.ts';
import {
  createCluster,
  deliver,
  elect,
  leaders,
  node,
  processAllReady,
  runUntil,
  stabilize,
  tickNode,
} from './test-cluster.ts';
import type { RaftMessage } from './types.ts';

describe('§5.2 leader election', () => {
  // Proves §5.2: from a cold start, timeouts alone elect exactly one leader, which commits a no-op.
  test('a cluster elects one leader by timeout', () => {
    const c = createCluster({ voters: [1, 2, 3], seed: 3 });
    expect(runUntil(c, () => leaders(c).length === 1, 100)).toBe(true);
    const leaderId = leaders(c)[0] ?? 0;
    const term = node(c, leaderId).raft.status().term;
    for (const id of [1, 2, 3]) {
      const st = node(c, id).raft.status();
      expect(st.leaderId).toBe(leaderId);
      expect(st.term).toBe(term);
      expect(node(c, id).applied.map((e) => e.kind)).toEqual(['noop']);
    }
  });

  // Proves §5.2's randomized timeouts: a node fires in [electionTicks, 2*electionTicks), not always at the same tick.
  test('election timeouts are randomized within [e, 2e)', () => {
    const fired = new Set<number>();
    for (let seed = 1; seed <= 30; seed++) {
      const storage = new MemoryStorage();
      storage.setConf({ voters: [1, 2, 3], learners: [] });
      const config = { ...defaultRaftConfig(1), electionTicks: 10 };
      const raft = createRaft(config, storage, createPrng(seed));
      let ticks = 0;
      while (raft.status().role === 'follower' && ticks < 100) {
        raft.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      fired.add(ticks);
    }
    expect(fired.size).toBeGreaterThan(3);
  });

  // Proves §5.2: a split vote elects nobody in that term, and randomized timeouts resolve it later.
  test('a split vote is resolved by randomized timeouts', () => {
    const c = createCluster({
      voters: [1, 2, 3, 4],
      seed: 11,
      config: (x) => ({ ...x, preVote: false }),
    });
    node(c, 1).raft.campaign();
    node(c, 2).raft.campaign();
    processAllReady(c);
    // 3 hears 1 first and 4 hears 2 first: two votes each, quorum is three.
    const splitter = (m: RaftMessage) =>
      m.type === 'vote' && ((m.to === 3 && m.from === 2) || (m.to === 4 && m.from === 1));
    stabilize(c, splitter);
    expect(leaders(c)).toEqual([]);
    expect(node(c, 1).raft.status().role).toBe('candidate');
    expect(node(c, 2).raft.status().role).toBe('candidate');
    expect(runUntil(c, () => leaders(c).length === 1, 200)).toBe(true);
  });

  // Proves §5.2: a node never grants two votes in one term (and the test bug flag shows the check can fail).
  test('one vote per term', () => {
    for (const bug of [false, true]) {
      const c = createCluster({
        voters: [1, 2, 3],
        config: (x) => ({ ...x, preVote: false, testBugs: { voteTwiceInTerm: bug } }),
      });
      const vote = (from: number): RaftMessage => ({
        type: 'vote',
        from,
        to: 3,
        term: 1,
        pre: false,
        lastIndex: 0,
        lastTerm: 0,
        transfer: false,
      });
      node(c, 3).raft.step(vote(1));
      node(c, 3).raft.step(vote(2));
      const rd = node(c, 3).raft.ready();
      const grants = rd.messages.filter((m) => m.type === 'vote_resp' && m.granted).length;
      expect(grants).toBe(bug ? 2 : 1);
    }
  });

  // Proves §5.2 with the Ready contract: a granted vote is in HardState with mustSync in the same Ready as the response.
  test('a vote is persisted before its response leaves', () => {
    const c = createCluster({ voters: [1, 2, 3], config: (x) => ({ ...x, preVote: false }) });
    node(c, 1).raft.campaign();
    processAllReady(c);
    deliver(c, (m) => m.to !== 2);
    const rd = node(c, 2).raft.ready();
    const resp = rd.messages.find((m) => m.type === 'vote_resp');
    expect(resp).toMatchObject({ granted: true, to: 1 });
    expect(rd.hardState).toMatchObject({ term: 1, vote: 1 });
    expect(rd.mustSync).toBe(true);
    node(c, 2).raft.advance(rd);
  });

  // Proves §5.4.1: a candidate whose log is behind a voter's is refused; an up-to-date one wins.
  test('votes require an up-to-date log', () => {
    const c = createCluster({
      voters: [1, 2, 3],
      config: (x) => ({ ...x, preVote: false, checkQuorum: false }),
    });
    elect(c, 1);
    node(c, 1).raft.propose('a');
    stabilize(c, (m) => m.to === 3); // 3 misses 'a'
    node(c, 1).down = true;
    node(c, 3).raft.campaign();
    stabilize(c);
    expect(node(c, 3).raft.status().role).not.toBe('leader');
    node(c, 2).raft.campaign();
    stabilize(c);
    expect(node(c, 2).raft.status().role).toBe('leader');
    expect(node(c, 3).appliedData).toEqual(['a']);
  });
});

describe('thesis §9.6 pre-vote and §6.2 check-quorum', () => {
  // Proves pre-vote: a partitioned node keeps campaigning without raising its term, so healing does not depose the leader.
  test('pre-vote prevents term inflation from a partitioned node', () => {
    const c = createCluster({ voters: [1, 2, 3], seed: 5 });
    elect(c, 1);
    const term = node(c, 1).raft.status().term;
    c.partitions = [[1, 2], [3]];
    for (let i = 0; i < 50; i++) {
      tickNode(c, 3);
      stabilize(c);
    }
    expect(node(c, 3).raft.status().term).toBe(term);
    c.partitions = [];
    runUntil(c, () => false, 10);
    expect(node(c, 1).raft.status()).toMatchObject({ role: 'leader', term });
  });

  // Proves the contrast: without pre-vote (or check-quorum) the same partition inflates the term and deposes the leader.
  test('without pre-vote the partitioned node disrupts the cluster', () => {
    const c = createCluster({
      voters: [1, 2, 3],
      seed: 5,
      config: (x) => ({ ...x, preVote: false, checkQuorum: false }),
    });
    elect(c, 1);
    const term = node(c, 1).raft.status().term;
    c.partitions = [[1, 2], [3]];
    for (let i = 0; i < 50; i++) {
      tickNode(c, 3);
      stabilize(c);
    }
    expect(node(c, 3).raft.status().term).toBeGreaterThan(term + 2);
    c.partitions = [];
    // 3's next vote request carries its inflated term and forces the leader out.
    for (let i = 0; i < 2 * c.configFor(3).electionTicks; i++) {
      tickNode(c, 3);
      stabilize(c);
    }
    expect(node(c, 1).raft.status().term).toBeGreaterThan(term);
  });

  // Proves check-quorum: a leader cut off from a quorum steps down within an election timeout.
  test('an isolated leader steps down', () => {
    const c = createCluster({ voters: [1, 2, 3], seed: 2 });
    elect(c, 1);
    c.partitions = [[1], [2, 3]];
    const e = c.configFor(1).electionTicks;
    for (let i = 0; i < 2 * e; i++) {
      tickNode(c, 1);
      stabilize(c);
    }
    expect(node(c, 1).raft.status().role).toBe('follower');
  });

  // Proves leader stickiness: a follower that heard from its leader recently ignores a higher-term vote request.
  test('followers in a lease ignore vote requests', () => {
    const c = createCluster({ voters: [1, 2, 3] });
    elect(c, 1);
    const term = node(c, 2).raft.status().term;
    const req: RaftMessage = {
      type: 'vote',
      from: 3,
      to: 2,
      term: term + 1,
      pre: false,
      lastIndex: 99,
      lastTerm: 99,
      transfer: false,
    };
    node(c, 2).raft.step(req);
    expect(node(c, 2).raft.status()).toMatchObject({ term, leaderId: 1 });
    // Once the lease ran out (no word from the leader), the same request is honoured.
    c.partitions = [[2, 3], [1]];
    tickNode(c, 2, c.configFor(2).electionTicks);
    node(c, 2).raft.step(req);
    expect(node(c, 2).raft.status().term).toBe(term + 1);
  });
});
