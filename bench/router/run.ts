/**
 * `make bench-router`: throughput and p99 latency of Berth's router beside nginx and
 * Caddy as reverse proxies, all on 127.0.0.1 in one script, measured with wrk against the
 * same upstream (nginx serving a static 1 KB file). Prints requests/s, p99 and the ratios,
 * and writes bench/results/router.json.
 *
 * Installs Debian's wrk, nginx and caddy with apt-get when missing; a baseline whose
 * package is unavailable is skipped with the reason printed. Every process it starts is
 * killed before it exits.
 *
 * Beside requests/s and p99 it prints each proxy's CPU time per request (its own
 * process only: Berth's router runs in this process, nginx's master and workers, Caddy's
 * process), which depends far less on what else the machine runs than throughput does,
 * and the load average before and after, so a run on a busy machine can be recognised.
 *
 * Environment (all optional):
 *   BENCH_ROUTER_DURATION_S       seconds per wrk run (default 10)
 *   BENCH_ROUTER_ROUNDS           rounds of berth → nginx → caddy (order rotated each round);
 *                                 the median round per proxy is reported (default 5: one
 *                                 round swings with where the scheduler puts threads)
 *   BENCH_ROUTER_CONNECTIONS      wrk connections (default 64)
 *   BENCH_ROUTER_THREADS          wrk threads (default 2)
 *   BENCH_ROUTER_NGINX_WORKERS    worker processes of the nginx proxy (default 1: Berth's
 *                                 router is one event loop; Caddy uses Go's default)
 *   BENCH_ROUTER_BALANCING        round-robin | least-outstanding (default round-robin)
 *   BENCH_ROUTER_PIN              1: each proxy runs on CPU 1 alone, wrk and the upstream on
 *                                 CPU 0 (taskset; needs 2 CPUs), so every proxy gets the same
 *                                 one core (Caddy, which would use both, is held to one). Off
 *                                 by default: on a 2-CPU machine the load side then often
 *                                 saturates CPU 0 first, which caps the faster proxy's figure
 *                                 (each run prints how busy each CPU was, so this shows).
 *                                 Unpinned, the scheduler puts wrk's threads beside the proxy
 *                                 at random, which swings a single-threaded proxy's CPU per
 *                                 request by up to 1.4x between rounds; hence the rounds.
 */

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { buildRouteTable } from '../../actors/router/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { Router } from '../../src/router/index.ts';
import { busyPercents, type CpuClock, cpuJiffies, ownCpuMs, processTreeCpuMs } from './cpu.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const durationS = envInt('BENCH_ROUTER_DURATION_S', 10);
const connections = envInt('BENCH_ROUTER_CONNECTIONS', 64);
const threads = envInt('BENCH_ROUTER_THREADS', 2);
const nginxWorkers = envInt('BENCH_ROUTER_NGINX_WORKERS', 1);
const rounds = envInt('BENCH_ROUTER_ROUNDS', 5);
const balancing =
  process.env.BENCH_ROUTER_BALANCING === 'least-outstanding' ? 'least-outstanding' : 'round-robin';
const pinned = process.env.BENCH_ROUTER_PIN === '1';
/** CPUs for the load side (wrk, upstream) and for the proxy under test, when pinned. */
const loadCpu = '0';
const proxyCpu = '1';

/** `cmd` run on `cpu` when pinning is on, else as it is. */
function onCpu(cpu: string, cmd: string[]): string[] {
  return pinned ? ['taskset', '-c', cpu, ...cmd] : cmd;
}

/** Pins this process (Berth's router runs in it) to the proxy CPU, every thread included. */
function pinSelf(): void {
  if (navigator.hardwareConcurrency < 2 || !Bun.which('taskset')) {
    throw new Error('BENCH_ROUTER_PIN=1 needs 2 CPUs and taskset (util-linux)');
  }
  const result = Bun.spawnSync(['taskset', '-a', '-p', '-c', proxyCpu, String(process.pid)]);
  if (result.exitCode !== 0) throw new Error(`taskset failed: ${result.stderr.toString()}`);
}

const ports = { upstream: 18_081, berth: 18_082, nginx: 18_083, caddy: 18_084 };

