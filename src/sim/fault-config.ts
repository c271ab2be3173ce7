/**
 * Fault settings of one simulation run, all derived from the seed (TigerBeetle's VOPR
 * does the same): one seed names one network, one fault mix and one schedule, and the
 * header line printed at the start of a run says which.
 */
import type { Prng } from '../core/prng.ts';

export interface FaultConfig {
  /** One-way message delay bounds, in ms of simulated time. */
  delayMsMin: number;
  delayMsMax: number;
  /** Probability that a message is lost. */
  lossRate: number;
  /** Probability that a message is delivered twice (independent delays). */
  duplicateRate: number;
  /** Probability that a message is held back by up to `reorderDelayMsMax` extra, overtaking later ones. */
  reorderRate: number;
  reorderDelayMsMax: number;
  /** Mean simulated time between nemesis actions (partition, heal, crash, restart), in ms. */
  nemesisIntervalMs: number;
  /** Relative weights of nemesis actions; zero disables one. */
  partitionWeight: number;
  oneWayPartitionWeight: number;
  crashWeight: number;
  healWeight: number;
  restartWeight: number;
  /** Simulated clock drift of each node's tick timer, as a fraction (0.02 = ±2%). */
  tickDriftMax: number;
}

/** No faults at all: fixed small delays, nothing lost. Useful as a baseline in tests. */
export const calmFaults: FaultConfig = {
  delayMsMin: 1,
  delayMsMax: 5,
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMsMax: 0,
  nemesisIntervalMs: 1_000,
  partitionWeight: 0,
  oneWayPartitionWeight: 0,
  crashWeight: 0,
  healWeight: 0,
  restartWeight: 0,
  tickDriftMax: 0,
};

/** Draws a fault mix from `prng`. Some seeds are gentle, some harsh, so both kinds of bug show. */
export function deriveFaultConfig(prng: Prng): FaultConfig {
  const delayMsMin = prng.int(1, 10);
  const harsh = prng.chance(0.3);
  return {
    delayMsMin,
    delayMsMax: delayMsMin + prng.int(0, harsh ? 120 : 40),
    lossRate: prng.chance(0.2) ? 0 : prng.next() * (harsh ? 0.3 : 0.08),
    duplicateRate: prng.chance(0.3) ? 0 : prng.next() * 0.1,
    reorderRate: prng.chance(0.3) ? 0 : prng.next() * 0.2,
    reorderDelayMsMax: prng.int(10, 200),
    nemesisIntervalMs: prng.int(harsh ? 100 : 300, harsh ? 800 : 3_000),
    partitionWeight: prng.int(0, 4),
    oneWayPartitionWeight: prng.int(0, 3),
    crashWeight: prng.int(0, 4),
    healWeight: prng.int(2, 6),
    restartWeight: prng.int(2, 6),
    tickDriftMax: prng.next() * 0.05,
  };
}

/** One line naming the seed and every fault setting, printed at the start of a run. */
export function formatFaultHeader(seed: number, faults: FaultConfig): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `seed=${seed}`,
    `delay=${faults.delayMsMin}..${faults.delayMsMax}ms`,
    `loss=${pct(faults.lossRate)}`,
    `dup=${pct(faults.duplicateRate)}`,
    `reorder=${pct(faults.reorderRate)}+${faults.reorderDelayMsMax}ms`,
    `nemesis=${faults.nemesisIntervalMs}ms`,
    `weights(part=${faults.partitionWeight},oneway=${faults.oneWayPartitionWeight},crash=${faults.crashWeight},heal=${faults.healWeight},restart=${faults.restartWeight})`,
    `drift=${pct(faults.tickDriftMax)}`,
  ].join(' ');
}
