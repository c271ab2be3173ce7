/**
 * Router acceptance on a real three-voter cluster: a job with a route is reachable through
 * every node's router, a rolling update under load fails no request, a failed rollout
 * never takes traffic, a node killed with kill -9 costs (almost) no request thanks to the
 * router's retries, and an open WebSocket survives a deploy of another job. A background
 * load of a few concurrent clients sends `Host: web.localhost` GETs to the routers of the
 * nodes that stay up and counts answers by version, non-2xx answers and connection errors
 * per phase; the counts are printed, never timed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from '../cluster/harness.ts';
import {
  allocationsOf,
  deployWithCli,
  killMarkedProcesses,
  randomHex,
  readAny,
  serving,
  stopJobs,
  writeSpec,
} from './e2e-helpers.ts';
import {
  describePhase,
  failedCount,
  killTasksWithEnv,
  type PhaseCounts,
  RouterLoad,
} from './router-load.ts';

/** Bound of one `berth deploy` process (its own --timeout is shorter). */
const deployBoundMs = 60_000;
/** Bound on the auto-revert after the failed v3 rollout. */
const revertBoundMs = 45_000;
/** Bound on two healthy replicas serving again after a node is killed. */
const recoverBoundMs = 30_000;
/** Failed requests tolerated around a kill -9 (target 0: refused connections are retried). */
const killFailuresMax = 3;
/** How long a steady phase is measured, in ms. */
const steadyPhaseMs = 2_000;
/** Time given to routers on every node to apply the batch the API already shows, in ms. */
const routerSettleMs = 500;
/** Requests a measured phase must hold, so no assertion holds vacuously. */
const phaseRequestsMin = 50;
/** WebSocket messages sent during the deploy before the sender stops by itself. */
const wsMessagesMax = 2_000;
/** Pause between two WebSocket messages, in ms. */
const wsPauseMs = 50;
/** Longest wait for the echo of the last WebSocket message, in ms. */
const wsEchoWaitMs = 5_000;

const marker = randomHex(8);
const cluster = new TestCluster({ logLevel: 'info' });
const specDir = mkdtempSync(join(tmpdir(), 'berth-e2e-router-'));
const timings: Record<string, number> = {};
const report: string[] = [];
let load: RouterLoad | undefined;

/** Answers its VERSION on /, and 500 on /missing (the failing check of v3). */
const webSource = [
  'Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.BERTH_PORT_HTTP),',
  'fetch: (req) => new URL(req.url).pathname === "/missing"',
  '? new Response("missing", { status: 500 }) : new Response(process.env.VERSION) })',
].join(' ');

/** Echoes every WebSocket message; answers plain GETs (its health check) with "chat". */
const chatSource = [
  'Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.BERTH_PORT_HTTP),',
  'fetch: (req, srv) => srv.upgrade(req) ? undefined : new Response("chat"),',
  'websocket: { message: (ws, m) => { ws.send(m); } } })',
].join(' ');

