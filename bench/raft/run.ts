/**
 * `make bench-raft`: Raft commit figures beside a same-disk SQLite baseline, and failover
 * time in simulation. Prints a table and writes bench/results/raft.json.
 *
 * Environment (all optional):
 *   BENCH_DIR                 where the SQLite files go (default: a fresh temp dir)
 *   BENCH_RAFT_SECONDS        time bound per level and for the baseline (default 3)
 *   BENCH_RAFT_COMMITS_MAX    commit bound per level and insert bound for the baseline (default 20000)
 *   BENCH_RAFT_TRIALS         election trials (default 1000)
 *   BENCH_RAFT_TRIAL_SECONDS  wall-time bound for all election trials (default 300)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { raftTickMs } from '../../actors/leader-election/index.ts';
import { runSqliteInsertBaseline } from './baseline.ts';
import { runCommitLevels } from './commit-throughput.ts';
import { runElectionTrials } from './election.ts';
import { fmt, formatTable } from './stats.ts';

const proposerLevels = [1, 16, 256];

/** Printed under the table so the figures are read with their setup in mind. */
const notes = [
  "ops/s and latency: a commit is counted when the leader has applied the entry (2 of 3 nodes fsync'd it).",
  "fsyncs/op: fsync'd transactions across all three nodes per commit (commit-index-only writes skip fsync).",
  'All three voters share one process, one event loop and one disk, so their fsyncs run one after',
  "another; on three machines the followers' fsyncs overlap and one-proposer latency drops accordingly.",
];

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const durationMsMax = envNumber('BENCH_RAFT_SECONDS', 3) * 1000;
  const opsMax = envNumber('BENCH_RAFT_COMMITS_MAX', 20_000);
  const trialsMax = envNumber('BENCH_RAFT_TRIALS', 1000);
  const trialsMsMax = envNumber('BENCH_RAFT_TRIAL_SECONDS', 300) * 1000;
  const baseDir = process.env.BENCH_DIR;
  if (baseDir) mkdirSync(baseDir, { recursive: true });
  const dir = mkdtempSync(join(baseDir ?? tmpdir(), 'berth-bench-raft-'));
  console.log(`bench-raft: SQLite files in ${dir} (WAL, synchronous=FULL)`);
  try {
    const baseline = runSqliteInsertBaseline(dir, { insertsMax: opsMax, durationMsMax });
    const levels = await runCommitLevels(dir, proposerLevels, {
      commitsMax: opsMax,
      durationMsMax,
    });
    console.log(`bench-raft: ${trialsMax} simulated failovers...`);
    const election = runElectionTrials({ trialsMax, durationMsMax: trialsMsMax });
    const rows = [
      [
        'sqlite insert, 1 txn/row (baseline)',
        fmt(baseline.perSecond, 0),
        fmt(baseline.p50Ms, 2),
        fmt(baseline.p99Ms, 2),
        String(baseline.count),
        '-',
        '1.00',
      ],
      ...levels.map((l) => [
        `raft commit, ${l.proposers} proposer${l.proposers === 1 ? '' : 's'}`,
        fmt(l.summary.perSecond, 0),
        fmt(l.summary.p50Ms, 2),
        fmt(l.summary.p99Ms, 2),
        String(l.summary.count),
        String(l.rejected),
        fmt(l.fsyncsPerCommit, 2),
      ]),
    ];
    console.log('');
    console.log(
      formatTable(
        ['operation', 'ops/s', 'p50 ms', 'p99 ms', 'count', 'rejected', 'fsyncs/op'],
        rows,
      ),
    );
    for (const line of notes) console.log(line);
    console.log('');
    console.log(
      formatTable(
        ['failover after leader crash (simulated ms)', 'trials', 'failed', 'p50', 'p99', 'max'],
        [
          [
            `3 voters, tick ${raftTickMs} ms, default timings`,
            String(election.trials),
            String(election.failed),
            fmt(election.p50Ms, 0),
            fmt(election.p99Ms, 0),
            fmt(election.maxMs, 0),
          ],
        ],
      ),
    );
    if (election.failed > 0) console.log(`failed seeds: ${election.failedSeeds.join(', ')}`);
    const resultsDir = join(import.meta.dir, '../results');
    mkdirSync(resultsDir, { recursive: true });
    const json = {
      bench: 'raft',
      at: new Date().toISOString(),
      bounds: { durationMsMax, opsMax, trialsMax, trialsMsMax },
      baseline,
      levels,
      election,
    };
    writeFileSync(join(resultsDir, 'raft.json'), `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nwrote bench/results/raft.json`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