/** Fails when a port is taken: a stray server there would be measured instead of ours. */
function ensurePortsFree(): void {
  for (const [name, port] of Object.entries(ports)) {
    try {
      Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } }).stop(true);
    } catch {
      throw new Error(`port ${port} (${name}) is in use on 127.0.0.1: stop what listens there`);
    }
  }
}
const children: Subprocess[] = [];

interface WrkResult {
  requestsPerSecond: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
  requests: number;
  /** CPU time the proxy's own process(es) used per request, in µs (not for the upstream). */
  cpuUsPerRequest?: number;
  /** How busy each CPU of the machine was during the run, in percent. */
  cpuBusyPercents?: number[];
}

/** One proxy under test: where to send requests and how to read its CPU time. */
interface Contender {
  name: string;
  url: string;
  cpuMs: CpuClock;
}

/** Installs `pkg` with apt-get when `binary` is missing; returns why not, or undefined. */
function ensurePackage(binary: string, pkg: string): string | undefined {
  if (Bun.which(binary)) return undefined;
  const policy = Bun.spawnSync(['apt-cache', 'policy', pkg]).stdout.toString();
  const candidate = /Candidate:\s*(\S+)/.exec(policy)?.[1];
  if (!candidate || candidate === '(none)') return `apt has no candidate for ${pkg}`;
  console.log(`installing ${pkg} ${candidate} with apt-get`);
  const install = Bun.spawnSync(['apt-get', 'install', '-y', '--no-install-recommends', pkg], {
    // RUNLEVEL=1 keeps the package's service from starting on port 80.
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' },
    stdout: 'inherit',
    stderr: 'inherit',
  });
  if (install.exitCode !== 0) return `apt-get install ${pkg} failed (exit ${install.exitCode})`;
  return Bun.which(binary) ? undefined : `${pkg} installed but ${binary} is not on PATH`;
}

function spawnChild(cmd: string[], env: Record<string, string> = {}): Subprocess {
  const child = Bun.spawn(cmd, {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
    env: { ...process.env, ...env },
  });
  children.push(child);
  return child;
}

/** Waits until `url` answers 200 with a 1 KB body (at most ~10 s). */
async function waitReady(name: string, url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const response = await fetch(url);
      const body = await response.arrayBuffer();
      if (response.status === 200 && body.byteLength === 1024) return;
    } catch {
      // Not listening yet.
    }
    await Bun.sleep(50);
  }
  throw new Error(`${name} did not serve the 1 KB file at ${url}`);
}

function nginxConfig(dir: string, body: string): string {
  return `daemon off;
master_process on;
pid ${dir}/nginx-${body.length}.pid;
error_log ${dir}/nginx-error.log warn;
${body}`;
}

function upstreamNginx(dir: string): string {
  const conf = join(dir, 'nginx-upstream.conf');
  writeFileSync(
    conf,
    nginxConfig(
      dir,
      `worker_processes 1;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/up-body;
  server { listen 127.0.0.1:${ports.upstream}; keepalive_requests 1000000; root ${dir}/www; }
}
`,
    ),
  );
  return conf;
}

function proxyNginx(dir: string): string {
  const conf = join(dir, 'nginx-proxy.conf');
  writeFileSync(
    conf,
    nginxConfig(
      dir,
      `worker_processes ${nginxWorkers};
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/px-body;
  proxy_temp_path ${dir}/px-proxy;
  upstream app { server 127.0.0.1:${ports.upstream}; keepalive 128; }
  server {
    listen 127.0.0.1:${ports.nginx};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
    ),
  );
  return conf;
}

function caddyfile(dir: string): string {
  const file = join(dir, 'Caddyfile');
  writeFileSync(
    file,
    `{
  admin off
  auto_https off
}
http://127.0.0.1:${ports.caddy} {
  reverse_proxy 127.0.0.1:${ports.upstream}
}
`,
  );
  return file;
}

/** Parses wrk's `--latency` output. */
function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(output)?.[1];
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output);
  if (!rps || !p99) throw new Error(`cannot parse wrk output:\n${output}`);
  const scale = p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1;
  const non2xx = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? 0);
  return {
    requestsPerSecond: Number(rps),
    p99Ms: Number(p99[1]) * scale,
    non2xx,
    socketErrors,
    requests,
  };
}

async function wrk(url: string, seconds: number): Promise<WrkResult> {
  const proc = Bun.spawn(
    onCpu(loadCpu, ['wrk', `-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', url]),
    { stdout: 'pipe', stderr: 'pipe' },
  );
  children.push(proc);
  const [output] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return parseWrk(output);
}

