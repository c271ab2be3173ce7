/**
 * Chaos on five real `berth agent` processes (3 voters + 2 workers) on 127.0.0.1: a
 * seeded nemesis (nemesis.ts) injects `kill -9` + restart, SIGSTOP/SIGCONT (gray failure)
 * and network partitions — the leader isolated, a 2|3 split, a cut on one side's file
 * only, one-way cuts, random message loss — through the agents' test-only fault injection
 * (BERTH_TEST_FAULTS_FILE, src/transport/fault-injection.ts), while four clients write
 * and read secrets through random nodes, partitioned ones included. After healing, the
 * recorded history must be linearizable, no acknowledged write may be lost, and every
 * node must converge to the same secrets and the same digest of the whole replicated state.
 *
 * CI runs it for `CHAOS_MS` (default 30 s); `make chaos` runs longer. `SEED=n` replays
 * the fault and client schedule (timings of real processes still vary).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createPrng } from '../../src/core/prng.ts';
import { checkKvHistory, type KvOp } from '../../src/linearizability/index.ts';
import { TestCluster } from '../cluster/harness.ts';
import {
  injectStaleRead,
  keyName,
  lostAcknowledgedWrites,
  readOp,
  readValue,
  startKvClients,
} from './kv-clients.ts';
import { Nemesis } from './nemesis.ts';
import { faultInjectionEnv } from './partitions.ts';
import { joinSettled } from './settled-join.ts';

const chaosMs = Number(process.env.CHAOS_MS ?? 30_000);
const seed = process.env.SEED ? Number(process.env.SEED) : Date.now() % 2 ** 31;
/** Faults one run may inject (a bound; the schedule normally stops on time first). */
const faultsMax = 1_000;
/** Keys the clients share: few, so operations on a key overlap and the check has teeth. */
const keysCount = 4;
/** How long convergence after healing may take, in ms. */
const convergeTimeoutMs = 30_000;

const cluster = new TestCluster({
  clusterName: 'chaos',
  logLevel: 'info',
  env: faultInjectionEnv,
});
let nemesis: Nemesis | undefined;

beforeAll(async () => {
  console.log(`chaos: seed=${seed} chaosMs=${chaosMs} (reproduce with: SEED=${seed})`);
  await cluster.init();
  await joinSettled(cluster, 'voter');
  await joinSettled(cluster, 'voter');
  await joinSettled(cluster, 'worker');
  await joinSettled(cluster, 'worker');
  await cluster.waitFor(() => cluster.leader(), { what: 'a leader all five nodes agree on' });
}, 120_000);

afterAll(async () => {
  nemesis?.heal();
  await cluster.destroy();
}, 30_000);

/**
 * What node `i` holds, read locally (`stale=true`): secret and job names with versions,
 * and each key's value. Workers hold no secrets keyring (by design: they get plaintext
 * only for their own allocations), so their values read as `no_keyring` and only their
 * lists count (the state digest below covers the rest).
 */
async function nodeView(
  i: number,
): Promise<{ list: string; values: (string | null)[] | 'no_keyring' }> {
  const api = cluster.api(i, 5_000);
  const secrets = await api.request<{ items: { name: string; version: number }[] }>('/v1/secrets', {
    query: { stale: true },
  });
  const jobs = await api.request<{ items: { name: string; version: number }[] }>('/v1/jobs', {
    query: { stale: true },
  });
  const list = JSON.stringify([...secrets.items, ...jobs.items].map((s) => [s.name, s.version]));
  const values: (string | null)[] = [];
  for (let k = 0; k < keysCount; k++) {
    try {
      values.push(await readValue(api, keyName(k), true));
    } catch (error) {
      if ((error as { code?: string }).code === 'no_keyring') return { list, values: 'no_keyring' };
      throw error;
    }
  }
  return { list, values };
}

/** True when node `i`'s local state equals the reference (values only where it can read them). */
async function convergedTo(
  i: number,
  reference: Awaited<ReturnType<typeof nodeView>>,
): Promise<boolean> {
  const view = await nodeView(i);
  if (view.list !== reference.list) return false;
  return (
    view.values === 'no_keyring' || JSON.stringify(view.values) === JSON.stringify(reference.values)
  );
}

