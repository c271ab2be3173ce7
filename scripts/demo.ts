#!/usr/bin/env bun
/**
 * `make demo`: a three-node Berth cluster on this machine's loopback, for trying the CLI.
 *
 * It creates a temporary data directory, picks free ports (API from 4646, peer from 4650,
 * moving up past any that are taken), runs `berth server init` (which saves the CLI
 * context "demo" and makes it current, so `bun run berth …` in another terminal talks to
 * this cluster), starts three `berth agent` processes, joins two of them as voters, shows
 * `berth status` and `berth node ls` once all three vote, deploys `examples/hello-exec.yml`
 * (two replicas of a small HTTP server under the exec driver, no Docker needed) with
 * `berth deploy`, and shows it answering. Then it waits, silent, until Ctrl-C (or
 * DEMO_EXIT_AFTER_MS, for tests), stops the job and the agents, restores the CLI contexts
 * it changed and removes the temporary directory.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { ApiClient } from '../src/cli/client.ts';
import { type ContextFile, configDir, loadContexts, saveContexts } from '../src/cli/context.ts';

const repoRoot = resolve(import.meta.dir, '..');
const cliPath = join(repoRoot, 'src', 'cli', 'main.ts');
const clusterName = 'demo';
const nodeCount = 3;

/** Bounds of the demo's waits. */
const demoLimits = {
  /** Ports tried above each base before giving up. */
  portProbesMax: 200,
  /** How long the cluster may take to elect and promote three voters, in ms. */
  readyTimeoutMs: 60_000,
  /** Pause between two polls, in ms. */
  pollIntervalMs: 200,
  /** One API request, in ms. */
  requestTimeoutMs: 10_000,
  /** SIGTERM grace before SIGKILL, in ms. */
  stopGraceMs: 10_000,
  /** Times one node's join is tried when it meets an election. */
  joinAttemptsMax: 5,
  /** Log lines shown per node when start-up fails. */
  logTailLines: 20,
};

interface DemoNode {
  name: string;
  dataDir: string;
  logPath: string;
  apiPort: number;
  peerPort: number;
  httpPort: number;
  httpsPort: number;
  process?: Subprocess;
}

