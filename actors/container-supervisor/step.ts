/**
 * The container supervisor's one entry point: a pure step `(state, message, ctx) →
 * { state, effects }`. It does no I/O, never awaits and reads no clock: time arrives in
 * `tick` and `observed`, randomness (restart jitter) from `ctx.prng`.
 *
 * The step mutates `state` in place and returns it (as etcd's raft does); the caller owns
 * the state and must not keep a reference to an earlier version.
 */
import { unreachable } from '../../src/core/assert.ts';
import type { Prng } from '../../src/core/prng.ts';
import type { SupervisorEffect } from './effects.ts';
import { handleProbeResult } from './health.ts';
import { handleStartFailed, handleTaskExited, handleTaskStarted } from './lifecycle.ts';
import type { SupervisorMessage } from './messages.ts';
import {
  handleCommittedStatus,
  handleDesired,
  handleObserved,
  handleProposalFailed,
  reconcileAll,
} from './reconcile.ts';
import type { SupervisorState } from './state.ts';

/** What the step may use besides the message. */
export interface SupervisorContext {
  prng: Prng;
}

export interface SupervisorStepResult {
  state: SupervisorState;
  effects: SupervisorEffect[];
}

export function step(
  s: SupervisorState,
  m: SupervisorMessage,
  ctx: SupervisorContext,
): SupervisorStepResult {
  const out: SupervisorEffect[] = [];
  if (m.type === 'tick' || m.type === 'observed') s.nowMs = Math.max(s.nowMs, m.nowMs);
  switch (m.type) {
    case 'desired':
      handleDesired(s, m, ctx.prng, out);
      break;
    case 'committed_status':
      handleCommittedStatus(s, m, out);
      break;
    case 'observed':
      handleObserved(s, m, ctx.prng, out);
      break;
    case 'task_started':
      handleTaskStarted(s, m, out);
      break;
    case 'task_start_failed':
      handleStartFailed(s, m, ctx.prng, out);
      break;
    case 'task_exited':
      handleTaskExited(s, m, ctx.prng, out);
      break;
    case 'probe_result':
      handleProbeResult(s, m, out);
      break;
    case 'proposal_failed':
      handleProposalFailed(s, m, out);
      break;
    case 'tick':
      reconcileAll(s, out);
      break;
    default:
      unreachable(m, 'unknown container-supervisor message');
  }
  return { state: s, effects: out };
}
