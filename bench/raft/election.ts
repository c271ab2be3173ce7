/**
 * Failover time after a leader crash, in simulated milliseconds at default timings, over
 * many seeded trials (src/sim's measureElectionAfterLeaderCrash). Trials are independent
 * seeds, so the distribution reflects the randomized election timeouts (Raft §5.2, §9.3).
 */
import { BerthError } from '../../src/core/errors.ts';
import { measureElectionAfterLeaderCrash } from '../../src/sim/raft-failover.ts';
import { percentile } from './stats.ts';

export interface ElectionBounds {
  trialsMax: number;
  /** Real (wall) time allowed for all trials, in ms; fewer trials run if it runs out. */
  durationMsMax: number;
}

export interface ElectionResult {
  trials: number;
  /** Trials that found no new leader in the simulator's bound (reported, not hidden). */
  failed: number;
  failedSeeds: number[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Seeds that failed are listed up to this many in the result. */
const failedSeedsListedMax = 20;

export function runElectionTrials(bounds: ElectionBounds, firstSeed = 1): ElectionResult {
  const samplesMs: number[] = [];
  const failedSeeds: number[] = [];
  let failed = 0;
  const startMs = performance.now();
  let trials = 0;
  for (; trials < bounds.trialsMax; trials++) {
    if (performance.now() - startMs >= bounds.durationMsMax) break;
    const seed = firstSeed + trials;
    try {
      samplesMs.push(measureElectionAfterLeaderCrash(seed));
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      failed++;
      if (failedSeeds.length < failedSeedsListedMax) failedSeeds.push(seed);
    }
  }
  return {
    trials,
    failed,
    failedSeeds,
    p50Ms: percentile(samplesMs, 0.5),
    p99Ms: percentile(samplesMs, 0.99),
    maxMs: samplesMs.length > 0 ? Math.max(...samplesMs) : Number.NaN,
  };
}