test(
  'a seeded chaos run keeps secrets and jobs linearizable, loses no acknowledged write and converges',
  async () => {
    // Proves linearizability, durability of acknowledged writes and convergence under kills, SIGSTOP and partitions.
    const prng = createPrng(seed);
    const chaos = new Nemesis(cluster, prng.fork());
    nemesis = chaos;
    const clients = startKvClients(
      cluster,
      prng.fork(),
      (own) => {
        const live = cluster.nodes.map((n) => n.index).filter((i) => !chaos.faulted.has(i));
        return live.length > 0 ? own.pick(live) : undefined;
      },
      {
        clients: 4,
        keys: keysCount,
        writeShare: 0.5,
        requestTimeoutMs: 7_000,
        opsPerClientMax: 20_000,
        thinkMs: 5,
      },
    );
    const startMs = performance.now();
    await chaos.run(startMs + chaosMs, faultsMax);
    chaos.heal();
    await clients.stop();
    const counts = Object.entries(chaos.counts).map(([kind, n]) => `${kind}=${n}`);
    console.log(`chaos: faults (${counts.join(' ')}): ${chaos.log.join('; ')}`);
    console.log(
      `chaos: a new leader was seen in ${chaos.newLeadersSeen} of ${chaos.leaderIsolations} leader isolations`,
    );

    const leader = await cluster.waitFor(() => cluster.leader(), {
      what: 'a leader after healing',
    });
    const finals: KvOp[] = [];
    for (let k = 0; k < keysCount; k++)
      finals.push(await readOp(cluster, leader, -1, keyName(k), 10_000));
    expect(finals.every((f) => f.outcome === 'ok')).toBe(true);
    const history = [...clients.history, ...finals];
    const acked = history.filter((o) => o.outcome === 'ok');
    console.log(
      `chaos: ${history.length} operations, ${acked.length} acknowledged, ${history.length - acked.length} unknown`,
    );
    expect(acked.filter((o) => o.kind === 'write').length).toBeGreaterThan(10);

    const verdict = checkKvHistory(history);
    const lost = lostAcknowledgedWrites(clients.history, finals);
    console.log(
      `chaos: checker: ${JSON.stringify(verdict)}; lost acknowledged writes: ${lost.length}`,
    );
    expect(verdict).toEqual({ kind: 'linearizable', keys: keysCount, ops: expect.any(Number) });
    expect(lost).toEqual([]);

    const reference = await nodeView(leader);
    expect(reference.values).toEqual(finals.map((f) => f.value));
    let voterViews = 0;
    for (const node of cluster.nodes) {
      await cluster.waitFor(() => convergedTo(node.index, reference), {
        what: `node ${node.index} to converge to the leader's secrets`,
        timeoutMs: convergeTimeoutMs,
      });
      if ((await nodeView(node.index)).values !== 'no_keyring') voterViews++;
    }
    expect(voterViews).toBeGreaterThanOrEqual(3);
    console.log(`chaos: all ${cluster.nodes.length} nodes converged to the leader's secrets`);

    // The whole replicated state, not only secrets: every node reaches the same applied
    // index with the same digest of every state table (GET /v1/operator/state-digest).
    const digests = await cluster.waitFor(
      async () => {
        const all = await Promise.all(
          cluster.nodes.map((n) =>
            cluster
              .api(n.index)
              .request<{ appliedIndex: number; digest: string }>('/v1/operator/state-digest'),
          ),
        );
        const same = all.every(
          (d) => d.appliedIndex === all[0]?.appliedIndex && d.digest === all[0]?.digest,
        );
        return same ? all : undefined;
      },
      {
        what: 'every node at the same applied index and state digest',
        timeoutMs: convergeTimeoutMs,
      },
    );
    console.log(
      `chaos: state digest ${digests[0]?.digest.slice(0, 16)}… at index ${digests[0]?.appliedIndex} on all ${digests.length} nodes`,
    );

    // The partitions are real: cutting the leader off made the others elect another.
    if (chaos.leaderIsolations > 0) expect(chaos.newLeadersSeen).toBeGreaterThan(0);

    // The same history with one read made stale must be rejected: the check has teeth.
    expect(checkKvHistory(injectStaleRead(history)).kind).toBe('violation');
  },
  chaosMs + 150_000,
);
