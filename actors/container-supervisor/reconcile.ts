/**
 * Reconciliation: desired allocations (from the committed log) against actual tasks (from
 * the driver). Replaying any of these messages is harmless, which is what makes the
 * supervisor a reconciler (DESIGN.md §2): it acts on the difference, never on the event.
 */
import { limits } from '../../src/core/limits.ts';
import type { Prng } from '../../src/core/prng.ts';
import type { ListedTask } from '../../src/drivers/driver.ts';
import type { SupervisorEffect } from './effects.ts';
import { maybeCheckHealth } from './health.ts';
import {
  becomeRunning,
  handleTaskGone,
  startTask,
  stopAndRemove,
  stopTask,
  wantsRun,
} from './lifecycle.ts';
import type { MessageOf } from './messages.ts';
import { logEffect, maybePropose } from './report.ts';
import { type AllocRecord, createAllocRecord, type SupervisorState } from './state.ts';
import { type AllocStatus, terminalStatuses } from './types.ts';

/** A running task missing from this many driver lists in a row is taken as gone. */
const missedListsForGone = 2;

/** Brings one allocation one step closer to what is wanted. */
export function reconcileAlloc(
  s: SupervisorState,
  rec: AllocRecord,
  out: SupervisorEffect[],
): void {
  if (terminalStatuses.has(rec.committed)) {
    // Lost, failed or complete in the log: whatever still runs here is a leftover.
    stopTask(rec, false, out);
    return;
  }
  if (rec.desired.desired === 'stop') {
    stopTask(rec, true, out);
    return;
  }
  const task = rec.task;
  if (task.phase === 'done') {
    // A terminal outcome whose proposal was lost is proposed again (deduped otherwise).
    const outcome = rec.outcome;
    if (outcome) maybePropose(rec, outcome.status, outcome.reason, outcome.detail, out);
    return;
  }
  if (!wantsRun(rec)) return;
  if (task.phase === 'absent' && s.synced) startTask(s, rec, out);
  else if (task.phase === 'waiting' && s.nowMs >= task.untilMs) startTask(s, rec, out);
  else if (task.phase === 'running') maybeCheckHealth(s, rec, out);
}

export function reconcileAll(s: SupervisorState, out: SupervisorEffect[]): void {
  for (const rec of s.allocs.values()) reconcileAlloc(s, rec, out);
}

/**
 * A new desired set replaces the old one. Allocations that left it are stopped and
 * forgotten (the log no longer speaks of them, so nothing is proposed). A set larger than
 * limits.supervisorAllocationsMax is cut, loudly: the scheduler should never place that many.
 */
export function handleDesired(
  s: SupervisorState,
  m: MessageOf<'desired'>,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  const incoming = new Set(m.allocations.map((a) => a.allocId));
  for (const [allocId, rec] of s.allocs) {
    if (incoming.has(allocId)) continue;
    stopTask(rec, false, out);
    s.allocs.delete(allocId);
  }
  for (const desired of m.allocations) {
    const rec = s.allocs.get(desired.allocId);
    if (rec !== undefined) {
      rec.desired = desired;
      applyCommitted(rec, desired.status);
      continue;
    }
    if (s.allocs.size >= limits.supervisorAllocationsMax) {
      const fields = { alloc: desired.allocId, max: limits.supervisorAllocationsMax };
      out.push(logEffect('error', 'allocation not supervised: too many on this node', fields));
      continue;
    }
    s.allocs.set(desired.allocId, createAllocRecord(desired));
  }
  s.desiredKnown = true;
  const pending = s.pendingObserved;
  s.pendingObserved = null;
  if (pending !== null) observeTasks(s, pending, prng, out);
  reconcileAll(s, out);
}

export function handleCommittedStatus(
  s: SupervisorState,
  m: MessageOf<'committed_status'>,
  out: SupervisorEffect[],
): void {
  const rec = s.allocs.get(m.allocId);
  if (rec === undefined) return;
  applyCommitted(rec, m.status);
  reconcileAlloc(s, rec, out);
}

/**
 * Records a committed status. Until this node proposes something itself, what it last
 * reported is what the log holds; a stale echo of an earlier proposal never overrides a
 * later one.
 */
function applyCommitted(rec: AllocRecord, status: AllocStatus): void {
  rec.committed = status;
  if (rec.reported.reason === null || terminalStatuses.has(status)) {
    rec.reported = { status, reason: null };
  }
}

/**
 * The host could not commit a proposal. What was reported falls back to the committed
 * status, so the next matching observation (a passing probe, a tick for a finished task)
 * proposes it again; re-proposals after loss are bounded.
 */
