/**
 * Holding requests through an election (DESIGN.md §5: "API writes that reach a follower
 * during the gap are held briefly and retried, not failed").
 *
 * The default hold is 5 s, the value Nomad uses for RPCHoldTimeout: long enough to cover a
 * normal election (a few hundred ms here) plus a slow one, short enough that a client whose
 * cluster has really lost quorum learns it quickly. Retrying is safe because `not_leader`
 * means the command was not appended anywhere (see cluster-service.ts); a `timeout` (outcome
 * unknown) is never retried here.
 */
import { assert } from '../core/assert.ts';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** Default hold while no leader is known, in ms (Nomad's RPCHoldTimeout). */
export const leaderHoldMsDefault = 5_000;

export interface HoldOptions {
  holdMs: number;
  clock: Clock;
}

/** Waits `delayMs` on the injected clock, so a simulated clock drives the hold in tests. */
function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(delayMs, resolve));
}

/**
 * Runs `attempt`; while it rejects with `not_leader`, waits (exponential backoff) and tries
 * again until `holdMs` has passed, then rejects `no_leader`. Other errors pass through.
 */
export async function holdWhileLeaderless<T>(
  attempt: () => Promise<T>,
  options: HoldOptions,
): Promise<T> {
  assert(
    options.holdMs >= 0 && options.holdMs <= limits.apiLeaderHoldMsMax,
    `holdMs must be within [0, ${limits.apiLeaderHoldMsMax}]`,
  );
  const deadlineMs = options.clock.nowMs() + options.holdMs;
  let delayMs: number = limits.apiLeaderHoldBackoffBaseMs;
  for (let attemptNo = 0; attemptNo < limits.apiLeaderHoldAttemptsMax; attemptNo++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof BerthError) || error.code !== 'not_leader') throw error;
      // Another node is known to lead: holding here cannot help. Answer `not_leader` at
      // once so the node's forwarding layer sends the request to that leader.
      const hint = error.details?.leaderHint;
      if (typeof hint === 'number' && hint !== 0) throw error;
    }
    const leftMs = deadlineMs - options.clock.nowMs();
    if (leftMs <= 0) break;
    await sleep(options.clock, Math.min(delayMs, leftMs));
    delayMs = Math.min(delayMs * 2, limits.apiLeaderHoldBackoffCapMs);
  }
  throw new BerthError(
    'no_leader',
    `no leader was elected within ${options.holdMs} ms; the cluster may have lost quorum. Retry later or check 'berth status'`,
    { holdMs: options.holdMs },
  );
}
