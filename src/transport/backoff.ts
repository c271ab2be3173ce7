/**
 * Reconnect delays: exponential in the number of consecutive failures, capped, with
 * "equal jitter" (half fixed, half random) so that after a leader restart its peers do
 * not all redial in the same millisecond, yet none waits much less than the schedule.
 */
import type { Prng } from '../core/prng.ts';

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** Delay before reconnect attempt number `failures` (0 after the first failure). */
export function reconnectDelayMs(failures: number, policy: BackoffPolicy, prng: Prng): number {
  // 2 ** 30 already exceeds any sane cap; clamping the exponent keeps the number finite.
  const exponent = Math.min(Math.max(0, failures), 30);
  const ceilingMs = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  return ceilingMs / 2 + prng.next() * (ceilingMs / 2);
}
