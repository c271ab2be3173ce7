/**
 * Converts a (re-checked) plan into the replicated `plan_committed` payload of
 * actors/state/commands.ts. Destructive updates and drain migrations become a stop plus
 * a placement in the same entry, so the state machine applies both or neither.
 */
import type { StateCommand } from '../state/commands.ts';
import type { Placement, Plan } from './types.ts';

export type PlanCommittedPayload = StateCommand<'plan_committed'>;

/** `atMs` is the leader's wall-clock time, stamped by the caller, never read here. */
export function toPlanCommitted(plan: Plan, atMs: number): PlanCommittedPayload {
  const places = [...plan.place, ...plan.destructiveUpdate.map((d) => d.place)];
  const stops = [...plan.stop, ...plan.destructiveUpdate.map((d) => d.stop)];
  const payload: PlanCommittedPayload = {
    evalId: plan.evalId,
    jobId: plan.jobId,
    jobVersion: plan.jobVersion,
    place: places.map(toRow),
    stop: stops.map((s) => ({ id: s.id, reason: s.reason })),
    update: plan.inPlaceUpdate.map((u) => ({ id: u.id, jobVersion: u.jobVersion })),
    atMs,
  };
  if (plan.deployment) payload.deployment = { id: plan.deployment.id };
  return payload;
}

/** Whether the plan changes anything (an empty plan need not enter the log). */
export function planIsEmpty(plan: Plan): boolean {
  return (
    plan.place.length === 0 &&
    plan.stop.length === 0 &&
    plan.inPlaceUpdate.length === 0 &&
    plan.destructiveUpdate.length === 0 &&
    plan.deployment === undefined
  );
}

function toRow(p: Placement): PlanCommittedPayload['place'][number] {
  return {
    id: p.id,
    group: p.group,
    name: p.name,
    nodeId: p.nodeId,
    resources: { cpuMhz: p.resources.cpuMhz, memoryMb: p.resources.memoryMb },
    ports: { ...p.ports },
  };
}
