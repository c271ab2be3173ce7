/**
 * Chaos on five real `berth agent` processes (3 voters + 2 workers) on 127.0.0.1: a
 * seeded schedule of `kill -9` + restart and SIGSTOP/SIGCONT (gray failure) runs while
 * four clients write and read secrets through random nodes. After healing, the recorded
 * history must be linearizable, no acknowledged write may be lost, and every node must
 * converge to the same secrets. Network partitions are not injected: the peer transport
 * has no fault-injection hook yet.
 *
 * CI runs it for `CHAOS_MS` (default 30 s); `make chaos` runs longer. `SEED=n` replays
 * the fault and client schedule (timings of real processes still vary).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createPrng, type Prng } from '../../src/core/prng.ts';
import { checkKvHistory, type KvOp } from '../../src/linearizability/index.ts';
import { TestCluster } from '../cluster/harness.ts';
import {
  injectStaleRead,
  keyName,
  lostAcknowledgedWrites,
  readOp,
  startKvClients,
} from './kv-clients.ts';
import { joinSettled } from './settled-join.ts';

const chaosMs = Number(process.env.CHAOS_MS ?? 30_000);
const seed = process.env.SEED ? Number(process.env.SEED) : Date.now() % 2 ** 31;
/** Faults one run may inject (a bound; the schedule normally stops on time first). */
const faultsMax = 1_000;
/** Keys the clients share: few, so operations on a key overlap and the check has teeth. */
const keysCount = 4;
/** How long convergence after healing may take, in ms. */
const convergeTimeoutMs = 30_000;

const cluster = new TestCluster({ clusterName: 'chaos', logLevel: 'info' });
/** Nodes currently killed or stopped: clients do not pick them. */
const faulted = new Set<number>();
const stopped = new Set<number>();

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
  for (const i of stopped) resume(i);
  await cluster.destroy();
}, 30_000);

function pid(i: number): number {
  const p = cluster.nodes[i]?.process?.pid;
  if (p === undefined) throw new Error(`node ${i} has no process`);
  return p;
}

function resume(i: number): void {
  process.kill(pid(i), 'SIGCONT');
  stopped.delete(i);
}

/** One fault on a random node, healed before it returns (one fault at a time keeps quorum). */
async function injectFault(prng: Prng, log: string[]): Promise<void> {
  const node = prng.int(0, cluster.nodes.length);
  faulted.add(node);
  if (prng.chance(0.5)) {
    const downMs = prng.int(200, 3_000);
    log.push(`kill -9 node ${node} for ${downMs} ms`);
    await cluster.kill9(node);
    await Bun.sleep(downMs);
    await cluster.restart(node);
  } else {
    const frozenMs = prng.int(300, 4_000);
    log.push(`SIGSTOP node ${node} for ${frozenMs} ms`);
    process.kill(pid(node), 'SIGSTOP');
    stopped.add(node);
    await Bun.sleep(frozenMs);
    resume(node);
  }
  faulted.delete(node);
}

async function runFaults(prng: Prng, untilMs: number): Promise<string[]> {
  const log: string[] = [];
  for (let n = 0; n < faultsMax && performance.now() < untilMs; n++) {
    await Bun.sleep(prng.int(300, 2_000));
    await injectFault(prng, log);
  }
  return log;
}

/**
 * What node `i` holds, read locally (`stale=true`): secret names and versions, and each
 * key's value. Workers hold no secrets keyring (by design: they get plaintext only for
 * their own allocations), so their values read as `no_keyring` and only their list counts.
 */
async function nodeView(
  i: number,
): Promise<{ list: string; values: (string | null)[] | 'no_keyring' }> {
  const api = cluster.api(i, 5_000);
  const list = await api.request<{ items: { name: string; version: number }[] }>('/v1/secrets', {
    query: { stale: true },
  });
  const values: (string | null)[] = [];
  for (let k = 0; k < keysCount; k++) {
    try {
      const read = await api.request<{ value: string }>(`/v1/secrets/${keyName(k)}`, {
        query: { stale: true },
      });
      values.push(read.value);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'no_keyring')
        return { list: JSON.stringify(list.items.map((s) => [s.name, s.version])), values: code };
      if (code !== 'secret_not_found') throw error;
      values.push(null);
    }
  }
  return { list: JSON.stringify(list.items.map((s) => [s.name, s.version])), values };
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
  'a seeded chaos run keeps secrets linearizable, loses no acknowledged write and converges',
  async () => {
    // Proves linearizability, durability of acknowledged writes and convergence under kill -9 and SIGSTOP faults.
    const prng = createPrng(seed);
    const clients = startKvClients(
      cluster,
      prng.fork(),
      (own) => {
        const live = cluster.nodes.map((n) => n.index).filter((i) => !faulted.has(i));
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
    const faultLog = await runFaults(prng.fork(), performance.now() + chaosMs);
    await clients.stop();
    console.log(`chaos: faults: ${faultLog.join('; ')}`);

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
    expect(verdict).toEqual({ kind: 'linearizable', keys: keysCount, ops: expect.any(Number) });
    expect(lostAcknowledgedWrites(clients.history, finals)).toEqual([]);

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

    // The same history with one read made stale must be rejected: the check has teeth.
    expect(checkKvHistory(injectStaleRead(history)).kind).toBe('violation');
  },
  chaosMs + 150_000,
);
