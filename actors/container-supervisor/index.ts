/**
 * The public surface of the `container-supervisor` actor (DESIGN.md §1, §5): converges
 * this node's tasks to its desired allocations, adopts tasks left running by a previous
 * agent, removes orphans, restarts exited tasks by policy, runs health checks and proposes
 * status transitions. Its host is `src/supervisor/host.ts`.
 */
export type { SupervisorConfig } from './config.ts';
export { defaultSupervisorConfig, SupervisorConfigSchema } from './config.ts';
export type { StatusReason, SupervisorEffect } from './effects.ts';
export { toAllocationStatusCommand } from './effects.ts';
export type { MessageOf, SupervisorMessage } from './messages.ts';
export {
  ListedTaskSchema,
  parseSupervisorMessage,
  SupervisorMessageSchema,
  supervisorKindDefinitions,
  TaskHandleSchema,
} from './messages.ts';
export type { AllocRecord, SupervisorState, TaskPhase } from './state.ts';
export { createSupervisorState } from './state.ts';
export type { SupervisorContext, SupervisorStepResult } from './step.ts';
export { step } from './step.ts';
export type {
  AllocStatus,
  CheckSpec,
  DesiredAllocation,
  ProbeTarget,
  RestartPolicy,
  TaskTemplate,
} from './types.ts';
export {
  AllocStatusSchema,
  CheckSpecSchema,
  DesiredAllocationSchema,
  terminalStatuses,
} from './types.ts';
