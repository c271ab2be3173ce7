/**
 * A task's life: start, started, refused, exited, stopped. Exits go through the restart
 * policy (restart-policy.ts); a start refused for a stuck port or name waits and retries
 * (DESIGN.md §5, "a port is stuck") instead of failing the deploy.
 */
import { limits } from '../../src/core/limits.ts';
import type { Prng } from '../../src/core/prng.ts';
import { driverErrorCodes, type TaskHandle } from '../../src/drivers/driver.ts';
import type { SupervisorEffect } from './effects.ts';
import type { MessageOf } from './messages.ts';
import { formatMs, logEffect, maybePropose, proposeOutcome } from './report.ts';
import { handleFailure } from './restart-policy.ts';
import type { AllocRecord, SupervisorState } from './state.ts';
import { terminalStatuses } from './types.ts';

/** Whether the allocation should have a running task. */
export function wantsRun(rec: AllocRecord): boolean {
  return (
    rec.desired.desired === 'run' &&
    !terminalStatuses.has(rec.committed) &&
    !terminalStatuses.has(rec.reported.status) &&
    rec.task.phase !== 'done'
  );
}

export function startTask(s: SupervisorState, rec: AllocRecord, out: SupervisorEffect[]): void {
  rec.task = { phase: 'starting', sinceMs: s.nowMs };
  rec.stopOnStart = false;
  out.push({ type: 'start', allocId: rec.desired.allocId, task: rec.desired.task });
}

/**
 * The task runs under `handle` (started by us, or adopted). Checks begin after the grace;
 * a task without a check turns healthy after `noCheckHealthyAfterMs`. An adopted task was
 * already running, so it is probed at once.
 */
export function becomeRunning(
  s: SupervisorState,
  rec: AllocRecord,
  handle: TaskHandle,
  adopted: boolean,
): void {
  rec.task = { phase: 'running', handle, sinceMs: s.nowMs, missedLists: 0 };
  const settleMs = rec.desired.check ? rec.desired.checkGraceMs : s.config.noCheckHealthyAfterMs;
  rec.health = {
    dueAtMs: adopted ? s.nowMs : s.nowMs + settleMs,
    probeInFlight: false,
    consecutiveFailures: 0,
  };
  rec.startWaits = 0;
}

/** Stop then remove a task (the host runs them in this order). */
export function stopAndRemove(
  handle: TaskHandle,
  timeoutMs: number,
  out: SupervisorEffect[],
): void {
  out.push({ type: 'stop', allocId: handle.allocId, handle, timeoutMs });
  out.push({ type: 'remove', handle });
}

/**
 * Ends the allocation's task for good. With `propose`, the allocation is reported complete
 * (a desired stop); without, the log already holds a terminal status (lost, failed).
 */
export function stopTask(rec: AllocRecord, propose: boolean, out: SupervisorEffect[]): void {
  const task = rec.task;
  if (task.phase === 'starting') {
    // The handle is not known yet; the start's answer finishes the stop.
    rec.stopOnStart = true;
    return;
  }
  if (task.phase === 'done') return;
  if (task.phase === 'running') stopAndRemove(task.handle, rec.desired.stopTimeoutMs, out);
  rec.task = { phase: 'done' };
  if (propose) proposeOutcome(rec, 'complete', 'stopped', 'stopped: desired stop', out);
}

export function handleTaskStarted(
  s: SupervisorState,
  m: MessageOf<'task_started'>,
  out: SupervisorEffect[],
): void {
  const rec = s.allocs.get(m.allocId);
  if (rec === undefined || rec.task.phase !== 'starting') {
    const task = rec?.task;
    if (task?.phase === 'running' && task.handle.id === m.handle.id) return;
    // A start nobody waits for any more (the allocation left the desired set meanwhile).
    out.push(logEffect('info', 'stopping a task started for no one', { alloc: m.allocId }));
    stopAndRemove(m.handle, s.config.orphanStopTimeoutMs, out);
    return;
  }
  becomeRunning(s, rec, m.handle, false);
  if (rec.stopOnStart || !wantsRun(rec)) {
    stopTask(rec, rec.desired.desired === 'stop', out);
    return;
  }
  maybePropose(rec, 'running', 'started', `started as ${m.handle.id}`, out);
}

