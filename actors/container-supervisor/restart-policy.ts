/**
 * The restart policy of an exited (or failed-to-start) task, after Nomad's: up to
 * `attempts` restarts within `intervalMs`, each after a delay that doubles with every
 * restart still inside the window (capped, plus seeded jitter so tasks that crashed
 * together do not restart in lockstep). Once the attempts are spent, `fail` mode fails
 * the allocation and `delay` mode waits until the oldest restart leaves the window.
 *
 * Independently, `crashLoopExits` exits within `crashLoopWindowMs` mark a crash loop in
 * the status detail (`crash_loop`), so an operator sees it even while restarts remain.
 */
import { limits } from '../../src/core/limits.ts';
import type { Prng } from '../../src/core/prng.ts';
import type { SupervisorEffect } from './effects.ts';
import { formatMs, logEffect, maybePropose, proposeOutcome } from './report.ts';
import type { AllocRecord, SupervisorState } from './state.ts';

export function handleFailure(
  s: SupervisorState,
  rec: AllocRecord,
  what: string,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  const nowMs = s.nowMs;
  const policy = rec.desired.restart;
  const crashLoop = recordExit(s, rec);
  dropOlderThan(rec.restartsMs, nowMs - policy.intervalMs);
  const loopNote = crashLoop
    ? ` (crash_loop: ${rec.exitsMs.length} exits within ${formatMs(s.config.crashLoopWindowMs)})`
    : '';
  if (rec.restartsMs.length < policy.attempts) {
    const delayMs = restartDelayMs(s, rec, prng);
    rec.restartsMs.push(nowMs);
    rec.task = { phase: 'waiting', untilMs: nowMs + delayMs, reason: 'restarting' };
    const count = `restart ${rec.restartsMs.length} of ${policy.attempts}`;
    const detail = `${what}; ${count} in ${formatMs(delayMs)}${loopNote}`;
    maybePropose(rec, 'unhealthy', crashLoop ? 'crash_loop' : 'restarting', detail, out);
    return;
  }
  const spent = `${policy.attempts} restarts within ${formatMs(policy.intervalMs)} spent`;
  if (policy.mode === 'fail') {
    rec.task = { phase: 'done' };
    proposeOutcome(rec, 'failed', 'restarts_exhausted', `${what}; ${spent}${loopNote}`, out);
    return;
  }
  // Delay mode: restart once the oldest restart has left the window, freeing an attempt.
  const untilMs = (rec.restartsMs[0] ?? nowMs) + policy.intervalMs;
  rec.task = { phase: 'waiting', untilMs, reason: 'restart_delayed' };
  const detail = `${what}; ${spent}; next start in ${formatMs(untilMs - nowMs)}${loopNote}`;
  maybePropose(rec, 'unhealthy', crashLoop ? 'crash_loop' : 'restart_delayed', detail, out);
  const fields = { alloc: rec.desired.allocId, waitMs: untilMs - nowMs };
  out.push(logEffect('warn', 'restart attempts spent; waiting', fields));
}

/**
 * The wait before the next restart: `delayMs` doubled per restart already in the window,
 * capped at `restartDelayCapMs` (or at `delayMs` when that is larger), plus up to
 * `restartJitterFraction` of it drawn from the seeded generator.
 */
export function restartDelayMs(s: SupervisorState, rec: AllocRecord, prng: Prng): number {
  const { delayMs } = rec.desired.restart;
  const capMs = Math.max(delayMs, s.config.restartDelayCapMs);
  const exponent = Math.min(rec.restartsMs.length, 30);
  const baseMs = Math.min(capMs, delayMs * 2 ** exponent);
  const jitterMaxMs = Math.floor(baseMs * s.config.restartJitterFraction);
  return baseMs + (jitterMaxMs > 0 ? prng.int(0, jitterMaxMs + 1) : 0);
}

/** Records an exit; returns whether the exits in the window now make a crash loop. */
function recordExit(s: SupervisorState, rec: AllocRecord): boolean {
  rec.exitsMs.push(s.nowMs);
  dropOlderThan(rec.exitsMs, s.nowMs - s.config.crashLoopWindowMs);
  const keep = Math.min(s.config.crashLoopExits, limits.supervisorRestartHistoryMax);
  while (rec.exitsMs.length > keep) rec.exitsMs.shift();
  return rec.exitsMs.length >= s.config.crashLoopExits;
}

/** Drops times at or before `cutoffMs` from the front of an ascending list. */
function dropOlderThan(timesMs: number[], cutoffMs: number): void {
  while (timesMs.length > 0 && (timesMs[0] as number) <= cutoffMs) timesMs.shift();
}
