/**
 * `compute(snapshot, evaluation, ctx) → plan`: the scheduler's one entry point (Nomad's
 * generic and system schedulers, reduced). A pure function: the snapshot is read-only,
 * randomness and ids come from `ctx`, and the wall clock is never read.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import {
  addToNode,
  buildUsage,
  type ClusterUsage,
  isLive,
  removeFromNode,
} from './cluster-usage.ts';
import type { RegexCache } from './feasibility.ts';
import { createIdSource, createPlacer, type Placer } from './placer.ts';
import { type ReconcileInput, reconcileJob, type StopIntent } from './reconcile.ts';
import { reconcileSystem } from './reconcile-system.ts';
import type {
  Evaluation,
  Plan,
  SchedAllocation,
  SchedContext,
  SchedJob,
  Snapshot,
  Stop,
  StopReason,
} from './types.ts';

export function compute(snapshot: Snapshot, evaluation: Evaluation, ctx: SchedContext): Plan {
  const allocs = snapshot.allocations.filter((a) => a.jobId === evaluation.jobId);
  const job = snapshot.jobs.find((j) => j.id === evaluation.jobId);
  const plan: Plan = {
    evalId: evaluation.id,
    jobId: evaluation.jobId,
    jobVersion: job?.version ?? allocs.reduce((v, a) => Math.max(v, a.jobVersion), 1),
    snapshotIndex: snapshot.index,
    place: [],
    stop: [],
    inPlaceUpdate: [],
    destructiveUpdate: [],
  };
  if (job === undefined) {
    // A purged job: everything it still runs stops.
    for (const alloc of allocs) if (isLive(alloc)) plan.stop.push(toStop(alloc, 'job_stopped'));
    return plan;
  }
  assert(job.count <= limits.schedulerJobCountMax, `job ${job.id} count above the limit`);
  const input = reconcileInput(snapshot, job, allocs, ctx.nowMs);
  const usage = buildUsage(snapshot, job.id);
  const ids = createIdSource(ctx);
  const placer = createPlacer(job, usage, ctx, ids, input.regexCache);
  if (job.type === 'system') {
    const decided = reconcileSystem(input);
    applyStops(plan, usage, decided.stop);
    plan.inPlaceUpdate = decided.inPlace.map((a) => toUpdate(a, job));
    for (const intent of decided.place) {
      const placement = placer.place({ ...intent, onlyNodeId: intent.nodeId });
      if (placement) plan.place.push(placement);
    }
    for (const alloc of decided.destructive) {
      replace(plan, usage, placer, alloc, 'destructive_update', alloc.nodeId);
    }
  } else {
    const decided = reconcileJob(input);
    if (decided.held.length > 0) plan.held = decided.held;
    applyStops(plan, usage, decided.stop);
    plan.inPlaceUpdate = decided.inPlace.map((a) => toUpdate(a, job));
    for (const intent of decided.place) {
      const placement = placer.place(intent);
      if (placement) plan.place.push(placement);
    }
    for (const alloc of decided.destructive)
      replace(plan, usage, placer, alloc, 'destructive_update');
    for (const alloc of decided.migrate) replace(plan, usage, placer, alloc, 'node_draining');
    if (decided.openDeployment) {
      const { canaries } = decided.openDeployment;
      plan.deployment = { id: ids.next(), jobId: job.id, jobVersion: job.version, canaries };
    }
  }
  const blocked = placer.blocked();
  if (blocked) plan.blocked = blocked;
  return plan;
}

function reconcileInput(
  snapshot: Snapshot,
  job: SchedJob,
  allocs: readonly SchedAllocation[],
  nowMs: number | undefined,
): ReconcileInput {
  const previous = new Map<number, SchedJob>();
  for (const version of snapshot.jobVersions ?? []) {
    if (version.id === job.id) previous.set(version.version, version);
  }
  const deployment = (snapshot.deployments ?? []).find(
    (d) => d.jobId === job.id && d.jobVersion === job.version,
  );
  const regexCache: RegexCache = new Map();
  return {
    job,
    previous,
    allocs,
    nodes: new Map(snapshot.nodes.map((n) => [n.id, n])),
    deployment,
    regexCache,
    ...(nowMs === undefined ? {} : { nowMs }),
  };
}

function applyStops(plan: Plan, usage: ClusterUsage, stops: readonly StopIntent[]): void {
  for (const { alloc, reason } of stops) {
    plan.stop.push(toStop(alloc, reason));
    if (isLive(alloc)) {
      removeFromNode(usage, alloc.nodeId, true, alloc.resources, alloc.ports);
    }
  }
}

/**
 * Stops `alloc` and places its successor as one pair. The old allocation's resources are
 * freed first, so its own node can take the new version; when nothing fits, the old
 * allocation keeps running and the shortfall shows in `blocked`.
 */
function replace(
  plan: Plan,
  usage: ClusterUsage,
  placer: Placer,
  alloc: SchedAllocation,
  reason: StopReason,
  onlyNodeId?: string,
): void {
  removeFromNode(usage, alloc.nodeId, true, alloc.resources, alloc.ports);
  const placement = placer.place({
    name: alloc.name,
    index: alloc.index,
    replaces: alloc.id,
    ...(onlyNodeId === undefined ? {} : { onlyNodeId }),
  });
  if (placement === undefined) {
    addToNode(usage, alloc.nodeId, true, alloc.resources, alloc.ports);
    return;
  }
  plan.destructiveUpdate.push({ stop: toStop(alloc, reason), place: placement });
}

function toStop(alloc: SchedAllocation, reason: StopReason): Stop {
  return { id: alloc.id, nodeId: alloc.nodeId, reason };
}

function toUpdate(alloc: SchedAllocation, job: SchedJob) {
  return { id: alloc.id, nodeId: alloc.nodeId, jobVersion: job.version };
}
