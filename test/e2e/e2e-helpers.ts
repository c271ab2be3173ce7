/**
 * Helpers for the end-to-end deploy tests: spec files in a temporary directory, the CLI's
 * `deploy`, reads of a job's allocations from whichever node answers, a bounded load loop
 * that keeps calling the healthy allocations, and a cleanup that stops jobs through the
 * API and, as a last resort, kills what a test run left behind (exec processes found by a
 * per-run marker in their environment, containers by their `berth.job` label).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type TestCluster } from '../cluster/harness.ts';

/** Bounds of the e2e helpers' own waits, loops and requests. */
export const e2eLimits = {
  /** One GET of an allocation's HTTP port, in ms. */
  probeTimeoutMs: 1_000,
  /** One API read made by the helpers, in ms. */
  apiTimeoutMs: 2_000,
  /** Pause between two samples of the load loop, in ms. */
  loadIntervalMs: 200,
  /** Samples one load loop records before it stops by itself. */
  loadSamplesMax: 2_000,
  /** Longest a load loop runs before it stops by itself, in ms. */
  loadDurationMsMax: 240_000,
  /** How long stopped jobs get to leave every allocation terminal, in ms. */
  stopJobsTimeoutMs: 30_000,
  /** Processes scanned in /proc by the last-resort cleanup. */
  procScanMax: 100_000,
  /** Bytes of the event stream read by a test. */
  eventStreamBytesMax: 4_000_000,
};

/** One allocation as `GET /v1/jobs/:name/allocations` returns it. */
export interface AllocView {
  id: string;
  job: string;
  jobVersion: number;
  node: string;
  status: string;
  detail: string;
  desired: string;
  ports: Record<string, number>;
}

/** Writes `text` as `<dir>/<file>` and returns its path. */
export function writeSpec(dir: string, file: string, text: string): string {
  const path = join(dir, file);
  writeFileSync(path, text);
  return path;
}

/** `berth deploy -f FILE` through the CLI, with the cluster's saved context. */
export async function deployWithCli(
  cluster: TestCluster,
  file: string,
  followTimeout: string,
  boundMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(
    ['deploy', '-f', file, '--timeout', followTimeout],
    { BERTH_CONFIG_DIR: cluster.configDir },
    boundMs,
  );
}

