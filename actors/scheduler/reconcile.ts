/**
 * The reconciler for service and batch jobs (Nomad's allocReconciler, reduced): compares
 * the job's desired count and version with its allocations and sorts them into stops,
 * new placements, in-place updates, destructive updates and drain migrations. It decides
 * *what* changes; the placer decides *where*.
 */
import { assert } from '../../src/core/assert.ts';
import { compareIds } from './cluster-usage.ts';
import type { RegexCache } from './feasibility.ts';
import { decideReschedule } from './reschedule.ts';
import type {
  ClientStatus,
  RescheduleHold,
  SchedAllocation,
  SchedDeployment,
  SchedJob,
  SchedNode,
  StopReason,
} from './types.ts';
import { canUpdateInPlace } from './update-kind.ts';

export interface StopIntent {
  alloc: SchedAllocation;
  reason: StopReason;
}

export interface PlaceIntent {
  name: string;
  index: number;
  replaces?: string;
  canary?: boolean;
}

export interface Reconciled {
  stop: StopIntent[];
  place: PlaceIntent[];
  inPlace: SchedAllocation[];
  /** Old-version allocations to replace now (already limited by update.maxParallel). */
  destructive: SchedAllocation[];
  /** Allocations to move off draining nodes now (limited by what maxParallel leaves). */
  migrate: SchedAllocation[];
  /** Set when the plan must open a deployment for this job version. */
  openDeployment?: { canaries: number };
  /** Failed allocations the reschedule policy leaves in place (their slots stay empty). */
  held: RescheduleHold[];
}

export interface ReconcileInput {
  job: SchedJob;
  /** Older versions of this job by version number. */
  previous: ReadonlyMap<number, SchedJob>;
  /** Every allocation of this job in the snapshot. */
  allocs: readonly SchedAllocation[];
  nodes: ReadonlyMap<string, SchedNode>;
  /** The deployment of the job's current version, if one exists. */
  deployment: SchedDeployment | undefined;
  regexCache: RegexCache;
  /** The leader's time; required when the job has a reschedule policy. */
  nowMs?: number;
}

/** `web.web[3]`: job, group (one group per job for now) and index. */
export function allocName(job: SchedJob, index: number | string): string {
  return `${job.id}.${job.id}[${index}]`;
}

export function reconcileJob(input: ReconcileInput): Reconciled {
  const { job } = input;
  const result: Reconciled = {
    stop: [],
    place: [],
    inPlace: [],
    destructive: [],
    migrate: [],
    held: [],
  };
  if (job.status === 'stopped') {
    for (const alloc of input.allocs) {
      if (alloc.desiredStatus === 'run' && alloc.clientStatus !== 'complete') {
        result.stop.push({ alloc, reason: 'job_stopped' });
      }
    }
    return result;
  }
  const classified = classify(input, result);
  const kept = keepPerIndex(input, classified.live, result);
  const heldIndexes = applyReschedulePolicy(input, classified, kept, result);
  const candidates = sortKept(input, kept, result);
  for (let index = 0; index < job.count; index++) {
    if (kept.has(index) || classified.done.has(index) || heldIndexes.has(index)) continue;
    const replaces = classified.replacements.get(index);
    result.place.push({ name: allocName(job, index), index, ...(replaces ? { replaces } : {}) });
  }
  rollOut(input, kept, candidates, result);
  return result;
}

interface Classified {
  live: SchedAllocation[];
  /** Batch indexes that completed: never run again. */
  done: Set<number>;
  /** Index → the lost or failed allocation a new placement replaces. */
  replacements: Map<number, string>;
  /** Failed current-version allocations whose replacement the reschedule policy decides. */
  failed: SchedAllocation[];
}

/**
 * Stops lost and failed allocations (noting what they replace) and returns the rest.
 * Failed allocations of the current version under a reschedule policy are set aside for
 * applyReschedulePolicy; lost ones are always replaced at once, as in Nomad.
 */
