/**
 * Status proposals and log effects. A proposal is a transition: it is emitted only when
 * its status differs from what this node last reported, so a probe that passes every few
 * seconds proposes `healthy` once, not every time (DESIGN.md §2). The one exception is
 * news an operator must see within one status — a start waiting on a stuck port while
 * `pending`, a restart loop turning into a crash loop while `unhealthy` — proposed once
 * per reason: it only refreshes the detail, which the state machine allows.
 */
import type { StatusReason, SupervisorEffect } from './effects.ts';
import type { AllocRecord } from './state.ts';
import { type AllocStatus, terminalStatuses } from './types.ts';

/** Reasons worth proposing again within the same status, for the detail they carry. */
const detailRefreshReasons: ReadonlySet<StatusReason> = new Set([
  'restarting',
  'port_in_use',
  'name_conflict',
  'crash_loop',
  'restart_delayed',
]);

/** Proposes `status` unless it repeats the last report or the allocation is terminal. */
export function maybePropose(
  rec: AllocRecord,
  status: AllocStatus,
  reason: StatusReason,
  detail: string,
  out: SupervisorEffect[],
): void {
  if (terminalStatuses.has(rec.committed) || terminalStatuses.has(rec.reported.status)) return;
  // The log refuses a move back to pending; a pending-only reason keeps the current status.
  const target = status === 'pending' ? rec.reported.status : status;
  if (rec.reported.status === target) {
    // Same status: only news worth a detail refresh is proposed, and only once.
    if (!detailRefreshReasons.has(reason) || rec.reported.reason === reason) return;
  }
  rec.reported = { status: target, reason };
  out.push({
    type: 'propose_status',
    allocId: rec.desired.allocId,
    status: target,
    reason,
    detail,
  });
}

/** A terminal outcome: proposed now and remembered so a lost proposal can be re-made. */
export function proposeOutcome(
  rec: AllocRecord,
  status: 'failed' | 'complete',
  reason: StatusReason,
  detail: string,
  out: SupervisorEffect[],
): void {
  rec.outcome = { status, reason, detail };
  maybePropose(rec, status, reason, detail, out);
}

export function logEffect(
  level: 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  fields: Record<string, string | number | boolean>,
): SupervisorEffect {
  return { type: 'log', level, msg, fields };
}

/** Milliseconds as a short human figure for status details ("1.5s", "250ms"). */
export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  return `${Math.round(ms / 100) / 10}s`;
}
