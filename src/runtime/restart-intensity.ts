/**
 * Restart intensity (Erlang/OTP): a supervisor may restart its children at most
 * `restartIntensityMax` times within any `restartPeriodMs` window; one more restart means
 * something is wrong beyond a transient fault, so it gives up and escalates. Pure: the
 * caller passes the current time from its clock.
 */
import { assert } from '../core/assert.ts';

export interface RestartIntensity {
  restartIntensityMax: number;
  restartPeriodMs: number;
}

export interface RestartDecision {
  /** Restart times still inside the window, including this one; at most max + 1 long. */
  historyMs: number[];
  /** True when this restart is one too many: escalate instead of restarting. */
  exceeded: boolean;
}

/** Asserts that an intensity is usable (a bug otherwise). */
export function assertRestartIntensity(intensity: RestartIntensity): void {
  assert(
    Number.isInteger(intensity.restartIntensityMax) && intensity.restartIntensityMax >= 0,
    `restartIntensityMax must be an integer ≥ 0, got ${intensity.restartIntensityMax}`,
  );
  assert(
    Number.isFinite(intensity.restartPeriodMs) && intensity.restartPeriodMs > 0,
    `restartPeriodMs must be finite and > 0, got ${intensity.restartPeriodMs}`,
  );
}

/** Records a restart at `nowMs` against `historyMs` and says whether it exceeds the intensity. */
export function recordRestart(
  historyMs: readonly number[],
  nowMs: number,
  intensity: RestartIntensity,
): RestartDecision {
  const windowStartMs = nowMs - intensity.restartPeriodMs;
  const kept = historyMs.filter((atMs) => atMs > windowStartMs);
  kept.push(nowMs);
  const exceeded = kept.length > intensity.restartIntensityMax;
  // Only the last max + 1 entries can ever matter, which bounds the history.
  const historyMsKept = kept.slice(-(intensity.restartIntensityMax + 1));
  return { historyMs: historyMsKept, exceeded };
}
