// Seeded random fault runs over the in-memory cluster, checking Raft's safety properties
// (Figure 3) after every step. The simulator in src/sim/ does this at scale; this keeps a
// fast in-folder check. More seeds: RAFT_FAULT_SEEDS=500 bun test random-faults.
import { expect, test } from 'bun:test';
import { assert } from '../../src/core/assert.ts';
import { createPrng, type Prng } from '../../src/core/prng.ts';
import {
  addNode,
  createCluster,
  node,
  processAllReady,
  restart,
  type TestCluster,
} from './test-cluster.ts';

const seedsCount = Number(process.env.RAFT_FAULT_SEEDS ?? 25);
const seedFirst = Number(process.env.RAFT_FAULT_SEED_FIRST ?? 1);
const stepsPerRun = 400;

interface Observed {
  /** term -> the one leader seen in it (Election Safety). */
  leaderOfTerm: Map<number, number>;
  /** index -> "term/data" of every entry some node applied (State Machine Safety). */
  appliedAt: Map<number, string>;
  appliedCount: Map<number, number>;
  /** index -> highest term any node had when the entry was first seen applied. */
  committedBy: Map<number, number>;
}

function checkInvariants(c: TestCluster, seen: Observed): void {
  const termNow = Math.max(...[...c.nodes.values()].map((n) => n.raft.status().term));
  for (const n of c.nodes.values()) {
    const st = n.raft.status();
    if (st.role === 'leader') {
      const other = seen.leaderOfTerm.get(st.term);
      assert(other === undefined || other === n.id, `two leaders in term ${st.term}`);
      seen.leaderOfTerm.set(st.term, n.id);
      checkLeaderCompleteness(c, n.id, st.term, seen);
    }
    const done = seen.appliedCount.get(n.id) ?? 0;
    for (const e of n.applied.slice(done)) {
      const key = `${e.term}/${e.kind}/${e.data}`;
      const prior = seen.appliedAt.get(e.index);
      assert(prior === undefined || prior === key, `index ${e.index}: ${prior} vs ${key}`);
      seen.appliedAt.set(e.index, key);
      if (!seen.committedBy.has(e.index)) seen.committedBy.set(e.index, termNow);
    }
    seen.appliedCount.set(n.id, n.applied.length);
  }
}

/**
 * Leader Completeness: a leader of a term after the one an entry was committed in holds
 * that entry. (A stale leader of an older term, not yet stepped down, may lack it.)
 */
function checkLeaderCompleteness(c: TestCluster, id: number, term: number, seen: Observed): void {
  const storage = node(c, id).storage;
  for (const [index, key] of seen.appliedAt) {
    if ((seen.committedBy.get(index) ?? 0) >= term) continue;
    if (index < storage.firstIndex() || index > storage.lastIndex()) {
      assert(index < storage.firstIndex(), `leader ${id} lacks committed index ${index}`);
      continue;
    }
    const entryTerm = Number(key.split('/')[0]);
    assert(storage.term(index) === entryTerm, `leader ${id} has a different entry at ${index}`);
  }
}

function randomStep(c: TestCluster, prng: Prng, proposals: { n: number }): void {
  const ids = [...c.nodes.keys()];
  const roll = prng.next();
  if (roll < 0.3) {
    for (const n of c.nodes.values()) if (!n.down) n.raft.tick();
  } else if (roll < 0.45) {
    const target = node(c, prng.pick(ids));
    if (!target.down) target.raft.propose(`v${proposals.n++}`);
  } else if (roll < 0.48) {
    const [a, b] = [prng.pick(ids), prng.pick(ids)];
    c.partitions = a === b ? [] : [[a], ids.filter((x) => x !== a)];
  } else if (roll < 0.5) {
    c.partitions = [];
  } else if (roll < 0.52) {
    const id = prng.pick(ids);
    restart(c, id, prng.int(1, 1000)); // crash: unsent state is lost, storage survives
    c.queue = c.queue.filter((m) => m.to !== id);
  } else if (roll < 0.54) {
    compactOne(c, prng.pick(ids));
  } else if (roll < 0.56) {
    const leader = [...c.nodes.values()].find((n) => n.raft.status().role === 'leader');
    leader?.raft.transferLeadership(prng.pick(ids));
  } else if (roll < 0.58) {
    changeMembership(c, prng);
  }
  deliverSome(c, prng);
}

