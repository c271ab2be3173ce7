/**
 * One failover trial: a fault on one node while the write load (and, for Berth, the
 * HTTP load) runs, the figures read from the samples, then recovery to full health.
 *
 * Scenarios: `kill-leader` (kill -9 the leader), `kill-replica-node` (kill -9 a non-leader,
 * for Berth one that holds a replica of the example job), `stop-leader` (SIGSTOP the leader
 * for `grayFailureMs`, then SIGCONT). For Berth a kill takes the node's tasks with it.
 */
import { loadavg } from 'node:os';
import type { BerthTarget, RouterCounters } from './berth-target.ts';
import { benchJobCount } from './berth-target.ts';
import { type CpuSampler, type CpuShares, cpuBetween } from './cpu-sampler.ts';
import {
  failuresBetween,
  firstSuccessAfter,
  type Load,
  longestSuccessGap,
  type RequestFailure,
  routedWindow,
} from './load.ts';
import { evidenceOf, type RouterEvidence, routerLines } from './router-evidence.ts';
import type { FailoverTarget } from './target.ts';

export type Scenario = 'kill-leader' | 'kill-replica-node' | 'stop-leader';
export const scenarios: readonly Scenario[] = ['kill-leader', 'kill-replica-node', 'stop-leader'];

export interface TrialFigures {
  scenario: Scenario;
  /** Index of the faulted node. */
  victim: number;
  /** The machine's 1-minute load average at the fault (2 cores here: above 2 is contention). */
  loadAverage1m: number;
  /** Fault to the first write committed through a survivor (sent after the fault), ms. */
  leaderMs: number | null;
  /** Longest gap between two successful write completions around the fault, ms. */
  writeUnavailableMs: number;
  /** Writes that failed (error or timeout) among those sent during the trial. */
  writesFailed: number;
  writesTotal: number;
  /**
   * Routed HTTP requests (through the routers of nodes that stay up) in flight at the
   * fault or sent until full health again, and those that failed: an error status, no
   * answer, or no complete answer within the load's timeout (Berth).
   */
  httpFailed: number | null;
  httpTotal: number | null;
  /** Of those, requests that succeeded but took longer than `slowMs` (Berth). */
  httpSlow: number | null;
  /** Each failed routed request, timed from the fault (Berth). */
  httpFailures: RoutedFailure[] | null;
  /** Fault to the job having all its replicas healthy on other nodes, ms (Berth, when the victim held one). */
  allocationsMovedMs: number | null;
  /** Fault to full health again (after restart or SIGCONT), ms. */
  recoveredMs: number;
  /** CPU from the fault to full health: the machine's and each agent's (Berth). */
  cpu: CpuShares | null;
  /**
   * What the routers of the nodes that stayed up counted from just before the fault to
   * full health: failed upstream attempts and retries (Berth; null when unreadable).
   */
  routers: RouterCounters | null;
}

/** One failed routed request: when it was sent relative to the fault, and how it failed. */
export interface RoutedFailure extends RequestFailure {
  /** Send time minus fault time, ms (negative: sent before the fault). */
  sentAfterFaultMs: number;
  /** Send to failure, ms. */
  durationMs: number;
  /** The router's log line for it; null when the router never logged it. */
  router: RouterEvidence | null;
  /** While it was out: the router's agent's CPU (% of a core) and the machine's busy %. */
  routerAgentCpuPercent: number | null;
  machineBusyPercent: number | null;
}

export interface TrialContext {
  target: FailoverTarget;
  /** Set when the target is Berth: allocations are measured. */
  berth: BerthTarget | undefined;
  writes: Load;
  http: Load | undefined;
  /** Nodes the write load must not use right now. */
  avoid: Set<number>;
  grayFailureMs: number;
  /** Bound of every wait inside one trial, in ms. */
  waitTimeoutMs: number;
  /** A successful routed request slower than this counts as slow, ms. */
  slowMs: number;
  /** Samples the agents' and the machine's CPU (Berth). */
  cpu: CpuSampler | undefined;
}

async function waitUntil<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Picks the victim: the leader, or a non-leader (for Berth, one holding a replica). */
async function pickVictim(ctx: TrialContext, scenario: Scenario, leader: number): Promise<number> {
  if (scenario !== 'kill-replica-node') return leader;
  const others = Array.from({ length: ctx.target.nodeCount }, (_, i) => i).filter(
    (i) => i !== leader,
  );
  if (ctx.berth) {
    const berth = ctx.berth;
    const holders = new Set((await berth.healthyAllocations(new Set())).map((a) => a.node));
    const holder = others.find((i) => holders.has(berth.nodeId(i)));
    if (holder !== undefined) return holder;
  }
  return others[0] as number;
}

/** Waits for the first write through a survivor and (Berth) for the lost replicas elsewhere. */
async function measureFault(
  ctx: TrialContext,
  victim: number,
  victimHeld: boolean,
  faultMs: number,
): Promise<[number, number | null]> {
  const { berth } = ctx;
  const firstWrite = waitUntil(
    async () => firstSuccessAfter(ctx.writes.samples, faultMs) ?? undefined,
    ctx.waitTimeoutMs,
    'a write committed through a survivor',
  );
  const moved =
    berth && victimHeld
      ? waitUntil(
          async () => {
            const elsewhere = await berth.healthyAllocations(new Set([berth.nodeId(victim)]));
            return elsewhere.length >= benchJobCount ? performance.now() - faultMs : undefined;
          },
          ctx.waitTimeoutMs,
          'the lost allocations healthy elsewhere',
        )
      : Promise.resolve(null);
  return await Promise.all([firstWrite, moved]);
}