export function handleProposalFailed(
  s: SupervisorState,
  m: MessageOf<'proposal_failed'>,
  out: SupervisorEffect[],
): void {
  const rec = s.allocs.get(m.allocId);
  if (rec === undefined || rec.reported.status !== m.status) return;
  rec.proposalFailures += 1;
  const fields = { alloc: m.allocId, status: m.status, failures: rec.proposalFailures };
  if (rec.proposalFailures > limits.supervisorProposeAttemptsMax) {
    out.push(logEffect('error', 'status proposal abandoned', fields));
    return;
  }
  out.push(logEffect('warn', 'status proposal lost; will propose again', fields));
  rec.reported = { status: rec.committed, reason: null };
  reconcileAlloc(s, rec, out);
}

/** The driver's list: adopt, detect missed exits and vanished tasks, remove orphans. */
export function handleObserved(
  s: SupervisorState,
  m: MessageOf<'observed'>,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  if (!s.desiredKnown) {
    // Without the desired set every task would look like an orphan; wait for it.
    s.pendingObserved = m.tasks;
    return;
  }
  observeTasks(s, m.tasks, prng, out);
  reconcileAll(s, out);
}

function observeTasks(
  s: SupervisorState,
  tasks: ListedTask[],
  prng: Prng,
  out: SupervisorEffect[],
): void {
  const firstList = !s.synced;
  s.synced = true;
  const listedIds = new Set<string>();
  for (const task of tasks) {
    // Another node's task on a shared Docker daemon (test clusters): not ours to touch.
    if (task.labels.nodeId !== s.nodeId) continue;
    listedIds.add(task.handle.id);
    const rec = s.allocs.get(task.labels.allocId);
    if (rec === undefined) removeOrphan(s, task, out);
    else observeTask(s, rec, task, firstList, prng, out);
  }
  for (const rec of s.allocs.values()) {
    const task = rec.task;
    if (task.phase !== 'running' || listedIds.has(task.handle.id)) continue;
    // One list may predate a start that just finished; two in a row do not.
    task.missedLists += 1;
    if (task.missedLists >= missedListsForGone) {
      handleTaskGone(s, rec, { exitCode: undefined, oom: false }, prng, out);
    }
  }
}

function removeOrphan(s: SupervisorState, task: ListedTask, out: SupervisorEffect[]): void {
  out.push(
    logEffect('info', 'removing orphan task', { alloc: task.labels.allocId, task: task.name }),
  );
  if (task.state === 'running') stopAndRemove(task.handle, s.config.orphanStopTimeoutMs, out);
  else out.push({ type: 'remove', handle: task.handle });
}

function observeTask(
  s: SupervisorState,
  rec: AllocRecord,
  listed: ListedTask,
  firstList: boolean,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  const task = rec.task;
  // A list taken while a start is out may already show it; task_started settles it.
  if (task.phase === 'starting') return;
  if (task.phase === 'running' && task.handle.id === listed.handle.id) {
    if (listed.state === 'running') {
      task.missedLists = 0;
      return;
    }
    // An exit in a list is a hint, like a missing task: the list may predate a restart
    // under the same name, or show the exit before the driver learnt its code. The exit
    // event normally arrives first; two lists in a row settle it otherwise.
    task.missedLists += 1;
    if (task.missedLists >= missedListsForGone) {
      const exit = { exitCode: listed.exitCode, oom: listed.oomKilled === true };
      handleTaskGone(s, rec, exit, prng, out);
    }
    return;
  }
  if (listed.state === 'exited') {
    // It died while no agent watched: the restart policy counts it like any exit.
    if (firstList && wantsRun(rec) && isLiveStatus(rec.committed)) {
      handleExitWhileAway(s, rec, listed, prng, out);
    } else {
      out.push({ type: 'remove', handle: listed.handle });
    }
    return;
  }
  if (task.phase === 'running' || !wantsRun(rec)) {
    // A second task for one allocation, or one that should not run: not ours to keep.
    stopAndRemove(listed.handle, rec.desired.stopTimeoutMs, out);
    return;
  }
  adopt(s, rec, listed, out);
}

function adopt(
  s: SupervisorState,
  rec: AllocRecord,
  listed: ListedTask,
  out: SupervisorEffect[],
): void {
  becomeRunning(s, rec, listed.handle, true);
  const fields = { alloc: rec.desired.allocId, task: listed.handle.id };
  out.push(logEffect('info', 'adopted running task', fields));
  if (rec.reported.status === 'pending') {
    maybePropose(rec, 'running', 'adopted', `adopted running task ${listed.handle.id}`, out);
  }
}

/** Routes an exit found in the first list through the same path as a live exit. */
function handleExitWhileAway(
  s: SupervisorState,
  rec: AllocRecord,
  listed: ListedTask,
  prng: Prng,
  out: SupervisorEffect[],
): void {
  becomeRunning(s, rec, listed.handle, true);
  const exit = { exitCode: listed.exitCode, oom: listed.oomKilled === true };
  handleTaskGone(s, rec, exit, prng, out);
}

function isLiveStatus(status: AllocStatus): boolean {
  return status === 'running' || status === 'healthy' || status === 'unhealthy';
}
