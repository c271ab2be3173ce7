/**
 * Builds the scheduler's read-only snapshot (actors/scheduler/types.ts) from the node's
 * state database: nodes, jobs (their normalised specs), the job versions allocations still
 * run, allocations and deployments. The scheduler never sees SQL; this is the one adapter.
 */
import type {
  SchedAllocation,
  SchedConstraint,
  SchedDeployment,
  SchedJob,
  SchedNode,
  Snapshot,
} from '../../actors/scheduler/types.ts';
import type { Job } from '../spec/normalize.ts';
import type { StateReader } from '../state/queries.ts';
import * as q from '../state/queries.ts';

/** Allocation names end in `[index]` (`web[2]`); system allocations have index 0. */
export function allocIndex(name: string): number {
  const m = /\[(\d+)\]$/.exec(name);
  return m ? Number(m[1]) : 0;
}

function constraintOf(c: Job['constraints'][number]): SchedConstraint {
  // The spec writes labels as `node.label.zone`; the scheduler reads `label.zone`.
  const attribute = c.attribute.startsWith('node.label.')
    ? `label.${c.attribute.slice(11)}`
    : c.attribute;
  return { attribute, operator: c.operator as SchedConstraint['operator'], value: c.value };
}

/** The scheduler's view of one job version. */
export function schedJobOf(spec: Job, version: number, status: 'running' | 'stopped'): SchedJob {
  const env = { ...spec.env };
  for (const s of spec.secrets) env[s.env] = `secret:${s.secret}`;
  return {
    id: spec.name,
    version,
    type: spec.type,
    count: spec.count,
    resources: spec.resources,
    ports: spec.ports.map((p) =>
      p.static === null ? { label: p.label } : { label: p.label, static: p.static },
    ),
    volumes: spec.volumes.map((v) => v.name),
    constraints: spec.constraints.map(constraintOf),
    spread: spec.spread,
    update: { maxParallel: spec.update.maxParallel, canary: spec.update.canary },
    reschedule: spec.reschedule,
    status,
    task: {
      image:
        spec.driver.kind === 'docker' ? spec.driver.image : `exec:${spec.driver.workdir ?? ''}`,
      command: spec.driver.kind === 'exec' ? spec.driver.command : [],
      env,
    },
  };
}

function allocationOf(a: q.AllocationView): SchedAllocation {
  return {
    id: a.id,
    jobId: a.jobId,
    jobVersion: a.jobVersion,
    nodeId: a.nodeId,
    name: a.name,
    index: allocIndex(a.name),
    resources: a.resources,
    ports: a.ports,
    desiredStatus: a.desiredStatus,
    clientStatus: a.clientStatus,
    modifiedAtMs: a.modifiedAtMs,
  };
}

/**
 * Which nodes hold which named volumes: a node holds a volume once an allocation using it
 * was placed there. A volume nobody holds yet may be created anywhere, so every node is
 * listed as holding it until its first placement pins it.
 */
function volumesByNode(
  jobs: SchedJob[],
  allocs: SchedAllocation[],
  nodeIds: string[],
): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>(nodeIds.map((id) => [id, new Set<string>()]));
  const byJob = new Map(jobs.map((j) => [j.id, j]));
  const pinned = new Set<string>();
  for (const a of allocs) {
    for (const v of byJob.get(a.jobId)?.volumes ?? []) {
      held.get(a.nodeId)?.add(v);
      pinned.add(v);
    }
  }
  for (const j of jobs) {
    for (const v of j.volumes) if (!pinned.has(v)) for (const set of held.values()) set.add(v);
  }
  return held;
}

export function buildSnapshot(db: StateReader, index: number): Snapshot {
  const jobs: SchedJob[] = [];
  const jobVersions: SchedJob[] = [];
  for (const job of q.listJobs(db)) {
    jobs.push(schedJobOf(job.spec as unknown as Job, job.version, job.status));
    for (const v of q.jobHistory(db, job.id)) {
      if (v.version !== job.version)
        jobVersions.push(schedJobOf(v.spec as unknown as Job, v.version, job.status));
    }
  }
  const allocations = q.listAllocations(db).map(allocationOf);
  const nodeRows = q.listNodes(db);
  const volumes = volumesByNode(
    jobs,
    allocations,
    nodeRows.map((n) => n.id),
  );
  const nodes: SchedNode[] = nodeRows.map((n) => ({
    id: n.id,
    name: n.name,
    role: n.role,
    status: n.status,
    labels: n.labels,
    resources: n.resources,
    volumes: [...(volumes.get(n.id) ?? [])],
  }));
  const deployments: SchedDeployment[] = q.listDeployments(db).map((d) => ({
    id: d.id,
    jobId: d.jobId,
    jobVersion: d.jobVersion,
    status: d.status,
    promoted: d.promoted,
  }));
  return { index, nodes, jobs, allocations, jobVersions, deployments };
}