function jobSpec(name: string, source: string, count: number, version: string, check: string) {
  return `name: ${name}
command: [bun, -e, ${JSON.stringify(source)}]
count: ${count}
resources: { cpu: 100, memory: 64 }
env:
  VERSION: ${version}
  BERTH_E2E_RUN: "${marker}"
ports:
  http: 8080
routes:
  - hosts: [${name}.localhost]
    paths: ["/"]
check:
  http: ${check}
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

async function deploy(file: string, text: string) {
  return deployWithCli(cluster, writeSpec(specDir, file, text), '45s', deployBoundMs);
}

/** One GET through node `i`'s router with `Host: <host>`; the 2xx body, else undefined. */
async function viaRouter(i: number, host: string): Promise<string | undefined> {
  const port = cluster.nodes[i]?.httpPort as number;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { Host: host },
      signal: AbortSignal.timeout(1_000),
    });
    const text = (await res.text()).trim();
    return res.ok ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until web has `count` serving allocations of `jobVersion`, none on `avoidNode`. */
async function waitWeb(jobVersion: number, count: number, timeoutMs: number, avoidNode = '') {
  return cluster.waitFor(
    async () => {
      const allocs = serving(await allocationsOf(cluster, 'web'));
      const ok =
        allocs.length === count &&
        allocs.every((a) => a.jobVersion === jobVersion && a.node !== avoidNode);
      return ok ? allocs : undefined;
    },
    { what: `${count} serving allocations of web v${jobVersion}`, timeoutMs },
  );
}

/** Sum of a router counter's samples on node `i` whose labels contain `labelText`. */
async function routerCounter(i: number, metric: string, labelText: string): Promise<number> {
  const res = await cluster.api(i).raw('/metrics');
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) || !line.includes(labelText)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Connect failures and retries the routers of `nodes` counted on web's route so far. */
async function webRetryCounters(nodes: number[]) {
  let connectErrors = 0;
  let retries = 0;
  for (const i of nodes) {
    connectErrors += await routerCounter(i, 'berth_router_upstream_errors_total', 'kind="connect"');
    retries += await routerCounter(i, 'berth_router_retries_total', '');
  }
  return { connectErrors, retries };
}

/** Labels the load's requests with `phase` for `durationMs`, then returns its counts. */
async function measure(phase: string, durationMs: number): Promise<PhaseCounts> {
  load?.phase(phase);
  await Bun.sleep(durationMs);
  load?.phase(`after-${phase}`);
  return await record(phase);
}

async function record(phase: string): Promise<PhaseCounts> {
  const counts = await (load as RouterLoad).settled(phase);
  // A request still unfinished after the wait has no outcome: it counts as failed.
  expect(counts.inFlight).toBe(0);
  const line = describePhase(phase, counts);
  report.push(line);
  console.log(`[e2e router] ${line}`);
  return counts;
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
  await load?.stop();
  const problems = await stopJobs(cluster, ['web', 'chat']);
  if (problems.length > 0) console.log(`[e2e router] cleanup: ${problems.join('; ')}`);
  await cluster.destroy();
  const killed = killMarkedProcesses(marker);
  if (killed.length > 0) console.log(`[e2e router] killed leftover tasks: ${killed.join(' ')}`);
  rmSync(specDir, { recursive: true, force: true });
  console.log(`[e2e router] failures per phase:\n  ${report.join('\n  ')}`);
  console.log(`[e2e router] timings ms: ${JSON.stringify(timings)}`);
}, 60_000);

test('v1 with two replicas is served through every node router without a failure', async () => {
  // Proves a route to a job reaches its healthy allocations from the router of every node, including nodes that run none of them, and that steady load fails no request.
  const res = await timed('deploy v1', () =>
    deploy('web-v1.yml', jobSpec('web', webSource, 2, 'v1', '/')),
  );
  expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  await waitWeb(1, 2, 10_000);
  for (const node of cluster.nodes) {
    await cluster.waitFor(async () => (await viaRouter(node.index, 'web.localhost')) === 'v1', {
      what: `node ${node.index}'s router to answer v1`,
      timeoutMs: 5_000,
    });
  }
  load = new RouterLoad({
    host: 'web.localhost',
    ports: cluster.nodes.map((n) => n.httpPort),
    clients: 8,
    pauseMs: 10,
  });
  load.start();
  const v1 = await measure('v1', steadyPhaseMs);
  expect(v1.requests).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(failedCount(v1)).toBe(0);
  expect(Object.keys(v1.okByBody)).toEqual(['v1']);
  // Every router answered, not only the ones next to an allocation.
  expect(Object.keys(v1.okByPort).length).toBe(cluster.nodes.length);
}, 90_000);

test('rolling to v2 under load fails no request; afterwards every answer is v2', async () => {
  // Proves a rolling update switches traffic from v1 to v2 without a single non-2xx answer or connection error, and that the old version leaves every route table.
  const allNodes = cluster.nodes.map((n) => n.index);
  const countersBefore = await webRetryCounters(allNodes);
  load?.phase('v2-roll');
  const res = await timed('deploy v2', () =>
    deploy('web-v2.yml', jobSpec('web', webSource, 2, 'v2', '/')),
  );
  expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  await waitWeb(2, 2, 15_000);
  load?.phase('v2-settle');
  const roll = await record('v2-roll');
  const countersAfter = await webRetryCounters(allNodes);
  // Reported, not asserted: says whether the zero below came from draining or from retries.
  console.log(
    `[e2e router] during the v2 roll the routers saw ${countersAfter.connectErrors - countersBefore.connectErrors} ` +
      `refused upstream connections and made ${countersAfter.retries - countersBefore.retries} retries`,
  );
  await Bun.sleep(routerSettleMs);
  const after = await measure('v2-after', steadyPhaseMs);
  expect(roll.requests).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(failedCount(roll)).toBe(0);
  expect(roll.okByBody.v2 ?? 0).toBeGreaterThan(0);
  expect(after.requests).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(failedCount(after)).toBe(0);
  expect(Object.keys(after.okByBody)).toEqual(['v2']);
}, 120_000);

test('v3 with a failing check: deploy fails, traffic stays on v2, auto-revert to v2 spec', async () => {
  // Proves allocations that never get healthy receive no traffic, the failed rollout costs no request, and the auto-revert rolls a new version carrying v2's spec, again without a failure.
  load?.phase('v3');
  const res = await timed('deploy v3 (fails)', () =>
    deploy('web-v3.yml', jobSpec('web', webSource, 2, 'v3', '/missing')),
  );
  expect(res.code).not.toBe(0);
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
  await timed('revert healthy', () => waitWeb(reverted.version, 2, revertBoundMs));
  load?.phase('v3-settle');
  const v3 = await record('v3');
  await Bun.sleep(routerSettleMs);
  const after = await measure('v3-after', steadyPhaseMs);
  expect(v3.requests).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(failedCount(v3)).toBe(0);
  expect(v3.okByBody.v3 ?? 0).toBe(0);
  expect(Object.keys(v3.okByBody)).toEqual(['v2']);
  expect(failedCount(after)).toBe(0);
  expect(Object.keys(after.okByBody)).toEqual(['v2']);
}, 150_000);

