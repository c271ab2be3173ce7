/**
 * A worker thread of the seed sweep (see seed-pool.ts): runs seeds first, first+stride,
 * … ≤ last and posts one summary back. Failures travel as formatted reports, each
 * ending with its reproduce line.
 */
import { type RaftSimOptions, runRaftSeed } from '../../src/sim/raft-sim.ts';
import { formatFailure } from '../../src/sim/runner.ts';

export interface SweepRequest {
  first: number;
  last: number;
  stride: number;
  options: RaftSimOptions;
}

export interface SweepSummary {
  ran: number;
  failures: string[];
  seedsWithAcks: number;
  seedsWithConfChanges: number;
  seedsWithCrashes: number;
}

export function sweep(request: SweepRequest): SweepSummary {
  const summary: SweepSummary = {
    ran: 0,
    failures: [],
    seedsWithAcks: 0,
    seedsWithConfChanges: 0,
    seedsWithCrashes: 0,
  };
  for (let seed = request.first; seed <= request.last; seed += request.stride) {
    let outcome: ReturnType<typeof runRaftSeed>;
    try {
      outcome = runRaftSeed(seed, request.options);
    } catch (error) {
      // An assertion inside the core or the harness is a failure of this seed, not of the sweep.
      summary.ran++;
      summary.failures.push(
        `seed ${seed} threw: ${(error as Error).stack}\nreproduce with: SEED=${seed} make sim`,
      );
      continue;
    }
    summary.ran++;
    if (outcome.violation) summary.failures.push(formatFailure(outcome));
    if (outcome.stats.acked > 0) summary.seedsWithAcks++;
    if (outcome.stats.confChanges > 0) summary.seedsWithConfChanges++;
    if ((outcome.stats.nemesis.crash ?? 0) > 0) summary.seedsWithCrashes++;
  }
  return summary;
}

// Only when loaded as a worker thread: there the global scope receives the request.
if (!Bun.isMainThread) {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<SweepRequest>) => void) | null;
    postMessage(message: SweepSummary): void;
  };
  scope.onmessage = (event) => {
    scope.postMessage(sweep(event.data));
  };
}
