/**
 * A load generator for the router acceptance tests: a few concurrent clients send GETs
 * with a chosen `Host` header to a set of router ports (round-robin across them), and
 * count per phase the answers by body (the version that answered), the non-2xx answers
 * by status and the connection errors, keeping the first few failures for the report.
 * It is bounded in requests and in time; `stop()` ends it early.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Bounds of the router load generator. */
export const routerLoadLimits = {
  /** Concurrent clients. */
  clientsMax: 16,
  /** Requests the whole generator sends before it stops by itself. */
  requestsMax: 200_000,
  /** Longest the generator runs before it stops by itself, in ms. */
  durationMsMax: 180_000,
  /** One request through a router, in ms (a hung upstream counts as a failure). */
  requestTimeoutMs: 3_000,
  /** Failures kept per phase, with their detail, for the report. */
  failuresKeptMax: 20,
  /** Processes scanned in /proc when looking for a task to kill. */
  procScanMax: 100_000,
};

/** What one phase of load saw. */
export interface PhaseCounts {
  requests: number;
  /** 2xx answers by body text. */
  okByBody: Record<string, number>;
  /** 2xx answers by router port. */
  okByPort: Record<string, number>;
  /** Non-2xx answers by status code. */
  non2xxByStatus: Record<string, number>;
  /** Requests that got no HTTP answer at all (refused, reset, timed out). */
  connectionErrors: number;
  /** The first failures, as `+<ms> router:<port> <what>`. */
  failures: string[];
  /** Requests of the phase not finished yet (their outcome is not counted yet). */
  inFlight: number;
}

export interface RouterLoadOptions {
  /** Value of the `Host` header of every request. */
  host: string;
  /** Router ports to send to; replaced with `setPorts`. */
  ports: number[];
  clients: number;
  /** Pause of each client between two requests, in ms (keeps 2 cores breathing). */
  pauseMs: number;
  path?: string;
}

/** Slack past the request timeout that `settled` waits for in-flight requests, in ms. */
const settleSlackMs = 1_000;
/** Pause between two looks at a phase's in-flight requests, in ms. */
const settlePollMs = 20;

function emptyCounts(): PhaseCounts {
  return {
    requests: 0,
    okByBody: {},
    okByPort: {},
    non2xxByStatus: {},
    connectionErrors: 0,
    failures: [],
    inFlight: 0,
  };
}

/** Failed requests of a phase: non-2xx answers plus connection errors. */
export function failedCount(c: PhaseCounts): number {
  const non2xx = Object.values(c.non2xxByStatus).reduce((a, b) => a + b, 0);
  return non2xx + c.connectionErrors;
}

/** One line per phase, for the test log. */
export function describePhase(phase: string, c: PhaseCounts): string {
  const failures = c.failures.length > 0 ? `; first failures: ${c.failures.join(' | ')}` : '';
  return (
    `${phase}: ${c.requests} requests, ok by body ${JSON.stringify(c.okByBody)}, ` +
    `non-2xx ${JSON.stringify(c.non2xxByStatus)}, connection errors ${c.connectionErrors}${failures}`
  );
}

export class RouterLoad {
  readonly phases = new Map<string, PhaseCounts>();
  readonly #options: RouterLoadOptions;
  readonly #startMs = performance.now();
  #ports: number[];
  #phase = 'start';
  #sent = 0;
  #next = 0;
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(options: RouterLoadOptions) {
    if (options.clients < 1 || options.clients > routerLoadLimits.clientsMax) {
      throw new Error(`clients must be 1..${routerLoadLimits.clientsMax}`);
    }
    if (options.ports.length === 0) throw new Error('a router load needs at least one port');
    this.#options = options;
    this.#ports = [...options.ports];
  }

