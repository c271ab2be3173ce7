/**
 * The reconciler for system jobs: one allocation on every eligible node (up, satisfying
 * the constraints, holding the volumes). Nodes that go down, drain or stop qualifying
 * lose theirs; nothing moves elsewhere, since a system allocation belongs to its node.
 */
import { compareIds } from './cluster-usage.ts';
import { staticFailure } from './feasibility.ts';
import { allocName, type PlaceIntent, type ReconcileInput, type StopIntent } from './reconcile.ts';
import type { SchedAllocation, SchedNode } from './types.ts';
import { canUpdateInPlace } from './update-kind.ts';

export interface SystemReconciled {
  stop: StopIntent[];
  place: (PlaceIntent & { nodeId: string })[];
  inPlace: SchedAllocation[];
  /** Old-version allocations to replace on their own node now (within maxParallel). */
  destructive: SchedAllocation[];
}

export function reconcileSystem(input: ReconcileInput): SystemReconciled {
  const { job } = input;
  const result: SystemReconciled = { stop: [], place: [], inPlace: [], destructive: [] };
  const liveByNode = new Map<string, SchedAllocation[]>();
  const replacements = new Map<string, string>();
  for (const alloc of input.allocs) {
    if (alloc.desiredStatus !== 'run') continue;
    const node = input.nodes.get(alloc.nodeId);
    const reason = stopReasonFor(input, alloc, node);
    if (reason !== undefined) {
      result.stop.push({ alloc, reason });
      if (reason === 'alloc_failed') replacements.set(alloc.nodeId, alloc.id);
      continue;
    }
    const list = liveByNode.get(alloc.nodeId) ?? [];
    list.push(alloc);
    liveByNode.set(alloc.nodeId, list);
  }
  let pending = 0;
  const outdated: SchedAllocation[] = [];
  const nodes = [...input.nodes.values()].sort((a, b) => compareIds(a.id, b.id));
  for (const node of nodes) {
    if (job.status === 'stopped' || staticFailure(node, job, input.regexCache) !== undefined) {
      continue;
    }
    const list = (liveByNode.get(node.id) ?? []).sort(
      (a, b) =>
        Number(b.jobVersion === job.version) - Number(a.jobVersion === job.version) ||
        compareIds(a.id, b.id),
    );
    const [keep, ...extra] = list;
    for (const alloc of extra) result.stop.push({ alloc, reason: 'duplicate' });
    if (keep === undefined) {
      const replaces = replacements.get(node.id);
      result.place.push({
        name: allocName(job, node.name),
        index: 0,
        nodeId: node.id,
        ...(replaces ? { replaces } : {}),
      });
    } else if (keep.jobVersion === job.version) {
      if (keep.clientStatus !== 'healthy') pending++;
    } else if (
      canUpdateInPlace(job, input.previous.get(keep.jobVersion), keep, node, input.regexCache)
    ) {
      result.inPlace.push(keep);
    } else {
      outdated.push(keep);
    }
  }
  const budget =
    job.update.maxParallel <= 0 ? outdated.length : Math.max(0, job.update.maxParallel - pending);
  result.destructive.push(...outdated.slice(0, budget));
  return result;
}

/** Why a system allocation must stop, or undefined when it may stay on its node. */
function stopReasonFor(
  input: ReconcileInput,
  alloc: SchedAllocation,
  node: SchedNode | undefined,
): StopIntent['reason'] | undefined {
  if (input.job.status === 'stopped')
    return alloc.clientStatus === 'complete' ? undefined : 'job_stopped';
  if (alloc.clientStatus === 'lost' || node === undefined || node.status === 'down')
    return 'node_lost';
  if (alloc.clientStatus === 'failed' || alloc.clientStatus === 'complete') return 'alloc_failed';
  if (node.status === 'draining') return 'node_draining';
  if (staticFailure(node, input.job, input.regexCache) !== undefined) return 'node_ineligible';
  return undefined;
}
