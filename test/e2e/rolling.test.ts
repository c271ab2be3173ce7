/**
 * A rolling deploy on a real three-voter cluster, as a user meets it: `berth deploy`
 * places an exec job on three nodes, rolls v2 one allocation at a time while traffic keeps
 * being answered, refuses a v3 whose health check fails and reverts to v2 by itself, and
 * replaces the allocation of a node killed with kill -9. A background load loop calls the
 * healthy allocations all along; its per-version counts are printed, not timed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, TestCluster } from '../cluster/harness.ts';
import {
  allocationsOf,
  deployWithCli,
  killMarkedProcesses,
  LoadLoop,
  probe,
  randomHex,
  readAny,
  serving,
  stopJobs,
  summarize,
  writeSpec,
} from './e2e-helpers.ts';

/** Bound of one `berth deploy` process (its own --timeout is shorter). */
const deployBoundMs = 60_000;
/** Bound on the auto-revert after the failed v3 rollout. */
const revertBoundMs = 45_000;
/** Bound on the replacement of a killed node's allocation (TTL ~3 s, then placement). */
const replaceBoundMs = 30_000;
/** Samples each load phase must have read, so no serving assertion holds vacuously. */
const phaseSamplesMin = 5;

const marker = randomHex(8);
const cluster = new TestCluster({ logLevel: 'info' });
const specDir = mkdtempSync(join(tmpdir(), 'berth-e2e-rolling-'));
const load = new LoadLoop(cluster, 'web', 'http');
const timings: Record<string, number> = {};
/** What the failed v3 deploy printed, and its allocations, for the message test. */
const v3Failure = { stderr: '', allocIds: [] as string[] };

/** The server every version runs: it answers its VERSION on /, and 500 on /missing. */
const serverSource = [
  'Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.BERTH_PORT_HTTP),',
  'fetch: (req) => new URL(req.url).pathname === "/missing"',
  '? new Response("missing", { status: 500 }) : new Response(process.env.VERSION) })',
].join(' ');

function webSpec(version: string, checkPath: string): string {
  return `name: web
command: [bun, -e, ${JSON.stringify(serverSource)}]
count: 3
resources: { cpu: 100, memory: 64 }
env:
  VERSION: ${version}
  BERTH_E2E_RUN: "${marker}"
ports:
  http: 8080
check:
  http: ${checkPath}
  interval: 500ms
  timeout: 1s
  grace: 1s
update:
  max_parallel: 1
  min_healthy_time: 1s
  healthy_deadline: 15s
`;
}

async function timed<T>(name: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await run();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
  }
}

beforeAll(async () => {
  await timed('cluster', async () => {
    await cluster.init();
    await cluster.join('voter');
    await cluster.join('voter');
    await cluster.waitFor(() => cluster.leader(), { what: 'a leader all three nodes agree on' });
  });
}, 60_000);

afterAll(async () => {
  await load.stop();
  const problems = await stopJobs(cluster, ['web']);
  if (problems.length > 0) console.log(`[e2e rolling] cleanup: ${problems.join('; ')}`);
  await cluster.destroy();
  const killed = killMarkedProcesses(marker);
  if (killed.length > 0) console.log(`[e2e rolling] killed leftover tasks: ${killed.join(' ')}`);
  rmSync(specDir, { recursive: true, force: true });
  console.log(`[e2e rolling] timings ms: ${JSON.stringify(timings)}`);
}, 60_000);

/** Waits until `count` allocations serve `version`; returns them. */
async function waitServing(version: string, count: number, timeoutMs: number) {
  return cluster.waitFor(
    async () => {
      const healthy = serving(await allocationsOf(cluster, 'web'));
      if (healthy.length !== count) return undefined;
      const bodies = await Promise.all(healthy.map((a) => probe(a.ports.http as number)));
      return bodies.every((b) => b === version) ? healthy : undefined;
    },
    { what: `${count} healthy allocations of web serving ${version}`, timeoutMs },
  );
}

test('deploy v1: three healthy allocations, one per node', async () => {
  // Proves a first deploy through the CLI exits 0 once `count` allocations are healthy, spread over the three nodes.
  const file = writeSpec(specDir, 'web-v1.yml', webSpec('v1', '/'));
  const res = await timed('deploy v1', () => deployWithCli(cluster, file, '45s', deployBoundMs));
  expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  expect(res.stdout).toContain('rollout complete: web v1');
  const healthy = await waitServing('v1', 3, 10_000);
  expect(new Set(healthy.map((a) => a.node)).size).toBe(3);
  load.start();
}, 90_000);

test('deploy v2: a rolling update that keeps answering', async () => {
  // Proves a destructive update rolls to v2 with exit 0 while at every sample at least one healthy allocation answered.
  load.phase('v2');
  const file = writeSpec(specDir, 'web-v2.yml', webSpec('v2', '/'));
  const res = await timed('deploy v2', () => deployWithCli(cluster, file, '45s', deployBoundMs));
  expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  expect(res.stdout).toContain('rollout complete: web v2');
  const healthy = await waitServing('v2', 3, 10_000);
  expect(healthy.every((a) => a.jobVersion === 2)).toBe(true);
  // The deployment watcher closes v2's deployment as successful (min_healthy_time 1s).
  await cluster.waitFor(
    async () => {
      const body = await readAny<{ items: { jobVersion: number; status: string }[] }>(
        cluster,
        '/v1/deployments?job=web',
      );
      return body.items.some((d) => d.jobVersion === 2 && d.status === 'successful');
    },
    { what: 'the v2 deployment to be successful', timeoutMs: 15_000 },
  );
  load.phase('v2-settled');
  console.log(`[e2e rolling] ${summarize(load, 'v2')}`);
  const samples = load.valid('v2');
  expect(samples.length).toBeGreaterThanOrEqual(phaseSamplesMin);
  const silent = samples.filter((s) => Object.keys(s.answered).length === 0);
  expect(silent).toEqual([]);
}, 120_000);

