/**
 * Health: one probe at a time per allocation, every `checkIntervalMs` once the grace has
 * passed. The first success makes the allocation healthy; limits.supervisorProbeFailuresMax
 * consecutive failures make it unhealthy. Probes stay local; only those transitions are
 * proposed. A task without a check is healthy once it has run for a short while.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import type { SupervisorEffect } from './effects.ts';
import type { MessageOf } from './messages.ts';
import { formatMs, maybePropose } from './report.ts';
import type { AllocRecord, SupervisorState } from './state.ts';
import type { DesiredAllocation, ProbeTarget } from './types.ts';

/** On a tick: probe when due, or declare a check-less task healthy. */
export function maybeCheckHealth(
  s: SupervisorState,
  rec: AllocRecord,
  out: SupervisorEffect[],
): void {
  if (rec.task.phase !== 'running' || s.nowMs < rec.health.dueAtMs) return;
  if (rec.desired.check === undefined) {
    const ranMs = s.nowMs - rec.task.sinceMs;
    const detail = `running for ${formatMs(ranMs)}; no check configured`;
    maybePropose(rec, 'healthy', 'running_without_check', detail, out);
    return;
  }
  if (rec.health.probeInFlight) return;
  rec.health.probeInFlight = true;
  rec.health.dueAtMs = s.nowMs + rec.desired.checkIntervalMs;
  out.push({ type: 'probe', allocId: rec.desired.allocId, check: probeTarget(rec.desired) });
}

export function handleProbeResult(
  s: SupervisorState,
  m: MessageOf<'probe_result'>,
  out: SupervisorEffect[],
): void {
  const rec = s.allocs.get(m.allocId);
  // A result for a task that has since exited or been stopped says nothing about now.
  if (rec === undefined || rec.task.phase !== 'running' || !rec.health.probeInFlight) return;
  rec.health.probeInFlight = false;
  if (m.ok) {
    rec.health.consecutiveFailures = 0;
    maybePropose(rec, 'healthy', 'probe_ok', m.detail || 'check passed', out);
    return;
  }
  const failuresMax = limits.supervisorProbeFailuresMax;
  rec.health.consecutiveFailures = Math.min(rec.health.consecutiveFailures + 1, failuresMax);
  if (rec.health.consecutiveFailures < failuresMax) return;
  const detail = `${failuresMax} consecutive checks failed: ${m.detail}`;
  maybePropose(rec, 'unhealthy', 'probe_failed', detail, out);
}

/** Resolves a check's port label to the address the task's port is published on. */
export function probeTarget(desired: DesiredAllocation): ProbeTarget {
  const check = desired.check;
  assert(check !== undefined, 'probeTarget needs a check');
  const timeoutMs = desired.checkTimeoutMs;
  const task = desired.task;
  if (check.kind === 'command') {
    const target: ProbeTarget = { kind: 'command', argv: check.argv, env: task.env, timeoutMs };
    if (task.workdir !== undefined) target.workdir = task.workdir;
    return target;
  }
  const port = task.ports[check.portLabel];
  // DesiredAllocationSchema refuses a check naming a port the task does not publish.
  assert(port !== undefined, `check port ${check.portLabel} is not published`);
  const host = task.hostAddress;
  if (check.kind === 'tcp') return { kind: 'tcp', host, port: port.host, timeoutMs };
  return { kind: 'http', host, port: port.host, path: check.path, timeoutMs };
}