async function warmUp(name: string, url: string): Promise<void> {
  await waitReady(name, url);
  await wrk(url, Math.min(2, durationS)); // warm-up: connection pools, JIT
}

async function measure(contender: Contender): Promise<WrkResult> {
  const cpuBeforeMs = contender.cpuMs();
  const machineBefore = cpuJiffies();
  const result = await wrk(contender.url, durationS);
  const cpuMs = contender.cpuMs() - cpuBeforeMs;
  result.cpuBusyPercents = busyPercents(machineBefore, cpuJiffies());
  if (result.requests > 0) result.cpuUsPerRequest = (cpuMs * 1000) / result.requests;
  const cpu =
    result.cpuUsPerRequest === undefined
      ? ''
      : `   cpu ${result.cpuUsPerRequest.toFixed(1)} µs/req`;
  console.log(
    `${contender.name.padEnd(10)} ${result.requestsPerSecond.toFixed(0).padStart(8)} req/s   p99 ${result.p99Ms.toFixed(2).padStart(7)} ms${cpu}` +
      `   cpus busy ${result.cpuBusyPercents.map((p) => `${p}%`).join(' ')}` +
      (result.non2xx + result.socketErrors > 0
        ? `   (non-2xx ${result.non2xx}, socket errors ${result.socketErrors})`
        : ''),
  );
  return result;
}

/** Measures every contender `rounds` times, rotating who goes first; keeps each one's median. */
async function measureRounds(contenders: Contender[]): Promise<Record<string, WrkResult>> {
  const runs = new Map<string, WrkResult[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    if (rounds > 1) console.log(`round ${round + 1} of ${rounds}`);
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(i + round) % contenders.length]!;
      runs.get(contender.name)!.push(await measure(contender));
    }
  }
  const medians: Record<string, WrkResult> = {};
  for (const [name, results] of runs) {
    const sorted = [...results].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
    medians[name] = sorted[Math.floor((sorted.length - 1) / 2)]!;
  }
  return medians;
}

function startBerth(): Router {
  const router = new Router({
    listen: { hostname: '127.0.0.1', port: ports.berth },
    logger: createLogger({ level: 'warn' }),
    balancing,
  });
  router.start();
  router.setTable(
    buildRouteTable({
      jobs: [{ name: 'bench', routes: [{ hosts: [], paths: [], port: 'http', tls: false }] }],
      allocations: [
        {
          id: 'bench-1',
          jobId: 'bench',
          jobVersion: 1,
          nodeId: 'local',
          ports: { http: ports.upstream },
          clientStatus: 'healthy',
          desiredStatus: 'run',
        },
      ],
      nodes: [{ id: 'local', host: '127.0.0.1', status: 'up' }],
    }),
  );
  return router;
}

function ratio(a: WrkResult | undefined, b: WrkResult | undefined): number | null {
  if (!a || !b) return null;
  return Math.round((a.requestsPerSecond / b.requestsPerSecond) * 100) / 100;
}

function cpuRatio(a: WrkResult | undefined, b: WrkResult | undefined): number | null {
  if (a?.cpuUsPerRequest === undefined || b?.cpuUsPerRequest === undefined) return null;
  return Math.round((a.cpuUsPerRequest / b.cpuUsPerRequest) * 100) / 100;
}

