/**
 * `make bench-failover`: leader failover, write unavailability, failed HTTP requests and
 * allocation replacement on a real Berth cluster on 127.0.0.1, beside a 3-member etcd
 * cluster run the same way (etcd's default timings, and timings close to Berth's).
 * Prints a table and writes bench/results/failover.json and failover.svg. Each failed
 * routed request is kept with its evidence (kind, router, the router's own log line, CPU
 * of its agent and of the machine), summarised per trial on stdout, in full in the JSON.
 *
 * Usage: bun run bench/failover/run.ts [--voters 3|5] [--workers N] [--driver exec|docker]
 * (`make bench-failover FAILOVER_ARGS="--driver docker"`). The Docker variant needs a
 * Docker Engine with the image berth-test/busybox:1 (scripts/ci-docker.sh prepares both).
 * Environment (all optional):
 *   TRIALS                     trials per scenario (default 20)
 *   BENCH_FAILOVER_MINUTES     wall-time bound for the trials of each system (default 20)
 *   BENCH_FAILOVER_SKIP_ETCD   set to skip the etcd baseline
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harnessLimits, repoRoot } from '../../test/cluster/harness.ts';
import { type BenchDriver, BerthTarget, benchRouteHost } from './berth-target.ts';
import { CpuSampler } from './cpu-sampler.ts';
import { EtcdTarget, type EtcdTimings } from './etcd-target.ts';
import { startHttpLoad } from './http-load.ts';
import { type Load, startWriteLoad } from './load.ts';
import {
  describeFailure,
  describeTrial,
  formatRows,
  measureRows,
  ratios,
  summarizeFailures,
  svgChart,
} from './report.ts';
import type { FailoverTarget } from './target.ts';
import { runTrial, scenarios, type TrialContext, type TrialFigures } from './trial.ts';

/** Trials per system at most, whatever TRIALS says (a bound on the run). */
const trialsMax = 1_000;
/** SIGSTOP length of the gray-failure scenario, ms. */
const grayFailureMs = 10_000;
/** Bound of every wait inside a trial, ms. */
const trialWaitTimeoutMs = 60_000;
/** Bound of one write: above Berth's 5 s write hold, so a held write can still succeed. */
const writeTimeoutMs = 8_000;
/** The steady write stream: one write every `writeIntervalMs`, at most `writesInFlightMax` in flight. */
const writeIntervalMs = 10;
const writesInFlightMax = 256;
/**
 * Routed load: one GET per surviving router every `httpIntervalMs`. A request without a
 * complete answer within `httpTimeoutMs` failed; one that succeeded after more than
 * `httpSlowMs` is counted apart as slow (latency, not an error).
 */
const httpIntervalMs = 20;
const httpTimeoutMs = 10_000;
const httpSlowMs = 1_000;
/** Enough for every router of the largest cluster to be stalled for the whole timeout. */
const httpInFlightMax = 2 * harnessLimits.nodesMax * Math.ceil(httpTimeoutMs / httpIntervalMs);
/** Failed routed requests printed one by one per trial (all are in the JSON). */
const failureExamplesMax = 3;
/** How often the agents' and the machine's CPU time is sampled, ms. */
const cpuSampleIntervalMs = 250;

const etcdVariants: { name: string; timings: EtcdTimings; note: string }[] = [
  {
    name: 'etcd-default',
    timings: { heartbeatMs: 100, electionMs: 1_000 },
    note: '100 ms heartbeat / 1000 ms election (etcd defaults)',
  },
  {
    name: 'etcd-berth-timings',
    timings: { heartbeatMs: 40, electionMs: 200 },
    note: "40 ms heartbeat / 200 ms election: Berth's 200 ms election base; etcd refuses 50/200 (election must be ≥ 5 heartbeats)",
  },
];

interface Args {
  voters: 3 | 5;
  workers: number;
  driver: BenchDriver;
  trials: number;
  minutes: number;
  skipEtcd: boolean;
}