/** Waits for full health: every node up, one leader, the workload healthy. */
function waitHealthy(ctx: TrialContext): Promise<true> {
  return waitUntil(
    async () => ((await ctx.target.healthy()) ? true : undefined),
    ctx.waitTimeoutMs,
    'full health',
  );
}

/**
 * Ends the fault: SIGCONT after the gray-failure period, or a restart. The victim rejoins
 * the loads only once it is back (for Berth: its router answers and it has caught up).
 */
async function heal(ctx: TrialContext, scenario: Scenario, victim: number, faultMs: number) {
  try {
    if (scenario === 'stop-leader') {
      await Bun.sleep(Math.max(0, faultMs + ctx.grayFailureMs - performance.now()));
      process.kill(ctx.target.pid(victim), 'SIGCONT');
      await ctx.berth?.waitRejoined(victim);
    } else {
      await ctx.target.restart(victim);
    }
  } finally {
    // Even when it did not come back in time: a node left out of the loads for good would
    // quietly shrink what the next trials measure.
    ctx.avoid.delete(victim);
  }
}

/** Runs one scenario from full health (waited for first) and returns at full health again. */
export async function runTrial(ctx: TrialContext, scenario: Scenario): Promise<TrialFigures> {
  const { target, berth } = ctx;
  await waitHealthy(ctx);
  const leader = await waitUntil(() => target.leader(), ctx.waitTimeoutMs, 'a leader');
  const victim = await pickVictim(ctx, scenario, leader);
  const victimHeld = berth
    ? (await berth.healthyAllocations(new Set())).some((a) => a.node === berth.nodeId(victim))
    : false;
  const survivors = Array.from({ length: target.nodeCount }, (_, i) => i).filter(
    (i) => i !== victim,
  );
  const countersBefore = await berth?.routerCounters(survivors);
  await Bun.sleep(300); // a stretch of normal load before the fault, so the gap has a start
  ctx.avoid.add(victim);
  const faultMs = performance.now();
  const faultWallMs = Date.now();
  const loadAverage1m = loadavg()[0] ?? 0;
  let measured: [number, number | null];
  try {
    if (scenario === 'stop-leader') process.kill(target.pid(victim), 'SIGSTOP');
    else await target.kill9(victim);
    measured = await measureFault(ctx, victim, victimHeld, faultMs);
  } catch (error) {
    throw new Error(`node #${victim}: ${(error as Error).message}`);
  } finally {
    // Heal even when a measurement timed out, so the next trial starts from a full cluster.
    await heal(ctx, scenario, victim, faultMs);
  }
  const [leaderMs, allocationsMovedMs] = measured;
  await waitHealthy(ctx);
  const recoveredAtMs = performance.now();
  const countersAfter = await berth?.routerCounters(survivors);
  const writes = failuresBetween(ctx.writes.samples, faultMs, recoveredAtMs);
  return {
    scenario,
    victim,
    loadAverage1m,
    leaderMs,
    writeUnavailableMs: longestSuccessGap(ctx.writes.samples, faultMs, recoveredAtMs),
    writesFailed: writes.failed,
    writesTotal: writes.total,
    ...routedFigures(ctx, victim, faultMs, recoveredAtMs),
    allocationsMovedMs,
    recoveredMs: recoveredAtMs - faultMs,
    cpu: ctx.cpu ? cpuBetween(ctx.cpu.samples, faultWallMs, Date.now()) : null,
    routers: countersDelta(countersBefore, countersAfter),
  };
}

function countersDelta(
  before: RouterCounters | undefined,
  after: RouterCounters | undefined,
): RouterCounters | null {
  if (!before || !after) return null;
  const upstreamErrors: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after.upstreamErrors)) {
    const delta = n - (before.upstreamErrors[kind] ?? 0);
    if (delta > 0) upstreamErrors[kind] = delta;
  }
  return { upstreamErrors, retries: after.retries - before.retries };
}

type RoutedFigures = Pick<TrialFigures, 'httpFailed' | 'httpTotal' | 'httpSlow' | 'httpFailures'>;

/** The routed load's figures for one trial, each failure with its router's log line. */
function routedFigures(
  ctx: TrialContext,
  victim: number,
  faultMs: number,
  toMs: number,
): RoutedFigures {
  const { http, berth } = ctx;
  if (!http || !berth)
    return { httpFailed: null, httpTotal: null, httpSlow: null, httpFailures: null };
  const window = routedWindow(http.samples, faultMs, toMs, berth.nodeName(victim));
  const failed = window.filter((s) => !s.ok);
  const slow = window.filter((s) => s.ok && s.responseMs - s.invokeMs > ctx.slowMs);
  const failures = failed.map((s): RoutedFailure => {
    if (!s.failure) throw new Error('a failed routed request without its failure detail');
    const durationMs = Math.round(s.responseMs - s.invokeMs);
    const { sentAtWallMs, target } = s.failure;
    const cpu = ctx.cpu
      ? cpuBetween(ctx.cpu.samples, sentAtWallMs, sentAtWallMs + durationMs)
      : null;
    return {
      ...s.failure,
      sentAfterFaultMs: Math.round(s.invokeMs - faultMs),
      durationMs,
      router: null,
      routerAgentCpuPercent: cpu?.procPercent[target] ?? null,
      machineBusyPercent: cpu?.machineBusyPercent ?? null,
    };
  });
  for (const label of new Set(failures.map((f) => f.target))) {
    const mine = failures.filter((f) => f.target === label);
    const lines = routerLines(berth.logOf(label), new Set(mine.map((f) => f.path)));
    for (const f of mine) {
      const line = lines.get(f.path);
      f.router = line ? evidenceOf(line, f.sentAtWallMs) : null;
    }
  }
  return {
    httpFailed: failed.length,
    httpTotal: window.length,
    httpSlow: slow.length,
    httpFailures: failures,
  };
}
