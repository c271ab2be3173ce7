/**
 * `make bench-scheduler`: places jobs × count allocations over simulated nodes through the
 * real path (compute → applyPlan → commit into the snapshot, one plan per job) and prints
 * the time, plans per second and memory beside a baseline measured in the same process:
 * a naive first-fit placement of the same allocations (cpu and memory only, no ranking,
 * no ports), so the ratio is comparable across machines. Writes bench/results/scheduler.json.
 *
 * Environment (all optional):
 *   BENCH_SCHED_NODES    simulated nodes (default 500)
 *   BENCH_SCHED_JOBS     jobs (default 100)
 *   BENCH_SCHED_COUNT    allocations per job (default 100)
 *   BENCH_SCHED_SEED     seed of the job mix and of the scheduler's PRNG (default 1)
 *   BENCH_SCHED_REPEATS  runs of each side; the median is reported (default 3)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyPlan,
  compute,
  type Plan,
  type SchedAllocation,
  type SchedJob,
  type SchedNode,
} from '../../actors/scheduler/index.ts';
import { createPrng } from '../../src/core/prng.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const nodeCount = envInt('BENCH_SCHED_NODES', 500);
const jobCount = envInt('BENCH_SCHED_JOBS', 100);
const allocsPerJob = envInt('BENCH_SCHED_COUNT', 100);
const seed = envInt('BENCH_SCHED_SEED', 1);
const repeats = envInt('BENCH_SCHED_REPEATS', 3);

function makeNodes(): SchedNode[] {
  return Array.from({ length: nodeCount }, (_, i) => ({
    id: `node-${String(i).padStart(4, '0')}`,
    name: `node-${i}`,
    role: i < 3 ? 'voter' : 'worker',
    status: 'up',
    labels: { zone: ['eu', 'us', 'ap'][i % 3]! },
    resources: { cpuMhz: 16_000, memoryMb: 32_768 },
    volumes: [],
  }));
}

/** A mixed set of jobs: sizes vary, every job asks for one dynamic port, a third are zoned. */
function makeJobs(): SchedJob[] {
  const prng = createPrng(seed);
  return Array.from({ length: jobCount }, (_, i) => ({
    id: `job-${String(i).padStart(3, '0')}`,
    version: 1,
    type: 'service',
    count: allocsPerJob,
    resources: { cpuMhz: prng.int(100, 500), memoryMb: prng.int(128, 1024) },
    ports: [{ label: 'http' }],
    volumes: [],
    constraints: i % 3 === 0 ? [{ attribute: 'zone', operator: '!=', value: 'ap' }] : [],
    spread: true,
    update: { maxParallel: 2, canary: 0 },
    status: 'running',
  }));
}

function commit(allocations: SchedAllocation[], plan: Plan): void {
  for (const p of plan.place) {
    allocations.push({
      id: p.id,
      jobId: p.jobId,
      jobVersion: p.jobVersion,
      nodeId: p.nodeId,
      name: p.name,
      index: p.index,
      resources: p.resources,
      ports: p.ports,
      desiredStatus: 'run',
      clientStatus: 'pending',
    });
  }
}

interface Outcome {
  placed: number;
  rejected: number;
  blocked: number;
  /** What the run built (the allocations), kept alive until memory is read. */
  retained?: unknown;
}

interface Run extends Outcome {
  /** Wall time of the placement loop, in ms. */
  ms: number;
  /** CPU time (user + system) of the process during the loop, in ms: steadier on a busy host. */
  cpuMs: number;
  rssDeltaMb: number;
  heapDeltaMb: number;
}

function memory() {
  Bun.gc(true);
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed };
}

/** Runs `body` once with a clean heap before it, measuring wall, CPU and memory. */
function measure(body: () => Outcome): Run {
  const before = memory();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const { retained, ...outcome } = body();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const after = memory();
  if (retained === undefined) throw new Error('a run must hand back what it built');
  return {
    ...outcome,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssDeltaMb: (after.rss - before.rss) / 2 ** 20,
    heapDeltaMb: (after.heap - before.heap) / 2 ** 20,
  };
}