  start(): void {
    const clients = Array.from({ length: this.#options.clients }, () => this.#client());
    this.#done = Promise.all(clients).then(() => undefined);
  }

  /** Counts the requests started from now on under `name`. */
  phase(name: string): void {
    this.#phase = name;
  }

  /** The routers requests go to from now on. */
  setPorts(ports: number[]): void {
    if (ports.length === 0) throw new Error('a router load needs at least one port');
    this.#ports = [...ports];
  }

  counts(phase: string): PhaseCounts {
    return this.phases.get(phase) ?? emptyCounts();
  }

  /** Whether the generator stopped by one of its own bounds (it then no longer measures). */
  get exhausted(): boolean {
    return (
      this.#sent >= routerLoadLimits.requestsMax ||
      performance.now() - this.#startMs > routerLoadLimits.durationMsMax
    );
  }

  /**
   * The counts of `phase` once every request it started has finished (bounded by the
   * request timeout): read earlier, a failure still in flight would go uncounted.
   */
  async settled(phase: string): Promise<PhaseCounts> {
    const deadline = performance.now() + routerLoadLimits.requestTimeoutMs + settleSlackMs;
    while (this.counts(phase).inFlight > 0 && performance.now() < deadline) {
      await Bun.sleep(settlePollMs);
    }
    return this.counts(phase);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  async #client(): Promise<void> {
    while (!this.#stopped && !this.exhausted) {
      this.#sent++;
      const port = this.#ports[this.#next++ % this.#ports.length] as number;
      await this.#one(this.#phase, port);
      await Bun.sleep(this.#options.pauseMs);
    }
  }

  async #one(phase: string, port: number): Promise<void> {
    let counts = this.phases.get(phase);
    if (!counts) {
      counts = emptyCounts();
      this.phases.set(phase, counts);
    }
    counts.requests++;
    counts.inFlight++;
    const atMs = Math.round(performance.now() - this.#startMs);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${this.#options.path ?? '/'}`, {
        headers: { Host: this.#options.host },
        signal: AbortSignal.timeout(routerLoadLimits.requestTimeoutMs),
      });
      const text = (await res.text()).trim();
      if (res.ok) {
        counts.okByBody[text] = (counts.okByBody[text] ?? 0) + 1;
        counts.okByPort[port] = (counts.okByPort[port] ?? 0) + 1;
        return;
      }
      const status = String(res.status);
      counts.non2xxByStatus[status] = (counts.non2xxByStatus[status] ?? 0) + 1;
      keep(counts, `+${atMs} router:${port} ${status} ${text.slice(0, 160)}`);
    } catch (error) {
      counts.connectionErrors++;
      keep(counts, `+${atMs} router:${port} ${String(error).slice(0, 160)}`);
    } finally {
      counts.inFlight--;
    }
  }
}

function keep(counts: PhaseCounts, line: string): void {
  if (counts.failures.length < routerLoadLimits.failuresKeptMax) counts.failures.push(line);
}

/**
 * SIGKILLs the processes whose environment holds both `BERTH_E2E_RUN=<marker>` and
 * `<envName>=<value>` (an exec task, identified by its port), with their process group:
 * a node that dies takes its tasks with it, while the harness's kill -9 of an agent
 * leaves them running detached. Returns the pids it killed.
 */
export function killTasksWithEnv(marker: string, envName: string, value: string): number[] {
  const needles = [`BERTH_E2E_RUN=${marker}`, `${envName}=${value}`];
  const killed: number[] = [];
  const pids = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .slice(0, routerLoadLimits.procScanMax);
  for (const pid of pids) {
    let environ: string[];
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    } catch {
      continue;
    }
    if (!needles.every((n) => environ.includes(n))) continue;
    if (isGroupLeader(pid)) {
      try {
        process.kill(-Number(pid), 'SIGKILL');
      } catch {
        // Already gone: the process itself below.
      }
    }
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
    killed.push(Number(pid));
  }
  return killed;
}

/** Whether /proc/<pid>/stat names the process as the leader of its process group. */
function isGroupLeader(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command: state, ppid, pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === pid;
  } catch {
    return false;
  }
}
