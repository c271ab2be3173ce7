/**
 * What the supervisor asks its host to do. The host runs the effects of one allocation in
 * the order given (a `stop` finishes before the `remove` and the `propose_status` after
 * it), and feeds driver and probe outcomes back as messages. Effects of different
 * allocations may run concurrently: one slow stop must not hold up another start.
 */
import type { z } from 'zod';
import { limits } from '../../src/core/limits.ts';
import type { TaskHandle } from '../../src/drivers/driver.ts';
import type { AllocationStatusChanged } from '../state/commands.ts';
import type { AllocStatus, ProbeTarget, TaskTemplate } from './types.ts';

/** Why a status is proposed; stable codes that dedupe proposals and read in details. */
export type StatusReason =
  | 'started'
  | 'adopted'
  | 'probe_ok'
  | 'running_without_check'
  | 'probe_failed'
  | 'restarting'
  | 'crash_loop'
  | 'restart_delayed'
  | 'restarts_exhausted'
  | 'start_failed'
  | 'port_in_use'
  | 'name_conflict'
  | 'start_wait_exhausted'
  | 'exited_ok'
  | 'stopped';

export type SupervisorEffect =
  /** Start the task; the host adds resolved secrets and answers task_started/failed. */
  | { type: 'start'; allocId: string; task: TaskTemplate }
  /** SIGTERM, then SIGKILL after `timeoutMs`; an exit event follows (and is ignored). */
  | { type: 'stop'; allocId: string; handle: TaskHandle; timeoutMs: number }
  /** Remove a task (its container or state file); absent tasks are fine. */
  | { type: 'remove'; handle: TaskHandle }
  /** Probe once; the host answers probe_result within the target's timeout. */
  | { type: 'probe'; allocId: string; check: ProbeTarget }
  /** A status transition to propose to Raft; never repeated for the same status and reason. */
  | {
      type: 'propose_status';
      allocId: string;
      status: AllocStatus;
      reason: StatusReason;
      detail: string;
    }
  | {
      type: 'log';
      level: 'debug' | 'info' | 'warn' | 'error';
      msg: string;
      fields: Record<string, string | number | boolean>;
    };

/**
 * The payload of the replicated `allocation_status` command for a proposal, stamped with
 * the proposing node's wall clock. Details longer than the log accepts are cut.
 */
export function toAllocationStatusCommand(
  proposal: { allocId: string; status: AllocStatus; detail: string },
  atMs: number,
): z.input<typeof AllocationStatusChanged> {
  const detail = proposal.detail.slice(0, limits.stateDetailLengthMax);
  return { id: proposal.allocId, status: proposal.status, detail, atMs };
}