export function handleStartFailed(
  s: SupervisorState,
  m: MessageOf<'task_start_failed'>,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  const rec = s.allocs.get(m.allocId);
  if (rec === undefined || rec.task.phase !== 'starting') return;
  rec.task = { phase: 'absent' };
  if (rec.stopOnStart || !wantsRun(rec)) {
    stopTask(rec, rec.desired.desired === 'stop', out);
    return;
  }
  const fields = { alloc: m.allocId, code: m.code, error: m.message };
  out.push(logEffect('warn', 'task start failed', fields));
  if (m.code === driverErrorCodes.portInUse || m.code === driverErrorCodes.nameConflict) {
    waitForStart(s, rec, m.code, m.message, out);
    return;
  }
  if (m.code === driverErrorCodes.invalidTask) {
    // The spec itself is wrong for this driver: no retry can fix it.
    rec.task = { phase: 'done' };
    proposeOutcome(rec, 'failed', 'start_failed', `start refused: ${m.code}: ${m.message}`, out);
    return;
  }
  handleFailure(s, rec, `start failed: ${m.code}: ${m.message}`, prng, out);
}

/** A stuck port or name: wait (doubling up to a cap) and try again; bounded attempts. */
function waitForStart(
  s: SupervisorState,
  rec: AllocRecord,
  code: 'port_in_use' | 'name_conflict',
  message: string,
  out: SupervisorEffect[],
): void {
  rec.startWaits += 1;
  if (rec.startWaits > limits.supervisorStartWaitAttemptsMax) {
    rec.task = { phase: 'done' };
    const detail = `start_wait_exhausted: ${code} on ${rec.startWaits - 1} attempts: ${message}`;
    proposeOutcome(rec, 'failed', 'start_wait_exhausted', detail, out);
    return;
  }
  const { startWaitMs, startWaitCapMs } = s.config;
  const waitMs = Math.min(startWaitCapMs, startWaitMs * 2 ** Math.min(rec.startWaits - 1, 30));
  rec.task = { phase: 'waiting', untilMs: s.nowMs + waitMs, reason: code };
  const detail = `waiting to start: ${code}: ${message}; retrying every ${formatMs(waitMs)} or less`;
  maybePropose(rec, 'pending', code, detail, out);
}

export function handleTaskExited(
  s: SupervisorState,
  m: MessageOf<'task_exited'>,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  const rec = s.allocs.get(m.allocId);
  // Exits of tasks being stopped, or of earlier incarnations, are expected: ignore them.
  if (rec === undefined || rec.task.phase !== 'running') return;
  handleTaskGone(s, rec, { exitCode: m.exitCode ?? undefined, oom: m.oom }, prng, out);
}

/** The running task is gone: exited, or vanished from the driver's list. */
export function handleTaskGone(
  s: SupervisorState,
  rec: AllocRecord,
  exit: { exitCode: number | undefined; oom: boolean },
  prng: Prng,
  out: SupervisorEffect[],
): void {
  if (rec.task.phase !== 'running') return;
  // Removed at once so the task's name is free for a restart; the host keeps its log lines.
  out.push({ type: 'remove', handle: rec.task.handle });
  rec.task = { phase: 'absent' };
  if (!wantsRun(rec)) {
    stopTask(rec, rec.desired.desired === 'stop', out);
    return;
  }
  if (rec.desired.jobType === 'batch' && exit.exitCode === 0 && !exit.oom) {
    rec.task = { phase: 'done' };
    proposeOutcome(rec, 'complete', 'exited_ok', 'exited with code 0', out);
    return;
  }
  const what =
    exit.exitCode === undefined
      ? 'task ended with an unknown exit code'
      : `exited with code ${exit.exitCode}${exit.oom ? ' (out of memory)' : ''}`;
  out.push(logEffect('warn', 'task exited', { alloc: rec.desired.allocId, exit: what }));
  handleFailure(s, rec, what, prng, out);
}