test('deploy v3 with a failing check: non-zero exit, auto-revert to v2, v2 served throughout', async () => {
  // Proves a rollout whose new allocation never becomes healthy fails the CLI naming that allocation, is reverted as a new version with v2's spec, and never takes traffic.
  load.phase('v3');
  const file = writeSpec(specDir, 'web-v3.yml', webSpec('v3', '/missing'));
  const res = await timed('deploy v3 (fails)', () =>
    deployWithCli(cluster, file, '45s', deployBoundMs),
  );
  console.log(`[e2e rolling] deploy v3 stderr: ${res.stderr.trim()}`);
  expect(res.code).not.toBe(0);
  v3Failure.stderr = res.stderr;
  v3Failure.allocIds = (await allocationsOf(cluster, 'web'))
    .filter((a) => a.jobVersion === 3)
    .map((a) => a.id);
  expect(v3Failure.allocIds.length).toBeGreaterThan(0);

  const reverted = await timed('auto-revert', () =>
    cluster.waitFor(
      async () => {
        const job = await readAny<{ version: number; spec: { env: Record<string, string> } }>(
          cluster,
          '/v1/jobs/web',
        );
        return job.version >= 4 && job.spec.env.VERSION === 'v2' ? job : undefined;
      },
      { what: 'web to be reverted to the spec of v2', timeoutMs: revertBoundMs },
    ),
  );
  expect(reverted.version).toBe(4);
  const healthy = await timed('revert healthy', () => waitServing('v2', 3, revertBoundMs));
  expect(healthy.every((a) => a.jobVersion === 4)).toBe(true);
  load.phase('reverted');

  const history = await runCli(['job', 'history', 'web', '--json'], {
    BERTH_CONFIG_DIR: cluster.configDir,
  });
  expect(history.code).toBe(0);
  const versions = JSON.parse(history.stdout) as
    | { items: { version: number; spec: { env: Record<string, string> } }[] }
    | { version: number; spec: { env: Record<string, string> } }[];
  const items = Array.isArray(versions) ? versions : versions.items;
  const v4 = items.find((v) => v.version === 4);
  const v2 = items.find((v) => v.version === 2);
  expect(v4?.spec).toEqual(v2?.spec as NonNullable<typeof v4>['spec']);

  console.log(`[e2e rolling] ${summarize(load, 'v3')}`);
  const samples = load.valid('v3');
  expect(samples.length).toBeGreaterThanOrEqual(phaseSamplesMin);
  // v2 kept serving at every moment, and the unhealthy v3 never received traffic.
  expect(samples.filter((s) => (s.answered.v2 ?? 0) < 1)).toEqual([]);
  expect(samples.filter((s) => (s.answered.v3 ?? 0) > 0)).toEqual([]);
  const minV2 = Math.min(...samples.map((s) => s.answered.v2 ?? 0));
  console.log(`[e2e rolling] fewest v2 answers in one v3 sample: ${minV2}`);
}, 150_000);

test('deploy v3 failure message: the CLI names the allocation that was not healthy', () => {
  // Proves the failed deploy's error names the v3 allocation (DESIGN.md §4 step 6: "which allocation"), not only the deployment.
  expect(v3Failure.allocIds.length).toBeGreaterThan(0);
  const named = v3Failure.allocIds.filter((id) => v3Failure.stderr.includes(id));
  expect({ stderr: v3Failure.stderr, named: named.length > 0 }).toEqual({
    stderr: v3Failure.stderr,
    named: true,
  });
});

test('kill -9 a node: its allocation is lost and replaced on the survivors', async () => {
  // Proves a node that stops answering is declared down, its allocation becomes lost, and the job is back to three healthy allocations on the two surviving nodes.
  const leader = await cluster.waitFor(() => cluster.leader(), { what: 'a leader' });
  const before = serving(await allocationsOf(cluster, 'web'));
  // A follower holding an allocation: killing the leader would test elections, not this.
  const victimAlloc = before.find((a) => cluster.indexOf(a.node) !== leader);
  expect(victimAlloc).toBeDefined();
  const victim = cluster.indexOf(victimAlloc!.node);
  load.phase('kill');
  await cluster.kill9(victim);
  const lost = await timed('alloc lost', () =>
    cluster.waitFor(
      async () => {
        const a = (await allocationsOf(cluster, 'web')).find((x) => x.id === victimAlloc!.id);
        return a?.status === 'lost' ? a : undefined;
      },
      { what: `allocation ${victimAlloc!.id} to be lost`, timeoutMs: replaceBoundMs },
    ),
  );
  expect(lost.node).toBe(victimAlloc!.node);
  const after = await timed('replacement healthy', () => waitServing('v2', 3, replaceBoundMs));
  const nodes = new Set(after.map((a) => a.node));
  expect(nodes.has(victimAlloc!.node)).toBe(false);
  // Spread is a preference: three allocations on two nodes means one node holds two.
  expect(nodes.size).toBe(2);
  const down = await readAny<{ items: { id: string; status: string }[] }>(cluster, '/v1/nodes');
  expect(down.items.find((n) => n.id === victimAlloc!.node)?.status).toBe('down');
  load.phase('after-kill');
  console.log(`[e2e rolling] ${summarize(load, 'kill')}`);
  const samples = load.valid('kill');
  expect(samples.length).toBeGreaterThanOrEqual(phaseSamplesMin);
  expect(samples.filter((s) => Object.keys(s.answered).length === 0)).toEqual([]);
}, 90_000);
