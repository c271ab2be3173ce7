/**
 * The reschedule policy (Nomad's `reschedule` block, reduced): when a failed allocation
 * may be replaced. A pure function of the policy, the slot's history and `nowMs`.
 *
 * History needs no extra column: a plan that replaces a failed allocation stops it, and
 * the state machine stamps the stop time into its `modifiedAtMs`. So the earlier
 * reschedules of a slot are the stopped `failed` allocations with the same index and job
 * version; a new job version starts a fresh budget, as a new deployment does in Nomad.
 */
import type { ReschedulePolicy, SchedAllocation } from './types.ts';

export type RescheduleDecision =
  | { kind: 'now' }
  | { kind: 'later'; eligibleAtMs: number }
  | { kind: 'exhausted' };

/** The doubling stops here; 2^30 times any delay is far beyond any sane cap. */
const delayDoublingsMax = 30;

/**
 * Decides for one failed allocation still desired to run. Earlier reschedules count when
 * they happened before this failure and within `intervalMs` of it (all of them when the
 * interval is 0). Attempts are spent once that count reaches `attempts` (unless
 * `unlimited`); the decision is taken against the failure time, so it does not flip
 * later as the window slides. The delay is `delayMs` doubled per earlier reschedule
 * within the window — or within `maxDelayMs` when there is no window, so a slot that ran
 * well for longer than the cap starts again from `delayMs` — capped at `maxDelayMs`.
 */
export function decideReschedule(
  policy: ReschedulePolicy,
  failed: SchedAllocation,
  slotHistory: readonly SchedAllocation[],
  nowMs: number,
): RescheduleDecision {
  const failedAtMs = failed.modifiedAtMs;
  if (failedAtMs === undefined) return { kind: 'now' };
  const earlier = slotHistory
    .filter((a) => isEarlierReschedule(a, failed))
    .map((a) => a.modifiedAtMs as number);
  const within = (windowMs: number) =>
    earlier.filter((atMs) => windowMs <= 0 || failedAtMs - atMs <= windowMs).length;
  if (!policy.unlimited && within(policy.intervalMs) >= policy.attempts) {
    return { kind: 'exhausted' };
  }
  const doublings = within(policy.intervalMs > 0 ? policy.intervalMs : policy.maxDelayMs);
  const delayMs = Math.min(
    policy.maxDelayMs,
    policy.delayMs * 2 ** Math.min(doublings, delayDoublingsMax),
  );
  const eligibleAtMs = failedAtMs + Math.max(0, delayMs);
  return nowMs >= eligibleAtMs ? { kind: 'now' } : { kind: 'later', eligibleAtMs };
}

/** A stopped failed allocation of the same slot and version, stopped before `failed` failed. */
function isEarlierReschedule(a: SchedAllocation, failed: SchedAllocation): boolean {
  return (
    a.id !== failed.id &&
    a.index === failed.index &&
    a.jobVersion === failed.jobVersion &&
    a.desiredStatus === 'stop' &&
    a.clientStatus === 'failed' &&
    a.modifiedAtMs !== undefined &&
    failed.modifiedAtMs !== undefined &&
    a.modifiedAtMs <= failed.modifiedAtMs
  );
}
