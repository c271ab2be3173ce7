/**
 * The long-run entry point behind `make sim`.
 *
 *   SIM_SEEDS=n      runs seeds 1..n and prints every failure with its reproduce line
 *   SIM_SEED=s       replays seed s verbosely: the fault header and every event
 *   SIM_BUG=name     switches on one bug for both modes (countOldTermReplicas,
 *                    voteTwiceInTerm, ackBeforePersist) to watch the checker catch it
 *   SIM_TICKS=n      length of the fault phase in ticks (default 300)
 *   SIM_PROFILE=leader_churn   the bug-hunting fault mix the bug-switch tests use
 *   SIM_SNAPSHOTS=0  turns seed-derived snapshots and compaction off (the test sweep
 *                    runs without them until the snapshot-membership bug is fixed)
 *
 * A failure found by a bug-switch test replays with its switches, e.g.
 *   SIM_BUG=countOldTermReplicas SIM_PROFILE=leader_churn SEED=27 make sim
 *
 * Exits 1 when any seed violates an invariant.
 */

import { leaderChurnOptions, type RaftSimOptions, runRaftSeed } from '../../src/sim/raft-sim.ts';
import { formatFailure, reproduceLine } from '../../src/sim/runner.ts';

/** The run options for `seed`, from the SIM_* environment variables. */
function optionsFromEnv(seed: number): RaftSimOptions {
  const bug = process.env.SIM_BUG ?? '';
  const profile = process.env.SIM_PROFILE ?? '';
  const ticks = Number(process.env.SIM_TICKS ?? '');
  let options: RaftSimOptions = {};
  if (profile === 'leader_churn') options = leaderChurnOptions(seed);
  else if (profile !== '') throw new Error(`unknown SIM_PROFILE ${profile}`);
  if (Number.isInteger(ticks) && ticks > 0) options.faultTicks = ticks;
  if (process.env.SIM_SNAPSHOTS === '0') options.snapshots = false;
  if (bug === 'countOldTermReplicas' || bug === 'voteTwiceInTerm')
    options.coreBugs = { [bug]: true };
  else if (bug === 'ackBeforePersist') options.harnessBugs = { ackBeforePersist: true };
  else if (bug !== '') throw new Error(`unknown SIM_BUG ${bug}`);
  return options;
}

function replayOne(seed: number): number {
  const outcome = runRaftSeed(seed, {
    ...optionsFromEnv(seed),
    onTraceLine: (line) => console.log(line),
  });
  console.log(
    `events=${outcome.eventsRun} simulated=${outcome.simulatedMs}ms trace=${outcome.traceHash}`,
  );
  console.log(`stats ${JSON.stringify(outcome.stats)}`);
  if (outcome.violation) {
    console.log(formatFailure(outcome, 0));
    return 1;
  }
  console.log(`seed ${seed}: ok`);
  return 0;
}

function runMany(count: number): number {
  const startedMs = performance.now();
  let failures = 0;
  for (let seed = 1; seed <= count; seed++) {
    let outcome: ReturnType<typeof runRaftSeed>;
    try {
      outcome = runRaftSeed(seed, optionsFromEnv(seed));
    } catch (error) {
      // An assertion in the core or the harness fails this seed; keep sweeping.
      failures++;
      console.log(`seed ${seed} threw: ${(error as Error).stack}\n${reproduceLine(seed)}`);
      continue;
    }
    if (outcome.violation) {
      failures++;
      console.log(formatFailure(outcome));
    }
    if (seed % 500 === 0) {
      const secs = ((performance.now() - startedMs) / 1000).toFixed(1);
      console.log(`${seed}/${count} seeds, ${failures} failed, ${secs}s`);
    }
  }
  const secs = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(`${count} seeds, ${failures} failed, ${secs}s`);
  return failures > 0 ? 1 : 0;
}

const single = process.env.SIM_SEED ?? '';
if (single !== '') {
  const seed = Number(single);
  if (!Number.isInteger(seed)) throw new Error(`SIM_SEED must be an integer: ${single}`);
  process.exitCode = replayOne(seed);
} else {
  const count = Number(process.env.SIM_SEEDS || '10000');
  if (!Number.isInteger(count) || count < 1)
    throw new Error('SIM_SEEDS must be a positive integer');
  process.exitCode = runMany(count);
  if (process.exitCode !== 0)
    console.log(`(each failure above ends with its line, e.g. ${reproduceLine(1)})`);
}
