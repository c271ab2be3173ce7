/**
 * The public surface of the `node-monitor` actor (DESIGN.md §5): node liveness judged on
 * the leader from heartbeats, with a short TTL and one TTL of grace after a failover.
 *
 * The runtime feeds `step` with local messages (heartbeats, ticks, leadership changes and
 * the committed status of nodes), turns each `propose` effect into a replicated
 * `node_status` command with `toNodeStatusCommand(proposal, clock.wallMs())`, and on
 * every node drives the worker-side heartbeat with `heartbeatDue` / `heartbeatSent`.
 */
export type { NodeMonitorConfig } from './config.ts';
export { defaultNodeMonitorConfig, NodeMonitorConfigSchema } from './config.ts';
export type { NodeMonitorEffect, NodeStatusProposal, NodeStatusReason } from './effects.ts';
export { toNodeStatusCommand } from './effects.ts';
export type { HeartbeatSchedule } from './heartbeat-schedule.ts';
export {
  createHeartbeatSchedule,
  heartbeatDelayMs,
  heartbeatDue,
  heartbeatSent,
} from './heartbeat-schedule.ts';
export type { CommittedNodeStatus, NodeMonitorMessage } from './messages.ts';
export {
  CommittedNodeStatusSchema,
  NodeMonitorMessageSchema,
  nodeMonitorKindDefinitions,
  parseNodeMonitorMessage,
} from './messages.ts';
export type { NodeMonitorState, PendingProposal, TrackedNode } from './state.ts';
export { createNodeMonitorState } from './state.ts';
export type { NodeMonitorContext, NodeMonitorStepResult } from './step.ts';
export { step } from './step.ts';
