/**
 * Real-process harness for router tests: tiny upstream HTTP servers started as `bun -e`
 * subprocesses on 127.0.0.1, and a bounded load generator that counts what failed.
 */
import type { Subprocess } from 'bun';
import {
  buildRouteTable,
  type RouteInputAllocation,
  type RouteInputJob,
  type RouteTable,
} from '../../actors/router/index.ts';

/**
 * The upstream program. Argument 1 is the port (0 = any; the chosen one is printed as
 * `listening <port>`), argument 2 the version string every answer carries.
 */
const upstreamSource = `
const [portArg, version] = process.argv.slice(-2);
const port = Number(portArg);
const encoder = new TextEncoder();
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  idleTimeout: 60,
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/ws' && srv.upgrade(req)) return;
    if (url.pathname === '/headers') {
      return Response.json(Object.fromEntries(req.headers.entries()), { headers: { 'x-version': version } });
    }
    if (url.pathname === '/echo') {
      const body = await req.arrayBuffer();
      return new Response(version + ' ' + body.byteLength, { headers: { 'x-version': version } });
    }
    if (url.pathname === '/slow') {
      await Bun.sleep(Number(url.searchParams.get('ms') ?? '500'));
      return new Response(version, { headers: { 'x-version': version } });
    }
    if (url.pathname === '/sse') {
      const count = Number(url.searchParams.get('n') ?? '3');
      const gapMs = Number(url.searchParams.get('gap') ?? '200');
      const stream = new ReadableStream({
        async pull(controller) {
          for (let i = 0; i < count; i++) {
            controller.enqueue(encoder.encode('data: ' + version + ' event ' + i + '\\n\\n'));
            await Bun.sleep(gapMs);
          }
          controller.close();
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'x-version': version } });
    }
    return new Response(version, { headers: { 'x-version': version } });
  },
  websocket: { message(ws, message) { ws.send(version + ':' + message); } },
});
console.log('listening ' + server.port);
// Never outlive the test process (a crashed test run must not leak upstreams).
const parentPid = process.ppid;
setInterval(() => { if (process.ppid !== parentPid) process.exit(0); }, 500);
`;

export interface UpstreamProcess {
  port: number;
  version: string;
  proc: Subprocess<'ignore', 'pipe', 'inherit'>;
  /** SIGKILL, and wait until the process is gone. */
  kill9(): Promise<void>;
}

/** Starts one upstream subprocess and waits until it listens. */
export async function startUpstream(version: string, port = 0): Promise<UpstreamProcess> {
  const proc = Bun.spawn([process.execPath, '-e', upstreamSource, String(port), version], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const reader = proc.stdout.getReader();
  let text = '';
  const decoder = new TextDecoder();
  for (let reads = 0; reads < 100 && !text.includes('\n'); reads++) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value);
  }
  reader.releaseLock();
  const match = /listening (\d+)/.exec(text);
  if (!match) {
    proc.kill(9);
    throw new Error(`upstream ${version} did not start: ${JSON.stringify(text)}`);
  }
  return {
    port: Number(match[1]),
    version,
    proc,
    async kill9() {
      proc.kill(9);
      await proc.exited;
    },
  };
}

/** One allocation of `job` served by `upstream` on node n1 (127.0.0.1). */
export function allocationFor(
  id: string,
  job: string,
  jobVersion: number,
  upstream: UpstreamProcess,
  over: Partial<RouteInputAllocation> = {},
): RouteInputAllocation {
  return {
    id,
    jobId: job,
    jobVersion,
    nodeId: 'n1',
    ports: { http: upstream.port },
    clientStatus: 'healthy',
    desiredStatus: 'run',
    ...over,
  };
}

/** A table over local node n1 (127.0.0.1). */
export function localTable(jobs: RouteInputJob[], allocations: RouteInputAllocation[]): RouteTable {
  return buildRouteTable({
    jobs,
    allocations,
    nodes: [{ id: 'n1', host: '127.0.0.1', status: 'up' }],
  });
}

export function routedJob(name: string, host: string, maintenance?: string): RouteInputJob {
  return {
    name,
    routes: [{ hosts: [host], paths: [], port: 'http', tls: false }],
    maintenance: maintenance === undefined ? undefined : { message: maintenance },
  };
}

export interface LoadOptions {
  url: string;
  host: string;
  concurrency: number;
  requestsMax: number;
  durationMsMax: number;
  /** Read when each request starts; recorded with its answer (e.g. "before"/"after"). */
  phase?: () => string;
}

export interface LoadReport {
  sent: number;
  ok: number;
  non2xx: number;
  connectionErrors: number;
  /** `phase version` → count, from each 2xx answer's x-version header. */
  byPhaseVersion: Map<string, number>;
  statuses: Map<number, number>;
}

/** Runs GET requests with bounded concurrency until requestsMax or durationMsMax. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const report: LoadReport = {
    sent: 0,
    ok: 0,
    non2xx: 0,
    connectionErrors: 0,
    byPhaseVersion: new Map(),
    statuses: new Map(),
  };
  const deadline = performance.now() + options.durationMsMax;
  const worker = async () => {
    while (report.sent < options.requestsMax && performance.now() < deadline) {
      report.sent += 1;
      const phase = options.phase?.() ?? '';
      try {
        const response = await fetch(options.url, { headers: { host: options.host } });
        await response.arrayBuffer();
        report.statuses.set(response.status, (report.statuses.get(response.status) ?? 0) + 1);
        if (response.status < 200 || response.status > 299) {
          report.non2xx += 1;
          continue;
        }
        report.ok += 1;
        const key = `${phase} ${response.headers.get('x-version')}`;
        report.byPhaseVersion.set(key, (report.byPhaseVersion.get(key) ?? 0) + 1);
      } catch {
        report.connectionErrors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return report;
}

/** Waits until `condition` holds, checking every few ms, at most `attemptsMax` times. */
export async function waitFor(condition: () => boolean, attemptsMax = 400): Promise<boolean> {
  for (let i = 0; i < attemptsMax; i++) {
    if (condition()) return true;
    await Bun.sleep(5);
  }
  return condition();
}