/** A GET from the first running node that answers (a killed node is skipped). */
export async function readAny<T>(cluster: TestCluster, path: string): Promise<T> {
  let lastError: unknown = new Error('no node is running');
  for (const i of cluster.liveIndexes()) {
    try {
      return await cluster.api(i, e2eLimits.apiTimeoutMs).request<T>(path);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** The job's allocations, read from any running node. */
export async function allocationsOf(cluster: TestCluster, job: string): Promise<AllocView[]> {
  const body = await readAny<{ items: AllocView[] }>(cluster, `/v1/jobs/${job}/allocations`);
  return body.items;
}

/** Allocations that should be serving: healthy and meant to run. */
export function serving(allocs: readonly AllocView[]): AllocView[] {
  return allocs.filter((a) => a.status === 'healthy' && a.desired === 'run');
}

/** GET http://127.0.0.1:<port><path>; the body text on a 2xx answer, else undefined. */
export async function probe(port: number, path = '/'): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(e2eLimits.probeTimeoutMs),
    });
    const text = await res.text();
    return res.ok ? text.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** One moment of the load loop: how many healthy allocations answered, by version text. */
export interface LoadSample {
  phase: string;
  atMs: number;
  /** Allocations the API listed as healthy and running. */
  healthy: number;
  /** Successful answers by body text (the version the allocation serves). */
  answered: Record<string, number>;
  /** Set when the API could not be read: the sample says nothing about serving. */
  apiError?: string;
}

/**
 * Keeps sampling a job in the background: each sample reads the healthy allocations from
 * the API and GETs every one of them. Bounded in samples and in time; `stop()` ends it.
 */
export class LoadLoop {
  readonly samples: LoadSample[] = [];
  readonly #cluster: TestCluster;
  readonly #job: string;
  readonly #portLabel: string;
  readonly #startMs = performance.now();
  #phase = 'start';
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(cluster: TestCluster, job: string, portLabel: string) {
    this.#cluster = cluster;
    this.#job = job;
    this.#portLabel = portLabel;
  }

  start(): void {
    this.#done = this.#run();
  }

  /** Labels the samples taken from now on. */
  phase(name: string): void {
    this.#phase = name;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  /** The samples of one phase whose API read succeeded. */
  valid(phase: string): LoadSample[] {
    return this.samples.filter((s) => s.phase === phase && s.apiError === undefined);
  }

  async #run(): Promise<void> {
    for (let i = 0; i < e2eLimits.loadSamplesMax && !this.#stopped; i++) {
      if (performance.now() - this.#startMs > e2eLimits.loadDurationMsMax) break;
      this.samples.push(await this.#sample());
      await Bun.sleep(e2eLimits.loadIntervalMs);
    }
  }

  async #sample(): Promise<LoadSample> {
    const phase = this.#phase;
    const atMs = Math.round(performance.now() - this.#startMs);
    let healthy: AllocView[];
    try {
      healthy = serving(await allocationsOf(this.#cluster, this.#job));
    } catch (error) {
      return { phase, atMs, healthy: 0, answered: {}, apiError: String(error) };
    }
    const bodies = await Promise.all(
      healthy.map((a) => {
        const port = a.ports[this.#portLabel];
        return port === undefined ? undefined : probe(port);
      }),
    );
    const answered: Record<string, number> = {};
    for (const body of bodies) if (body !== undefined) answered[body] = (answered[body] ?? 0) + 1;
    return { phase, atMs, healthy: healthy.length, answered };
  }
}

/** A one-line summary of a phase's samples, for the test log. */
export function summarize(loop: LoadLoop, phase: string): string {
  const all = loop.samples.filter((s) => s.phase === phase);
  const valid = loop.valid(phase);
  // Consecutive equal samples are shown once with a repeat count: `v2:2/2 x40`.
  const runs: { text: string; n: number }[] = [];
  for (const s of valid) {
    const answers = Object.entries(s.answered).map(([v, n]) => `${v}:${n}`);
    const text = `${answers.join('+') || 'none'}/${s.healthy}`;
    const last = runs.at(-1);
    if (last?.text === text) last.n++;
    else runs.push({ text, n: 1 });
  }
  const shown = runs.map((r) => (r.n > 1 ? `${r.text} x${r.n}` : r.text)).join(', ');
  return `${phase}: ${valid.length}/${all.length} samples read; answers/healthy: ${shown || '(none)'}`;
}

const terminalStatuses = new Set(['complete', 'failed', 'lost']);

/**
 * Stops each job through the API (DELETE) and waits, bounded, until none of its
 * allocations is still running. Errors are collected, not thrown: cleanup goes on.
 */
export async function stopJobs(cluster: TestCluster, jobs: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const job of jobs) {
    try {
      const via = cluster.liveIndexes()[0];
      if (via === undefined) return ['no node is running'];
      await cluster.api(via, 10_000).request(`/v1/jobs/${job}`, { method: 'DELETE' });
      await cluster.waitFor(
        async () =>
          (await allocationsOf(cluster, job)).every((a) => terminalStatuses.has(a.status)),
        { what: `every allocation of ${job} to stop`, timeoutMs: e2eLimits.stopJobsTimeoutMs },
      );
    } catch (error) {
      problems.push(`${job}: ${String(error).split('\n')[0]}`);
    }
  }
  return problems;
}

/**
 * Last resort: SIGKILLs every process whose environment holds `BERTH_E2E_RUN=<marker>`
 * (the tests put that marker in their jobs' env). A node killed with kill -9 leaves its
 * exec tasks running — they are process-group leaders, detached from the agent — and no
 * agent will ever stop them. Returns the pids it killed.
 */
export function killMarkedProcesses(marker: string): number[] {
  const needle = `BERTH_E2E_RUN=${marker}`;
  const killed: number[] = [];
  const pids = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .slice(0, e2eLimits.procScanMax);
  for (const pid of pids) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(needle)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed.push(Number(pid));
    } catch {
      // Already gone.
    }
  }
  return killed;
}

/** A random lowercase hex string of `bytes` bytes (names and secret values of one run). */
export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}