function classify(input: ReconcileInput, result: Reconciled): Classified {
  const { job } = input;
  const out: Classified = { live: [], done: new Set(), replacements: new Map(), failed: [] };
  for (const alloc of input.allocs) {
    if (alloc.desiredStatus !== 'run') continue;
    const node = input.nodes.get(alloc.nodeId);
    if (job.type === 'batch' && alloc.clientStatus === 'complete') {
      out.done.add(alloc.index);
    } else if (alloc.clientStatus === 'lost' || node === undefined || node.status === 'down') {
      result.stop.push({ alloc, reason: 'node_lost' });
      out.replacements.set(alloc.index, alloc.id);
    } else if (
      alloc.clientStatus === 'failed' &&
      job.reschedule !== undefined &&
      alloc.jobVersion === job.version
    ) {
      out.failed.push(alloc);
    } else if (alloc.clientStatus === 'failed' || alloc.clientStatus === 'complete') {
      result.stop.push({ alloc, reason: 'alloc_failed' });
      out.replacements.set(alloc.index, alloc.id);
    } else {
      out.live.push(alloc);
    }
  }
  return out;
}

/**
 * Failed allocations under a reschedule policy: replaced now (stopped, their slot
 * refilled by the caller), or held — left failed and desired to run, their slot kept
 * empty — until the delay passes, or for good once attempts are spent. A slot that
 * still has a live allocation (a canary's old version) needs no replacement: its failed
 * allocation is just stopped. Returns the held indexes.
 */
function applyReschedulePolicy(
  input: ReconcileInput,
  classified: Classified,
  kept: ReadonlyMap<number, SchedAllocation[]>,
  result: Reconciled,
): Set<number> {
  const held = new Set<number>();
  const policy = input.job.reschedule;
  if (policy === undefined || classified.failed.length === 0) return held;
  assert(input.nowMs !== undefined, 'a reschedule policy needs nowMs in the context');
  for (const alloc of classified.failed) {
    const decision = kept.has(alloc.index)
      ? ({ kind: 'now' } as const)
      : decideReschedule(policy, alloc, input.allocs, input.nowMs);
    if (decision.kind === 'now' || alloc.index >= input.job.count) {
      result.stop.push({ alloc, reason: 'alloc_failed' });
      if (!kept.has(alloc.index)) classified.replacements.set(alloc.index, alloc.id);
      continue;
    }
    held.add(alloc.index);
    result.held.push(
      decision.kind === 'later'
        ? {
            allocId: alloc.id,
            index: alloc.index,
            reason: 'reschedule_delay',
            eligibleAtMs: decision.eligibleAtMs,
          }
        : { allocId: alloc.id, index: alloc.index, reason: 'reschedule_exhausted' },
    );
  }
  return held;
}

const statusRank: Record<ClientStatus, number> = {
  healthy: 0,
  running: 1,
  pending: 2,
  unhealthy: 3,
  failed: 4,
  complete: 5,
  lost: 6,
};

/**
 * One allocation per index survives (two while canaries await promotion: the old one and
 * its canary). The rest are stopped: beyond the count, duplicates, or old versions a
 * promoted canary already replaced.
 */
function keepPerIndex(
  input: ReconcileInput,
  live: readonly SchedAllocation[],
  result: Reconciled,
): Map<number, SchedAllocation[]> {
  const { job, deployment } = input;
  const canaryPhase =
    deployment !== undefined &&
    !deployment.promoted &&
    job.update.canary > 0 &&
    isActive(deployment);
  const byIndex = new Map<number, SchedAllocation[]>();
  for (const alloc of live) {
    const list = byIndex.get(alloc.index) ?? [];
    list.push(alloc);
    byIndex.set(alloc.index, list);
  }
  const kept = new Map<number, SchedAllocation[]>();
  for (const [index, list] of byIndex) {
    if (index >= job.count) {
      for (const alloc of list) result.stop.push({ alloc, reason: 'count_reduced' });
      continue;
    }
    list.sort((a, b) => preference(input, a, b));
    const current = list.find((a) => a.jobVersion === job.version);
    const old = list.find((a) => a.jobVersion !== job.version);
    const keep = canaryPhase ? [current, old].filter((a) => a !== undefined) : [list[0]!];
    kept.set(index, keep);
    for (const alloc of list) {
      if (keep.includes(alloc)) continue;
      const replaced =
        current !== undefined && keep.includes(current) && alloc.jobVersion !== job.version;
      result.stop.push({ alloc, reason: replaced ? 'replaced_by_canary' : 'duplicate' });
    }
  }
  return kept;
}

