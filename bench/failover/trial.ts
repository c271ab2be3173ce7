/**
 * One failover trial: a fault on one node while the write load (and, for Berth, the
 * HTTP load) runs, the figures read from the samples, then recovery to full health.
 *
 * Scenarios: `kill-leader` (kill -9 the leader), `kill-replica-node` (kill -9 a non-leader,
 * for Berth one that holds a replica of the example job), `stop-leader` (SIGSTOP the leader
 * for `grayFailureMs`, then SIGCONT).
 */
import type { BerthTarget } from './berth-target.ts';
import { benchJobCount } from './berth-target.ts';
import { failuresBetween, firstSuccessAfter, type Load, longestSuccessGap } from './load.ts';
import type { FailoverTarget } from './target.ts';

export type Scenario = 'kill-leader' | 'kill-replica-node' | 'stop-leader';
export const scenarios: readonly Scenario[] = ['kill-leader', 'kill-replica-node', 'stop-leader'];

export interface TrialFigures {
  scenario: Scenario;
  /** Fault to the first write committed through a survivor (sent after the fault), ms. */
  leaderMs: number | null;
  /** Longest gap between two successful write completions around the fault, ms. */
  writeUnavailableMs: number;
  /** Writes that failed (error or timeout) among those sent during the trial. */
  writesFailed: number;
  writesTotal: number;
  /** HTTP requests straight to allocation ports that failed during the trial (Berth). */
  httpFailed: number | null;
  httpTotal: number | null;
  /** Fault to the job having all its replicas healthy on other nodes, ms (Berth, when the victim held one). */
  allocationsMovedMs: number | null;
  /** Fault to full health again (after restart or SIGCONT), ms. */
  recoveredMs: number;
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

/** Runs one scenario; the target must be healthy on entry and is healthy again on return. */
export async function runTrial(ctx: TrialContext, scenario: Scenario): Promise<TrialFigures> {
  const { target, berth } = ctx;
  const leader = await waitUntil(
    () => target.leader(),
    ctx.waitTimeoutMs,
    'a leader before the trial',
  );
  const victim = await pickVictim(ctx, scenario, leader);
  const victimHeld = berth
    ? (await berth.healthyAllocations(new Set())).some((a) => a.node === berth.nodeId(victim))
    : false;
  await Bun.sleep(300); // a stretch of normal load before the fault, so the gap has a start
  ctx.avoid.add(victim);
  const faultMs = performance.now();
  if (scenario === 'stop-leader') process.kill(target.pid(victim), 'SIGSTOP');
  else await target.kill9(victim);

  let measured: [number, number | null];
  try {
    measured = await measureFault(ctx, victim, victimHeld, faultMs);
  } finally {
    // Heal even when a measurement timed out, so the next trial starts from a full cluster.
    if (scenario === 'stop-leader') {
      await Bun.sleep(Math.max(0, faultMs + ctx.grayFailureMs - performance.now()));
      process.kill(target.pid(victim), 'SIGCONT');
    } else {
      await target.restart(victim);
    }
  }
  const [leaderMs, allocationsMovedMs] = measured;
  ctx.avoid.delete(victim);
  await waitUntil(
    async () => ((await target.healthy()) ? true : undefined),
    ctx.waitTimeoutMs,
    'full health',
  );
  const recoveredAtMs = performance.now();
  const writes = failuresBetween(ctx.writes.samples, faultMs, recoveredAtMs);
  const http = ctx.http ? failuresBetween(ctx.http.samples, faultMs, recoveredAtMs) : undefined;
  return {
    scenario,
    leaderMs,
    writeUnavailableMs: longestSuccessGap(ctx.writes.samples, faultMs, recoveredAtMs),
    writesFailed: writes.failed,
    writesTotal: writes.total,
    httpFailed: http?.failed ?? null,
    httpTotal: http?.total ?? null,
    allocationsMovedMs,
    recoveredMs: recoveredAtMs - faultMs,
  };
}