function portIsFree(port: number): boolean {
  try {
    Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** `count` free ports at or above `base`, none of them in `taken`. */
function freePortsFrom(base: number, count: number, taken: Set<number>): number[] {
  const ports: number[] = [];
  for (let p = base; p < base + demoLimits.portProbesMax && ports.length < count; p++) {
    if (taken.has(p) || !portIsFree(p)) continue;
    taken.add(p);
    ports.push(p);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports from ${base} on 127.0.0.1`);
  return ports;
}

function planNodes(dir: string): DemoNode[] {
  const taken = new Set<number>();
  const apiPorts = freePortsFrom(4646, nodeCount, taken);
  const peerPorts = freePortsFrom(4650, nodeCount, taken);
  const httpPorts = freePortsFrom(8080, nodeCount, taken);
  const httpsPorts = freePortsFrom(8443, nodeCount, taken);
  return apiPorts.map((apiPort, i) => ({
    name: `n${i + 1}`,
    dataDir: join(dir, `n${i + 1}`),
    logPath: join(dir, `n${i + 1}.log`),
    apiPort,
    peerPort: peerPorts[i] as number,
    httpPort: httpPorts[i] as number,
    httpsPort: httpsPorts[i] as number,
  }));
}

/** Runs the CLI; throws with its stderr when it fails. */
async function cli(argv: string[]): Promise<string> {
  const proc = Bun.spawn(['bun', cliPath, ...argv], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`berth ${argv.join(' ')} failed (${code}):\n${stderr}`);
  return stdout;
}

function nodeFlags(node: DemoNode): string[] {
  return [
    ...['--data-dir', node.dataDir, '--name', node.name, '--bind', '127.0.0.1'],
    ...['--api-port', String(node.apiPort), '--peer-port', String(node.peerPort)],
    ...['--http-port', String(node.httpPort), '--https-port', String(node.httpsPort)],
  ];
}

function startAgent(node: DemoNode): void {
  const fd = openSync(node.logPath, 'a');
  node.process = Bun.spawn(['bun', cliPath, 'agent', '--data-dir', node.dataDir], {
    cwd: repoRoot,
    env: { ...process.env, BERTH_LOG: process.env.BERTH_LOG ?? 'info' },
    stdin: 'ignore',
    stdout: fd,
    stderr: fd,
  });
  closeSync(fd);
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + demoLimits.readyTimeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await Bun.sleep(demoLimits.pollIntervalMs);
  }
  throw new Error(`timed out after ${demoLimits.readyTimeoutMs} ms waiting for ${what}`);
}

function clientFor(node: DemoNode, caPem: string, token: string): ApiClient {
  return new ApiClient(
    { address: `https://127.0.0.1:${node.apiPort}`, caPem, token },
    { timeoutMs: demoLimits.requestTimeoutMs },
  );
}

/**
 * Mints a voter join token and runs `berth server join`. A join that meets an election
 * is refused before anything is spent (`not_leader`), so it is tried again, a few times.
 */
async function joinNode(api: ApiClient, address: string, node: DemoNode): Promise<void> {
  const { token } = await api.request<{ token: string }>('/v1/cluster/join-tokens', {
    method: 'POST',
    body: { role: 'voter' },
  });
  for (let attempt = 1; ; attempt++) {
    try {
      await cli(['server', 'join', address, '--token', token, ...nodeFlags(node)]);
      return;
    } catch (error) {
      if (attempt >= demoLimits.joinAttemptsMax || !/not_leader|no_leader/.test(String(error))) {
        throw error;
      }
      await Bun.sleep(demoLimits.pollIntervalMs * 5);
    }
  }
}

/** init node 1, start it, join the others as voters; resolves with an admin client. */
async function buildCluster(nodes: DemoNode[]): Promise<ApiClient> {
  const [first, ...others] = nodes as [DemoNode, ...DemoNode[]];
  const init = JSON.parse(
    await cli(['server', 'init', '--cluster', clusterName, ...nodeFlags(first), '--json']),
  ) as { adminToken: string };
  const caPem = readFileSync(join(first.dataDir, 'tls', 'ca.pem'), 'utf8');
  startAgent(first);
  const api = clientFor(first, caPem, init.adminToken);
  await waitUntil('node 1 to answer', async () => (await api.request('/v1/status')) !== null);
  for (const node of others) {
    await joinNode(api, `127.0.0.1:${first.apiPort}`, node);
    startAgent(node);
  }
  await waitUntil('three voters', async () => {
    const { items } = await api.request<{ items: { voter: boolean }[] }>('/v1/operator/raft/peers');
    return items.filter((p) => p.voter).length === nodeCount;
  });
  return api;
}

/** Deploys examples/hello-exec.yml (exec driver: no Docker needed) and shows it serving. */
async function deployExample(api: ApiClient): Promise<string[]> {
  const file = join(repoRoot, 'examples', 'hello-exec.yml');
  const lines = ['$ berth deploy -f examples/hello-exec.yml'];
  lines.push((await cli(['deploy', '-f', file, '--timeout', '90s'])).trimEnd());
  lines.push('', '$ berth job status hello', (await cli(['job', 'status', 'hello'])).trimEnd());
  const { items } = await api.request<{
    items: { ports?: Record<string, number>; status: string }[];
  }>('/v1/jobs/hello/allocations');
  const port = items.find((a) => a.status === 'healthy')?.ports?.http;
  if (port !== undefined) {
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    lines.push('', `$ curl http://127.0.0.1:${port}/`, body.trimEnd());
  }
  return lines;
}

/** Stops the example job so its processes end with the demo (agents leave tasks running). */
async function stopExample(api: ApiClient): Promise<void> {
  try {
    await cli(['job', 'stop', 'hello']);
    await waitUntil('the example to stop', async () => {
      const { items } = await api.request<{ items: { status: string; desired?: string }[] }>(
        '/v1/jobs/hello/allocations',
      );
      return items.every(
        (a) => a.status === 'complete' || a.status === 'failed' || a.status === 'lost',
      );
    });
  } catch (error) {
    console.error(`berth demo: could not stop the example cleanly: ${(error as Error).message}`);
  }
}

/** SIGTERM to every agent; SIGKILL to any still running after the grace period. */
async function stopAgents(nodes: DemoNode[]): Promise<void> {
  const procs = nodes.flatMap((n) => (n.process ? [n.process] : []));
  for (const p of procs) p.kill('SIGTERM');
  const exited = Promise.all(procs.map((p) => p.exited));
  const late = Bun.sleep(demoLimits.stopGraceMs).then(() => 'late' as const);
  if ((await Promise.race([exited, late])) === 'late') {
    for (const p of procs) p.kill('SIGKILL');
    await exited;
  }
}

/** Puts the "demo" context (and which context is current) back as they were. */
function restoreContexts(before: ContextFile): void {
  const now = loadContexts();
  const saved = before.contexts[clusterName];
  if (saved) now.contexts[clusterName] = saved;
  else delete now.contexts[clusterName];
  if (before.current === undefined) delete now.current;
  else now.current = before.current;
  saveContexts(now);
}

function logTails(nodes: DemoNode[]): string {
  return nodes
    .map((n) => {
      let text = '';
      try {
        text = readFileSync(n.logPath, 'utf8');
      } catch {
        text = '(no log)';
      }
      const tail = text.trimEnd().split('\n').slice(-demoLimits.logTailLines).join('\n');
      return `--- ${n.name} (${n.logPath})\n${tail}`;
    })
    .join('\n');
}

/** Resolves on Ctrl-C / SIGTERM, or after DEMO_EXIT_AFTER_MS when that is set. */
function untilStopped(): Promise<void> {
  return new Promise((resolveStop) => {
    const exitAfterMs = Number(process.env.DEMO_EXIT_AFTER_MS);
    if (exitAfterMs > 0) setTimeout(resolveStop, exitAfterMs);
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
}

async function main(): Promise<number> {
  const contextsBefore = loadContexts();
  const dir = mkdtempSync(join(tmpdir(), 'berth-demo-'));
  console.log(`berth demo: data directory ${dir}`);
  const nodes = planNodes(dir);
  let code = 0;
  try {
    const api = await buildCluster(nodes);
    console.log(`API:          ${api.address}  (nodes: ${nodes.map((n) => n.apiPort).join(', ')})`);
    console.log(
      `admin token:  saved in CLI context "${clusterName}" in ${join(configDir(), 'contexts.json')}`,
    );
    console.log('from another terminal, in this repository:  bun run berth status');
    console.log('\n$ berth status');
    console.log((await cli(['status'])).trimEnd());
    console.log('\n$ berth node ls');
    console.log((await cli(['node', 'ls'])).trimEnd());
    console.log('');
    for (const line of await deployExample(api)) console.log(line);
    console.log(
      '\nthe cluster runs until Ctrl-C, which stops the three agents and removes the data directory.',
    );
    await untilStopped();
    await stopExample(api);
  } catch (error) {
    console.error(`berth demo failed: ${(error as Error).message}\n${logTails(nodes)}`);
    code = 1;
  } finally {
    await stopAgents(nodes);
    restoreContexts(contextsBefore);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(code === 0 ? 'berth demo: stopped; data directory removed' : '');
  return code;
}

process.exit(await main());