function parseArgs(argv: string[]): Args {
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const voters = Number(flag('voters') ?? 3);
  if (voters !== 3 && voters !== 5) throw new Error('--voters must be 3 or 5');
  const workers = Number(flag('workers') ?? 0);
  const driver = flag('driver') ?? 'exec';
  if (driver !== 'exec' && driver !== 'docker') throw new Error('--driver must be exec or docker');
  const trials = Math.min(trialsMax, Number(process.env.TRIALS ?? 20));
  const minutes = Number(process.env.BENCH_FAILOVER_MINUTES ?? 20);
  if (!Number.isInteger(workers) || workers < 0 || workers > 4)
    throw new Error('--workers must be 0–4');
  if (!Number.isInteger(trials) || trials < 1) throw new Error('TRIALS must be a positive integer');
  const skipEtcd = !!process.env.BENCH_FAILOVER_SKIP_ETCD;
  return { voters, workers, driver, trials, minutes, skipEtcd };
}

/** Runs `trials` rounds of every scenario against a started target, within `minutes`. */
async function runTrials(
  ctx: TrialContext,
  trials: number,
  minutes: number,
): Promise<{ figures: TrialFigures[]; errors: string[] }> {
  const figures: TrialFigures[] = [];
  const errors: string[] = [];
  const deadline = performance.now() + minutes * 60_000;
  for (let trial = 1; trial <= trials && performance.now() < deadline; trial++) {
    for (const scenario of scenarios) {
      try {
        const f = await runTrial(ctx, scenario);
        figures.push(f);
        console.log(describeTrial(ctx.target.name, trial, f));
        const failures = f.httpFailures ?? [];
        for (const line of summarizeFailures(failures)) console.log(`  ${line}`);
        for (const failure of failures.slice(0, failureExamplesMax))
          console.log(`    e.g. ${describeFailure(failure)}`);
      } catch (error) {
        const message = `${ctx.target.name} trial ${trial} ${scenario}: ${(error as Error).message.split('\n')[0]}`;
        errors.push(message);
        console.error(message);
      }
    }
  }
  return { figures, errors };
}

async function benchBerth(args: Args) {
  const berth = new BerthTarget(args.driver);
  const loads: Load[] = [];
  const cpu = new CpuSampler();
  try {
    console.log(
      `berth: starting ${args.voters} voters + ${args.workers} workers on 127.0.0.1, ${args.driver} driver`,
    );
    await berth.start(args.voters, args.workers);
    await berth.deploy();
    cpu.start(() => berth.agentPids(), cpuSampleIntervalMs);
    const writes = startWriteLoad(berth, {
      avoid: berth.avoid,
      timeoutMs: writeTimeoutMs,
      intervalMs: writeIntervalMs,
      inFlightMax: writesInFlightMax,
    });
    // Routed load: every surviving node's router, with the example's route host. The
    // routers find the healthy allocations themselves, wherever they run.
    const routers = () =>
      berth.cluster
        .liveIndexes()
        .filter((i) => !berth.avoid.has(i))
        .map((i) => ({ label: berth.nodeName(i), port: berth.cluster.nodes[i]!.httpPort }));
    const http = startHttpLoad({
      targets: routers,
      intervalMs: httpIntervalMs,
      timeoutMs: httpTimeoutMs,
      inFlightMax: httpInFlightMax,
      host: benchRouteHost,
    });
    loads.push(writes, http);
    const ctx = {
      target: berth,
      berth,
      writes,
      http,
      avoid: berth.avoid,
      grayFailureMs,
      waitTimeoutMs: trialWaitTimeoutMs,
      slowMs: httpSlowMs,
      cpu,
    };
    return await runTrials(ctx, args.trials, args.minutes);
  } finally {
    cpu.stop();
    await Promise.all(loads.map((l) => l.stop()));
    await berth.destroy();
  }
}

async function benchEtcd(args: Args, variant: (typeof etcdVariants)[number]) {
  const etcd = new EtcdTarget(variant.name, variant.timings);
  let writes: Load | undefined;
  try {
    await etcd.start();
    const avoid = new Set<number>();
    writes = startWriteLoad(etcd, {
      avoid,
      timeoutMs: writeTimeoutMs,
      intervalMs: writeIntervalMs,
      inFlightMax: writesInFlightMax,
    });
    const target: FailoverTarget = etcd;
    const ctx = {
      target,
      berth: undefined,
      writes,
      http: undefined,
      avoid,
      grayFailureMs,
      waitTimeoutMs: trialWaitTimeoutMs,
      slowMs: httpSlowMs,
      cpu: undefined,
    };
    return await runTrials(ctx, args.trials, args.minutes);
  } finally {
    await writes?.stop();
    await etcd.destroy();
  }
}

