/**
 * An in-memory scheduler harness (Nomad's scheduler.Harness, reduced): a mutable
 * snapshot, builders for nodes and jobs, and `evaluate`, which computes a plan, re-checks
 * it with applyPlan and applies the committed part the way the state machine would.
 * Tests only; no server, no clock.
 */
import { createPrng, type Prng } from '../../src/core/prng.ts';
import { type ApplyResult, applyPlan } from './apply-plan.ts';
import { compute } from './compute.ts';
import type {
  ClientStatus,
  Evaluation,
  Plan,
  SchedAllocation,
  SchedContext,
  SchedDeployment,
  SchedJob,
  SchedNode,
  Snapshot,
} from './types.ts';

export function makeNode(id: string, overrides: Partial<SchedNode> = {}): SchedNode {
  return {
    id,
    name: id,
    role: 'worker',
    status: 'up',
    labels: {},
    resources: { cpuMhz: 4000, memoryMb: 8192 },
    volumes: [],
    ...overrides,
  };
}

export function makeJob(id: string, overrides: Partial<SchedJob> = {}): SchedJob {
  return {
    id,
    version: 1,
    type: 'service',
    count: 1,
    resources: { cpuMhz: 100, memoryMb: 128 },
    ports: [],
    volumes: [],
    constraints: [],
    spread: true,
    update: { maxParallel: 1, canary: 0 },
    status: 'running',
    ...overrides,
  };
}

/** A context whose ids are `<prefix>-<n>`; each evaluation gets a fresh prefix. */
export function makeContext(prefix: string, prng: Prng = createPrng(1)): SchedContext {
  return { prng, idOf: (n) => `${prefix}-${n}` };
}

export interface EvaluateResult {
  plan: Plan;
  applied: ApplyResult;
}

export class SchedHarness {
  snapshot: Snapshot & {
    nodes: SchedNode[];
    jobs: SchedJob[];
    allocations: SchedAllocation[];
    jobVersions: SchedJob[];
    deployments: SchedDeployment[];
  };
  /** The simulated leader time passed to compute and stamped into status changes. */
  nowMs = 0;
  #evals = 0;
  #prng: Prng;

  constructor(nodes: SchedNode[] = [], seed = 1) {
    this.snapshot = {
      index: 1,
      nodes,
      jobs: [],
      allocations: [],
      jobVersions: [],
      deployments: [],
    };
    this.#prng = createPrng(seed);
  }

  /** Registers a job or a new version of it (the old version is kept for comparisons). */
  upsertJob(job: SchedJob): void {
    const old = this.snapshot.jobs.find((j) => j.id === job.id);
    if (old) this.snapshot.jobVersions.push(old);
    this.snapshot.jobs = [...this.snapshot.jobs.filter((j) => j.id !== job.id), job];
    this.snapshot.index += 1;
  }

  job(id: string): SchedJob {
    const job = this.snapshot.jobs.find((j) => j.id === id);
    if (!job) throw new Error(`no job ${id}`);
    return job;
  }

  setNode(id: string, change: Partial<SchedNode>): void {
    this.snapshot.nodes = this.snapshot.nodes.map((n) => (n.id === id ? { ...n, ...change } : n));
    this.snapshot.index += 1;
  }

  addNode(node: SchedNode): void {
    this.snapshot.nodes = [...this.snapshot.nodes, node];
    this.snapshot.index += 1;
  }

  setStatus(allocId: string, clientStatus: ClientStatus): void {
    this.snapshot.allocations = this.snapshot.allocations.map((a) =>
      a.id === allocId ? { ...a, clientStatus, modifiedAtMs: this.nowMs } : a,
    );
    this.snapshot.index += 1;
  }

  /** Every running allocation of the job reports healthy (the supervisor's part). */
  markHealthy(jobId: string): void {
    for (const a of this.live(jobId)) {
      if (a.clientStatus === 'pending' || a.clientStatus === 'running') {
        this.setStatus(a.id, 'healthy');
      }
    }
  }

  promote(jobId: string): void {
    this.snapshot.deployments = this.snapshot.deployments.map((d) =>
      d.jobId === jobId ? { ...d, promoted: true } : d,
    );
  }

  /** Allocations of the job that are desired to run and not finished. */
  live(jobId: string): SchedAllocation[] {
    return this.snapshot.allocations.filter(
      (a) =>
        a.jobId === jobId &&
        a.desiredStatus === 'run' &&
        ['pending', 'running', 'healthy', 'unhealthy'].includes(a.clientStatus),
    );
  }

  /** compute → applyPlan → apply the committed part to the snapshot. */
  evaluate(jobId: string, triggeredBy: Evaluation['triggeredBy'] = 'job-register'): EvaluateResult {
    const id = `e${++this.#evals}`;
    const ctx = { ...makeContext(id, this.#prng), nowMs: this.nowMs };
    const plan = compute(this.snapshot, { id, jobId, triggeredBy }, ctx);
    const applied = applyPlan(this.snapshot, plan);
    this.commit(applied.committed);
    return { plan, applied };
  }

  /** Applies a committed plan the way the state machine does. */
  commit(plan: Plan): void {
    const stopped = new Set(
      [...plan.stop, ...plan.destructiveUpdate.map((d) => d.stop)].map((s) => s.id),
    );
    const updated = new Map(plan.inPlaceUpdate.map((u) => [u.id, u.jobVersion]));
    this.snapshot.allocations = this.snapshot.allocations.map((a) => {
      if (stopped.has(a.id)) return { ...a, desiredStatus: 'stop', modifiedAtMs: this.nowMs };
      const version = updated.get(a.id);
      return version === undefined ? a : { ...a, jobVersion: version };
    });
    for (const p of [...plan.place, ...plan.destructiveUpdate.map((d) => d.place)]) {
      this.snapshot.allocations.push({
        id: p.id,
        jobId: p.jobId,
        jobVersion: p.jobVersion,
        nodeId: p.nodeId,
        name: p.name,
        index: p.index,
        resources: p.resources,
        ports: p.ports,
        desiredStatus: 'run',
        clientStatus: 'pending',
        modifiedAtMs: this.nowMs,
      });
    }
    if (plan.deployment) {
      const { id, jobId, jobVersion } = plan.deployment;
      this.snapshot.deployments.push({ id, jobId, jobVersion, status: 'running', promoted: false });
    }
    this.snapshot.index += 1;
  }
}
