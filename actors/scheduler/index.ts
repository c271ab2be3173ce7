/** The scheduler's public surface: compute a plan, re-check it, turn it into a log entry. */
export {
  type ApplyResult,
  applyPlan,
  type PlanItem,
  type RejectCode,
  type Rejection,
} from './apply-plan.ts';
export {
  type AutoPromoteAllocation,
  type AutoPromoteDeployment,
  type AutoPromoteSpec,
  shouldAutoPromote,
} from './auto-promote.ts';
export { isLive } from './cluster-usage.ts';
export { compute } from './compute.ts';
export { dynamicPortMax, dynamicPortMin, spreadPenaltyPerAlloc } from './placer.ts';
export { type PlanCommittedPayload, planIsEmpty, toPlanCommitted } from './plan-committed.ts';
export { decideReschedule, type RescheduleDecision } from './reschedule.ts';
export type * from './types.ts';