/** Installs Debian's etcd-server when `etcd` is missing; false when that is not possible. */
async function ensureEtcd(): Promise<boolean> {
  if (Bun.which('etcd')) return true;
  console.log('bench-failover: etcd missing, installing the Debian package etcd-server');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const proc = Bun.spawn([...sudo, 'apt-get', 'install', '-y', 'etcd-server'], {
    stdout: 'inherit',
    stderr: 'inherit',
  });
  await proc.exited;
  return !!Bun.which('etcd');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const results: Record<string, TrialFigures[]> = {};
  const errors: string[] = [];
  const berth = await benchBerth(args);
  results.berth = berth.figures;
  errors.push(...berth.errors);
  let etcdNote = 'skipped (BENCH_FAILOVER_SKIP_ETCD)';
  if (!args.skipEtcd) {
    if (await ensureEtcd()) {
      for (const variant of etcdVariants) {
        const run = await benchEtcd(args, variant);
        results[variant.name] = run.figures;
        errors.push(...run.errors);
      }
      etcdNote = etcdVariants.map((v) => `${v.name}: ${v.note}`).join('; ');
    } else {
      etcdNote = 'skipped: etcd is not installed and could not be installed';
    }
  }
  report(args, results, errors, etcdNote);
}

function report(
  args: Args,
  results: Record<string, TrialFigures[]>,
  errors: string[],
  etcdNote: string,
): void {
  const rows = measureRows(results);
  const ratioRows = ratios(rows);
  const notes = [
    `Routed load: open loop, one GET every ${httpIntervalMs} ms through each router of the nodes that stay up (Host: ${benchRouteHost}); a restarted node rejoins it once its router answers and it has caught up with the log.`,
    `"failed routed requests": requests in flight at the fault or sent until full health that got a non-2xx answer, a refused or broken connection, or no complete answer within ${httpTimeoutMs} ms (the client's timeout); "slow": succeeded after more than ${httpSlowMs} ms.`,
    `A node kill is kill -9 of its agent and of every task it runs (a machine dying); ${args.driver} driver.`,
    'leader failover = fault to the first write (sent after the fault) committed through a surviving node.',
    'write unavailability = longest gap between two successful write completions around the fault (open loop: one write every 10 ms to the next surviving node).',
    `etcd baseline: ${etcdNote}.`,
    'Every process runs on one machine (loopback), so CPU contention adds to every figure.',
  ];
  console.log(`\n${formatRows(rows)}\n`);
  for (const r of ratioRows) {
    const f = (v: number | null) => (v === null ? '–' : v.toFixed(2));
    console.log(
      `berth/${r.versus} ${r.measure} (${r.scenario}): p50 ×${f(r.p50)}  p99 ×${f(r.p99)}`,
    );
  }
  console.log(`\n${notes.join('\n')}`);
  if (errors.length > 0) console.log(`\n${errors.length} trial(s) failed:\n${errors.join('\n')}`);
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const setup = {
    voters: args.voters,
    workers: args.workers,
    driver: args.driver,
    httpIntervalMs,
    httpTimeoutMs,
    httpSlowMs,
    trials: args.trials,
    grayFailureMs,
    writeIntervalMs,
    writesInFlightMax,
  };
  const json = {
    setup,
    notes,
    summary: rows,
    ratios: ratioRows,
    trials: results,
    errors,
  };
  writeFileSync(join(dir, 'failover.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(
    join(dir, 'failover.svg'),
    svgChart(rows, `Failover on 127.0.0.1, ${args.trials} trials per scenario (ms)`),
  );
  console.log(`\nwrote bench/results/failover.json and bench/results/failover.svg`);
}

// Ctrl-C or SIGTERM: exit through process.exit so the harness's and etcd's exit hooks
// SIGKILL every process this run started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

await main();