test('kill -9 of a node holding a replica: failures reported and bounded, two replicas again', async () => {
  // Proves the routers of the surviving nodes retry a refused upstream on the other replica (failures counted and bounded) and that two healthy replicas serve again once the node is declared down.
  const leader = await cluster.waitFor(() => cluster.leader(), { what: 'a leader' });
  const before = serving(await allocationsOf(cluster, 'web'));
  // A follower holding a replica: killing the leader would test elections, not routing.
  const victimAlloc = before.find((a) => cluster.indexOf(a.node) !== leader);
  expect(victimAlloc).toBeDefined();
  const victim = cluster.indexOf(victimAlloc!.node);
  const survivors = cluster.nodes.filter((n) => n.index !== victim);
  // The load leaves the victim's router first, so only the upstream's death is measured.
  load?.setPorts(survivors.map((n) => n.httpPort));
  load?.phase('pre-kill');
  await Bun.sleep(routerSettleMs);
  const survivorIndexes = survivors.map((n) => n.index);
  const countersBefore = await webRetryCounters(survivorIndexes);
  load?.phase('kill');
  await cluster.kill9(victim);
  // A dead machine takes its tasks with it; the harness's kill -9 leaves them running.
  const killedTasks = killTasksWithEnv(marker, 'BERTH_PORT_HTTP', String(victimAlloc!.ports.http));
  expect(killedTasks.length).toBeGreaterThan(0);
  await timed('replicas back', () =>
    waitWeb(victimAlloc!.jobVersion, 2, recoverBoundMs, victimAlloc!.node),
  );
  load?.phase('kill-settle');
  const kill = await record('kill');
  await Bun.sleep(routerSettleMs);
  const after = await measure('kill-after', steadyPhaseMs);
  const countersAfter = await webRetryCounters(survivorIndexes);
  const connectErrors = countersAfter.connectErrors - countersBefore.connectErrors;
  const retries = countersAfter.retries - countersBefore.retries;
  console.log(
    `[e2e router] around kill -9: ${failedCount(kill)} failed requests; surviving routers ` +
      `saw ${connectErrors} refused upstream connections and made ${retries} retries`,
  );
  // The dead replica was really tried (so the zero above is the retries' doing).
  expect(connectErrors).toBeGreaterThan(0);
  expect(retries).toBeGreaterThan(0);
  expect(kill.requests).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(failedCount(kill)).toBeLessThanOrEqual(killFailuresMax);
  expect(after.requests).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(failedCount(after)).toBe(0);
  expect(Object.keys(after.okByBody)).toEqual(['v2']);
}, 90_000);

/** A WebSocket through a router that keeps every message it gets and notes its close. */
async function openChat(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
    headers: { Host: 'chat.localhost' },
  } as unknown as string[]);
  const received: string[] = [];
  const state = { closed: '' };
  ws.onmessage = (e) => received.push(String(e.data));
  ws.onclose = (e) => {
    state.closed = `close ${e.code} ${e.reason}`;
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('websocket through the router did not open'));
  });
  return { ws, received, state };
}

test('an open WebSocket to chat survives a rolling deploy of web', async () => {
  // Proves route-table rebuilds during another job's rollout leave an established WebSocket through the router open, with every message echoed in order.
  const res = await timed('deploy chat', () =>
    deploy('chat.yml', jobSpec('chat', chatSource, 1, 'c1', '/')),
  );
  expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  const via = cluster.liveIndexes()[0] as number;
  await cluster.waitFor(async () => (await viaRouter(via, 'chat.localhost')) === 'chat', {
    what: 'the router to answer for chat',
    timeoutMs: 5_000,
  });
  const chat = await openChat(cluster.nodes[via]?.httpPort as number);
  const sent: string[] = [];
  let deploying = true;
  const sender = (async () => {
    for (let i = 0; i < wsMessagesMax && deploying && chat.state.closed === ''; i++) {
      const text = `m${i}`;
      chat.ws.send(text);
      sent.push(text);
      await Bun.sleep(wsPauseMs);
    }
  })();
  load?.phase('ws-deploy');
  const web = await timed('deploy web v5 (ws)', () =>
    deploy('web-v5.yml', jobSpec('web', webSource, 2, 'v5', '/')),
  );
  deploying = false;
  await sender;
  await cluster.waitFor(() => chat.received.length >= sent.length || chat.state.closed !== '', {
    what: 'the echo of every WebSocket message',
    timeoutMs: wsEchoWaitMs,
  });
  const wsDeploy = await record('ws-deploy');
  const closedDuring = chat.state.closed;
  chat.ws.close();
  console.log(`[e2e router] websocket: ${sent.length} sent, ${chat.received.length} echoed`);
  expect({ code: web.code, stderr: web.stderr }).toEqual({ code: 0, stderr: '' });
  expect(closedDuring).toBe('');
  expect(sent.length).toBeGreaterThanOrEqual(phaseRequestsMin);
  expect(chat.received).toEqual(sent);
  expect(failedCount(wsDeploy)).toBe(0);
}, 120_000);