function preference(input: ReconcileInput, a: SchedAllocation, b: SchedAllocation): number {
  const version = input.job.version;
  if ((a.jobVersion === version) !== (b.jobVersion === version)) {
    return a.jobVersion === version ? -1 : 1;
  }
  const rank = statusRank[a.clientStatus] - statusRank[b.clientStatus];
  if (rank !== 0) return rank;
  const upA = input.nodes.get(a.nodeId)?.status === 'up';
  const upB = input.nodes.get(b.nodeId)?.status === 'up';
  if (upA !== upB) return upA ? -1 : 1;
  return compareIds(a.id, b.id);
}

function isActive(deployment: SchedDeployment): boolean {
  return deployment.status === 'running' || deployment.status === 'paused';
}

interface Candidates {
  destructive: SchedAllocation[];
  drain: SchedAllocation[];
}

/** Sorts kept allocations: unchanged, in-place update, destructive update, or drain. */
function sortKept(
  input: ReconcileInput,
  kept: ReadonlyMap<number, SchedAllocation[]>,
  result: Reconciled,
): Candidates {
  const { job } = input;
  const out: Candidates = { destructive: [], drain: [] };
  for (const list of kept.values()) {
    for (const alloc of list) {
      const node = input.nodes.get(alloc.nodeId);
      const draining = node?.status === 'draining';
      if (alloc.jobVersion === job.version) {
        if (draining) out.drain.push(alloc);
      } else if (draining) {
        out.drain.push(alloc);
      } else if (
        canUpdateInPlace(job, input.previous.get(alloc.jobVersion), alloc, node, input.regexCache)
      ) {
        result.inPlace.push(alloc);
      } else {
        out.destructive.push(alloc);
      }
    }
  }
  out.destructive.sort((a, b) => a.index - b.index || compareIds(a.id, b.id));
  out.drain.sort((a, b) => a.index - b.index || compareIds(a.id, b.id));
  return out;
}

/** Statuses of a new-version allocation that still count against update.maxParallel. */
function inFlight(job: SchedJob, alloc: SchedAllocation): boolean {
  if (job.type === 'batch') return alloc.clientStatus === 'pending';
  return alloc.clientStatus !== 'healthy';
}

/**
 * Rolling updates and drains. Destructive updates wait for canaries (placed first, next
 * to the old allocations, until the deployment is promoted); then at most maxParallel
 * new-version allocations may be unhealthy at once, and drains use what is left of that
 * window. A failed or cancelled deployment stops the rollout (reverting is the watcher's).
 */
function rollOut(
  input: ReconcileInput,
  kept: ReadonlyMap<number, SchedAllocation[]>,
  candidates: Candidates,
  result: Reconciled,
): void {
  const { job, deployment } = input;
  let pending = 0;
  for (const list of kept.values()) {
    for (const alloc of list)
      if (alloc.jobVersion === job.version && inFlight(job, alloc)) pending++;
  }
  let budget =
    job.update.maxParallel <= 0
      ? Number.POSITIVE_INFINITY
      : Math.max(0, job.update.maxParallel - pending);
  const halted =
    deployment !== undefined && !isActive(deployment) && deployment.status !== 'successful';
  const rolling = candidates.destructive.length > 0 && !halted;
  const usesDeployments = job.type === 'service';
  const waitForCanaries =
    usesDeployments && job.update.canary > 0 && !(deployment?.promoted ?? false);
  if (rolling && waitForCanaries) {
    const wanted = Math.min(job.update.canary, candidates.destructive.length);
    const uncovered = candidates.destructive.filter(
      (alloc) => !(kept.get(alloc.index) ?? []).some((a) => a.jobVersion === job.version),
    );
    const missing = wanted - (candidates.destructive.length - uncovered.length);
    for (const alloc of uncovered.slice(0, Math.max(0, missing))) {
      result.place.push({ name: alloc.name, index: alloc.index, canary: true });
    }
    if (deployment === undefined) result.openDeployment = { canaries: wanted };
  } else if (rolling) {
    const take = Math.min(budget, candidates.destructive.length);
    result.destructive.push(...candidates.destructive.slice(0, take));
    budget -= take;
    if (usesDeployments && deployment === undefined) result.openDeployment = { canaries: 0 };
  }
  const drains = Math.min(budget, candidates.drain.length);
  result.migrate.push(...candidates.drain.slice(0, drains));
}
