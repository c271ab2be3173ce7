/**
 * Concurrent clients for the chaos test: each writes unique values to keys and reads them
 * back (admin-token reads are linearizable: ReadIndex on the leader, followers forward),
 * against a node picked at random, and records every operation with its invocation and
 * response times for the linearizability checker. Even keys are secrets `k0, k2, …`
 * (PUT/GET /v1/secrets); odd keys are jobs `j1, j3, …` registered, updated and read
 * through /v1/jobs (the value is the spec's env `V`; `count: 0`, so nothing is placed).
 */
import { BerthError } from '../../src/core/errors.ts';
import type { Prng } from '../../src/core/prng.ts';
import type { KvOp } from '../../src/linearizability/index.ts';
import type { TestCluster } from '../cluster/harness.ts';

export interface KvClientOptions {
  clients: number;
  keys: number;
  /** Probability that an operation is a write. */
  writeShare: number;
  /** Bound of one request: longer than the agents' 5 s write hold. */
  requestTimeoutMs: number;
  /** Operations one client may record (a bound on the history). */
  opsPerClientMax: number;
  /** Pause between two operations of one client, in ms. */
  thinkMs: number;
}

/** A node index the clients may send to (the caller excludes killed and stopped nodes). */
export type NodePicker = (prng: Prng) => number | undefined;

export interface KvClients {
  readonly history: KvOp[];
  stop(): Promise<void>;
}

/** Key `i`: a secret name for even i, a job name for odd i. */
export function keyName(i: number): string {
  return i % 2 === 0 ? `k${i}` : `j${i}`;
}

function isJobKey(key: string): boolean {
  return key.startsWith('j');
}

/** The job document whose env V holds `value` (registering it again updates the job). */
function jobDocument(key: string, value: string) {
  return { name: key, command: ['sleep', '3600'], count: 0, env: { V: value } };
}

/**
 * The value of `key` as node's API answers it; null when absent (`secret_not_found`,
 * `job_not_found`). `stale` reads this node's local state (no ReadIndex).
 */
export async function readValue(
  api: ReturnType<TestCluster['api']>,
  key: string,
  stale = false,
): Promise<string | null> {
  const query = stale ? { query: { stale: true } } : {};
  try {
    if (isJobKey(key)) {
      const job = await api.request<{ spec: { env?: Record<string, string> } }>(
        `/v1/jobs/${key}`,
        query,
      );
      return job.spec.env?.V ?? null;
    }
    return (await api.request<{ value: string }>(`/v1/secrets/${key}`, query)).value;
  } catch (error) {
    const code = error instanceof BerthError ? error.code : '';
    if (code === 'secret_not_found' || code === 'job_not_found') return null;
    throw error;
  }
}