/** One evaluation per job, in job order, through compute → applyPlan → commit. */
function runScheduler(nodes: SchedNode[], jobs: SchedJob[]): Outcome {
  const allocations: SchedAllocation[] = [];
  const snapshot = { index: 1, nodes, jobs, allocations };
  const prng = createPrng(seed);
  let rejected = 0;
  let blocked = 0;
  for (const job of jobs) {
    const evalId = `eval-${job.id}`;
    const ctx = { prng, idOf: (n: number) => `${evalId}-${n}` };
    const plan = compute(snapshot, { id: evalId, jobId: job.id, triggeredBy: 'job-register' }, ctx);
    const applied = applyPlan(snapshot, plan);
    rejected += applied.rejected.length;
    if (plan.blocked) blocked += plan.blocked.unplaced;
    commit(allocations, applied.committed);
    snapshot.index += 1;
  }
  return { placed: allocations.length, rejected, blocked, retained: allocations };
}

/** The baseline: first node with room, in id order, per allocation. */
function runFirstFit(nodes: SchedNode[], jobs: SchedJob[]): Outcome {
  const cpu = new Float64Array(nodes.length);
  const mem = new Float64Array(nodes.length);
  const placements: { jobId: string; node: number }[] = [];
  let blocked = 0;
  for (const job of jobs) {
    for (let k = 0; k < job.count; k++) {
      const i = nodes.findIndex(
        (n, j) =>
          cpu[j]! + job.resources.cpuMhz <= n.resources.cpuMhz &&
          mem[j]! + job.resources.memoryMb <= n.resources.memoryMb,
      );
      if (i < 0) {
        blocked++;
        continue;
      }
      cpu[i]! += job.resources.cpuMhz;
      mem[i]! += job.resources.memoryMb;
      placements.push({ jobId: job.id, node: i });
    }
  }
  return { placed: placements.length, rejected: 0, blocked, retained: placements };
}

/** The run with the median wall time (runs are sorted by it). */
function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function describe(name: string, runs: Run[]): string {
  const r = median(runs);
  const best = Math.min(...runs.map((x) => x.ms));
  return (
    `${name.padEnd(36)} median ${r.ms.toFixed(1).padStart(7)} ms (best ${best.toFixed(1)}, cpu ${r.cpuMs.toFixed(0)} ms)` +
    `  placed ${r.placed}  blocked ${r.blocked}  rejected ${r.rejected}` +
    `  rss Δ ${r.rssDeltaMb.toFixed(1)} MB  heap Δ ${r.heapDeltaMb.toFixed(1)} MB`
  );
}

function main(): void {
  const nodes = makeNodes();
  const jobs = makeJobs();
  const total = jobCount * allocsPerJob;
  console.log(
    `bench-scheduler: ${total} allocations (${jobCount} jobs × ${allocsPerJob}) over ${nodeCount} nodes, ${repeats} runs each`,
  );
  const baselineRuns: Run[] = [];
  const schedulerRuns: Run[] = [];
  // Interleaved, so a burst of load on a shared host hits both sides alike.
  for (let i = 0; i < repeats; i++) {
    baselineRuns.push(measure(() => runFirstFit(nodes, jobs)));
    schedulerRuns.push(measure(() => runScheduler(nodes, jobs)));
  }
  const baseline = median(baselineRuns);
  const scheduler = median(schedulerRuns);
  const plansPerSecond = jobCount / (scheduler.ms / 1000);
  console.log(describe('first-fit, cpu/mem only (baseline)', baselineRuns));
  console.log(describe('compute + applyPlan (scheduler)', schedulerRuns));
  console.log(
    `plans/s: ${plansPerSecond.toFixed(1)}  allocations/s: ${(scheduler.placed / (scheduler.ms / 1000)).toFixed(0)}`,
  );
  console.log(`scheduler / baseline time: ${(scheduler.ms / baseline.ms).toFixed(1)}×`);
  console.log(`total: ${Math.round(scheduler.ms)} ms`);
  const dir = join(import.meta.dir, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const result = {
    benchmark: 'scheduler',
    setup: { nodes: nodeCount, jobs: jobCount, allocationsPerJob: allocsPerJob, seed, repeats },
    scheduler: { median: scheduler, plansPerSecond, runs: schedulerRuns },
    baseline: { name: 'first-fit, cpu/mem only', median: baseline, runs: baselineRuns },
    runtime: { bun: Bun.version, platform: process.platform, arch: process.arch },
  };
  writeFileSync(join(dir, 'scheduler.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (schedulerRuns.some((r) => r.placed !== total)) {
    console.error(`bench-scheduler: a run placed fewer than ${total} allocations`);
    process.exitCode = 1;
  }
}

main();