/** Adds a fresh learner, promotes one, or removes a member (ids are never reused). */
function changeMembership(c: TestCluster, prng: Prng): void {
  const leader = [...c.nodes.values()].find((n) => !n.down && n.raft.status().role === 'leader');
  if (!leader) return;
  const conf = leader.raft.status().conf;
  const r = prng.next();
  if (r < 0.4 && c.nodes.size < 9) {
    const id = Math.max(...c.nodes.keys()) + 1;
    if (leader.raft.proposeConfChange({ op: 'add_learner', node: id }).ok) {
      addNode(c, id, { voters: [], learners: [] });
    }
  } else if (r < 0.7 && conf.learners.length > 0) {
    leader.raft.proposeConfChange({ op: 'promote', node: prng.pick(conf.learners) });
  } else if (conf.voters.length > 3) {
    leader.raft.proposeConfChange({ op: 'remove', node: prng.pick(conf.voters) });
  }
}

function compactOne(c: TestCluster, id: number): void {
  const n = node(c, id);
  const st = n.raft.status();
  if (st.applied <= n.storage.snapshot().meta.index || st.applied > n.storage.lastIndex()) return;
  n.storage.createSnapshot(st.applied, st.conf, new Uint8Array([st.applied % 256]));
  n.storage.compact(st.applied);
}

/** Delivers a random subset in random order, drops a few, delays the rest. */
function deliverSome(c: TestCluster, prng: Prng): void {
  const batch = c.queue;
  c.queue = [];
  for (const m of batch) {
    const r = prng.next();
    if (r < 0.05) continue; // lost
    if (r < 0.2) {
      c.queue.push(m); // delayed (reordered behind later messages)
      continue;
    }
    const target = c.nodes.get(m.to);
    const reachable =
      c.partitions.length === 0 || c.partitions.some((g) => g.includes(m.from) && g.includes(m.to));
    if (target && !target.down && reachable) target.raft.step(m);
  }
}

// Proves Election Safety, Leader Completeness and State Machine Safety (Figure 3) hold under seeded loss, reordering, partitions, crashes and compaction, and that the cluster still makes progress.
test('safety under random faults', () => {
  let totalApplied = 0;
  for (let seed = seedFirst; seed < seedFirst + seedsCount; seed++) {
    const prng = createPrng(seed);
    const c = createCluster({ voters: [1, 2, 3, 4, 5].slice(0, 3 + (seed % 3)), seed });
    const seen: Observed = {
      leaderOfTerm: new Map(),
      appliedAt: new Map(),
      appliedCount: new Map(),
      committedBy: new Map(),
    };
    const proposals = { n: 0 };
    try {
      for (let step = 0; step < stepsPerRun; step++) {
        processAllReady(c);
        checkInvariants(c, seen);
        randomStep(c, prng, proposals);
      }
    } catch (err) {
      if (process.env.RAFT_FAULT_DEBUG) {
        for (const n of c.nodes.values()) {
          console.log(n.raft.status(), n.storage.firstIndex(), n.storage.lastIndex());
          const lo = n.storage.firstIndex();
          console.log(
            n.storage
              .entries(lo, n.storage.lastIndex() + 1)
              .map((e) => `${e.index}/${e.term}`)
              .join(' '),
          );
        }
        console.log(
          [...seen.appliedAt]
            .sort((a, b) => a[0] - b[0])
            .map(([i, k]) => `${i}:${k}`)
            .join(' '),
        );
        console.log([...seen.leaderOfTerm]);
      }
      throw new Error(`reproduce with: RAFT_FAULT_SEEDS=${seed} (seed ${seed}): ${String(err)}`);
    }
    totalApplied += seen.appliedAt.size;
    if (process.env.RAFT_FAULT_DEBUG) {
      const kinds = [...seen.appliedAt.values()].map((k) => k.split('/')[1]);
      const snaps = [...c.nodes.values()].reduce((a, n) => a + n.snapshotsInstalled.length, 0);
      console.log(
        seed,
        'applied',
        kinds.length,
        'config',
        kinds.filter((k) => k === 'config').length,
        'terms',
        seen.leaderOfTerm.size,
        'snapshots',
        snaps,
        'nodes',
        c.nodes.size,
      );
    }
  }
  // Liveness sanity: across the runs, entries did commit despite the faults.
  expect(totalApplied).toBeGreaterThan(seedsCount * 5);
});