async function main(): Promise<void> {
  ensurePortsFree();
  const wrkMissing = ensurePackage('wrk', 'wrk');
  if (wrkMissing) throw new Error(`cannot benchmark without wrk: ${wrkMissing}`);
  const nginxMissing = ensurePackage('nginx', 'nginx');
  if (nginxMissing) throw new Error(`nginx serves the upstream and is required: ${nginxMissing}`);
  const caddyMissing = ensurePackage('caddy', 'caddy');
  if (caddyMissing) console.log(`skipping the Caddy baseline: ${caddyMissing}`);

  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-router-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'www'), { mode: 0o755 });
  writeFileSync(join(dir, 'www', 'index.html'), 'x'.repeat(1023) + '\n', { mode: 0o644 });
  const loadBefore = loadavg();
  console.log(`load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  console.log(
    pinned
      ? `pinned: each proxy on CPU ${proxyCpu}, wrk and the upstream on CPU ${loadCpu}`
      : 'not pinned: proxies, wrk and the upstream share every CPU (BENCH_ROUTER_PIN=1 pins)',
  );
  let results: Record<string, WrkResult> = {};
  let router: Router | undefined;
  try {
    if (pinned) pinSelf();
    const upstream = spawnChild(onCpu(loadCpu, ['nginx', '-c', upstreamNginx(dir), '-p', dir]));
    const upstreamContender: Contender = {
      name: 'upstream',
      url: `http://127.0.0.1:${ports.upstream}/index.html`,
      cpuMs: () => processTreeCpuMs(upstream.pid),
    };
    await warmUp(upstreamContender.name, upstreamContender.url);
    const upstreamResult = await measure(upstreamContender);
    router = startBerth();
    const nginx = spawnChild(onCpu(proxyCpu, ['nginx', '-c', proxyNginx(dir), '-p', dir]));
    const contenders: Contender[] = [
      { name: 'berth', url: `http://127.0.0.1:${ports.berth}/index.html`, cpuMs: ownCpuMs },
      {
        name: 'nginx',
        url: `http://127.0.0.1:${ports.nginx}/index.html`,
        cpuMs: () => processTreeCpuMs(nginx.pid),
      },
    ];
    if (!caddyMissing) {
      const caddy = spawnChild(
        onCpu(proxyCpu, ['caddy', 'run', '--config', caddyfile(dir), '--adapter', 'caddyfile']),
        {
          XDG_DATA_HOME: join(dir, 'caddy-data'),
          XDG_CONFIG_HOME: join(dir, 'caddy-config'),
        },
      );
      contenders.push({
        name: 'caddy',
        url: `http://127.0.0.1:${ports.caddy}/index.html`,
        cpuMs: () => processTreeCpuMs(caddy.pid),
      });
    }
    for (const contender of contenders) await warmUp(contender.name, contender.url);
    results = { upstream: upstreamResult, ...(await measureRounds(contenders)) };
  } finally {
    await router?.stop({ force: true });
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  console.log(`load average ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
  report(results, caddyMissing, { before: loadBefore, after: loadAfter });
}

function report(
  results: Record<string, WrkResult>,
  caddySkipped: string | undefined,
  load: { before: number[]; after: number[] },
): void {
  const vsNginx = ratio(results.berth, results.nginx);
  const vsCaddy = ratio(results.berth, results.caddy);
  console.log(`berth vs nginx: ${vsNginx ?? 'n/a'}x   (target >= 0.7x)`);
  console.log(`berth vs caddy: ${vsCaddy ?? 'n/a'}x   (target >= 1x)`);
  const cpuVsNginx = cpuRatio(results.nginx, results.berth);
  if (cpuVsNginx !== null) console.log(`nginx cpu/req ÷ berth cpu/req: ${cpuVsNginx}x`);
  const out = {
    bench: 'router',
    date: new Date().toISOString(),
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, loadAverage: load },
    settings: {
      durationS,
      connections,
      threads,
      nginxWorkers,
      balancing,
      bodyBytes: 1024,
      rounds,
      pinned,
    },
    results,
    ratios: { berthVsNginx: vsNginx, berthVsCaddy: vsCaddy, nginxCpuPerRequestVsBerth: cpuVsNginx },
    skipped: caddySkipped ? { caddy: caddySkipped } : {},
  };
  const resultsDir = join(import.meta.dir, '..', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'router.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log('wrote bench/results/router.json');
}

async function cleanup(): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && !child.killed) child.kill('SIGTERM');
  }
  await Promise.all(
    children.map((child) =>
      Promise.race([child.exited, Bun.sleep(3_000).then(() => child.kill('SIGKILL'))]),
    ),
  );
}

process.on('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

await main();