/** Starts `clients` loops; each has its own PRNG fork so the schedule follows the seed. */
export function startKvClients(
  cluster: TestCluster,
  prng: Prng,
  pickNode: NodePicker,
  options: KvClientOptions,
): KvClients {
  const history: KvOp[] = [];
  let stopped = false;
  const loops = Array.from({ length: options.clients }, (_, client) => {
    const own = prng.fork();
    return (async () => {
      for (let seq = 0; seq < options.opsPerClientMax && !stopped; seq++) {
        const node = pickNode(own);
        const key = keyName(own.int(0, options.keys));
        const write = own.chance(options.writeShare);
        if (node !== undefined) {
          const op = write
            ? await writeOp(
                cluster,
                node,
                client,
                key,
                `c${client}-${seq}`,
                options.requestTimeoutMs,
              )
            : await readOp(cluster, node, client, key, options.requestTimeoutMs);
          history.push(op);
        }
        await Bun.sleep(options.thinkMs);
      }
    })();
  });
  return {
    history,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** One PUT; any failure is an unknown outcome (the write may have been committed). */
export async function writeOp(
  cluster: TestCluster,
  node: number,
  client: number,
  key: string,
  value: string,
  timeoutMs: number,
): Promise<KvOp> {
  return timedOp({ client, kind: 'write', key, value }, async () => {
    const api = cluster.api(node, timeoutMs);
    if (isJobKey(key)) {
      await api.request('/v1/jobs', { method: 'POST', body: jobDocument(key, value) });
    } else {
      await api.request(`/v1/secrets/${key}`, { method: 'PUT', body: { value } });
    }
    return value;
  });
}

/** One linearizable GET; `secret_not_found`/`job_not_found` are successful reads of "absent". */
export async function readOp(
  cluster: TestCluster,
  node: number,
  client: number,
  key: string,
  timeoutMs: number,
): Promise<KvOp> {
  return timedOp({ client, kind: 'read', key, value: null }, () =>
    readValue(cluster.api(node, timeoutMs), key),
  );
}

/**
 * Runs one operation and records it with its invocation and response times: `ok` with the
 * value it returned, or `unknown` on any failure (a write may still have been committed;
 * a read's value is then unknown too) with the value it was invoked with.
 */
async function timedOp(
  op: Pick<KvOp, 'client' | 'kind' | 'key' | 'value'>,
  run: () => Promise<string | null>,
): Promise<KvOp> {
  const invokeMs = performance.now();
  try {
    const value = await run();
    return { ...op, value, invokeMs, responseMs: performance.now(), outcome: 'ok' };
  } catch {
    return { ...op, invokeMs, responseMs: performance.now(), outcome: 'unknown' };
  }
}

/**
 * Acknowledged writes lost at the end: for each key, the final read's value must come
 * from a write not strictly older than the last acknowledged write (it may be a later
 * unknown-outcome write). Returns one line per lost key.
 */
export function lostAcknowledgedWrites(
  history: readonly KvOp[],
  finals: readonly KvOp[],
): string[] {
  const problems: string[] = [];
  for (const final of finals) {
    const writes = history.filter((o) => o.kind === 'write' && o.key === final.key);
    const acked = writes.filter((o) => o.outcome === 'ok');
    if (acked.length === 0) continue;
    const lastAckInvokeMs = Math.max(...acked.map((o) => o.invokeMs));
    const source = writes.find((o) => o.value === final.value);
    if (!source) {
      problems.push(`${final.key}: final value ${JSON.stringify(final.value)} was never written`);
    } else if (source.outcome === 'ok' && source.responseMs < lastAckInvokeMs) {
      problems.push(
        `${final.key}: final value ${source.value} is older than an acknowledged write`,
      );
    }
  }
  return problems;
}

/**
 * A copy of `history` with one successful read made stale: a read R that saw the value of
 * an acknowledged write W2 is changed to the value of an acknowledged write W1 that
 * finished before W2 began. Since W1 < W2 < R in real time and values are unique, no
 * linearization exists. Falls back to appending such a read after the history.
 */
export function injectStaleRead(history: readonly KvOp[]): KvOp[] {
  const copy = history.map((o) => ({ ...o }));
  const acked = copy.filter((o) => o.kind === 'write' && o.outcome === 'ok');
  for (const [i, read] of copy.entries()) {
    if (read.kind !== 'read' || read.outcome !== 'ok') continue;
    const w2 = acked.find(
      (o) => o.key === read.key && o.value === read.value && o.responseMs < read.invokeMs,
    );
    const w1 = w2 && acked.find((o) => o.key === read.key && o.responseMs < w2.invokeMs);
    if (w1) {
      copy[i] = { ...read, value: w1.value };
      return copy;
    }
  }
  for (const w2 of acked) {
    const w1 = acked.find((o) => o.key === w2.key && o.responseMs < w2.invokeMs);
    if (!w1) continue;
    const endMs = Math.max(...copy.map((o) => o.responseMs).filter(Number.isFinite)) + 1;
    copy.push({
      client: -1,
      kind: 'read',
      key: w2.key,
      value: w1.value,
      invokeMs: endMs,
      responseMs: endMs + 1,
      outcome: 'ok',
    });
    return copy;
  }
  throw new Error('no two ordered acknowledged writes on one key: cannot inject a stale read');
}
