/**
 * The plan applier's re-check (Nomad's plan_apply.go, reduced). Plans are computed from
 * snapshots that may be stale by the time they reach the single applier on the leader;
 * each item is checked against the latest snapshot, and what still holds commits while
 * the rest is rejected with a stable code (a partial commit). Retrying is the caller's,
 * at most `limits.planRetriesMax` times per evaluation.
 */
import {
  addToNode,
  buildUsage,
  type ClusterUsage,
  fitsResources,
  isLive,
  portFree,
  removeFromNode,
} from './cluster-usage.ts';
import { type RegexCache, staticFailure } from './feasibility.ts';
import type {
  DestructiveUpdate,
  Placement,
  Plan,
  SchedAllocation,
  SchedJob,
  Snapshot,
  Stop,
  Update,
} from './types.ts';

export type RejectCode =
  | 'stale_job'
  | 'alloc_not_found'
  | 'alloc_already_stopped'
  | 'alloc_id_taken'
  | 'node_not_found'
  | 'node_not_ready'
  | 'constraints_unmet'
  | 'volume_missing'
  | 'insufficient_resources'
  | 'port_conflict'
  | 'paired_item_rejected';

export type PlanItem =
  | { kind: 'place'; place: Placement }
  | { kind: 'stop'; stop: Stop }
  | { kind: 'update'; update: Update };

export interface Rejection {
  item: PlanItem;
  code: RejectCode;
  /** For people and logs; branch on `code`. */
  reason: string;
}

export interface ApplyResult {
  committed: Plan;
  rejected: Rejection[];
}

interface Checker {
  job: SchedJob | undefined;
  usage: ClusterUsage;
  allocs: Map<string, SchedAllocation>;
  /** Ids placed by this plan so far, so one id is never placed twice. */
  placedIds: Set<string>;
  regexCache: RegexCache;
}

type Verdict = { code: RejectCode; reason: string } | undefined;

export function applyPlan(latest: Snapshot, plan: Plan): ApplyResult {
  const committed: Plan = {
    ...plan,
    place: [],
    stop: [],
    inPlaceUpdate: [],
    destructiveUpdate: [],
  };
  const rejected: Rejection[] = [];
  const job = latest.jobs.find((j) => j.id === plan.jobId);
  if (job !== undefined && job.version !== plan.jobVersion) {
    const reason = `job ${plan.jobId} is at version ${job.version}, the plan at ${plan.jobVersion}`;
    for (const item of planItems(plan)) rejected.push({ item, code: 'stale_job', reason });
    delete committed.deployment;
    return { committed, rejected };
  }
  const checker: Checker = {
    job,
    // Only the nodes the plan places on or updates matter; the others are never asked.
    usage: buildUsage(latest, '', touchedNodeIds(plan)),
    allocs: referencedAllocs(latest, plan),
    placedIds: new Set(),
    regexCache: new Map(),
  };
  // Stops first: they only free capacity, which the placements below may need.
  for (const stop of plan.stop) {
    const verdict = takeStop(checker, stop);
    if (verdict) rejected.push({ item: { kind: 'stop', stop }, ...verdict });
    else committed.stop.push(stop);
  }
  for (const update of plan.inPlaceUpdate) {
    const verdict = checkUpdate(checker, update);
    if (verdict) rejected.push({ item: { kind: 'update', update }, ...verdict });
    else committed.inPlaceUpdate.push(update);
  }
  for (const pair of plan.destructiveUpdate) {
    const result = takePair(checker, pair);
    if (result.length === 0) committed.destructiveUpdate.push(pair);
    else rejected.push(...result);
  }
  for (const place of plan.place) {
    const verdict = takePlacement(checker, place);
    if (verdict) rejected.push({ item: { kind: 'place', place }, ...verdict });
    else committed.place.push(place);
  }
  return { committed, rejected };
}

/**
 * The allocations the plan names (to stop, update, or as new ids that must be free), in
 * one pass without indexing the whole snapshot: the applier runs once per plan.
 */
function referencedAllocs(latest: Snapshot, plan: Plan): Map<string, SchedAllocation> {
  const ids = new Set(planItems(plan).map(itemId));
  const found = new Map<string, SchedAllocation>();
  for (const alloc of latest.allocations) if (ids.has(alloc.id)) found.set(alloc.id, alloc);
  return found;
}

function touchedNodeIds(plan: Plan): Set<string> {
  const ids = new Set<string>();
  for (const place of plan.place) ids.add(place.nodeId);
  for (const pair of plan.destructiveUpdate) ids.add(pair.place.nodeId).add(pair.stop.nodeId);
  for (const update of plan.inPlaceUpdate) ids.add(update.nodeId);
  return ids;
}

function itemId(item: PlanItem): string {
  switch (item.kind) {
    case 'place':
      return item.place.id;
    case 'stop':
      return item.stop.id;
    case 'update':
      return item.update.id;
  }
}

function planItems(plan: Plan): PlanItem[] {
  return [
    ...plan.stop.map((stop) => ({ kind: 'stop', stop }) as const),
    ...plan.inPlaceUpdate.map((update) => ({ kind: 'update', update }) as const),
    ...plan.destructiveUpdate.flatMap((p) => [
      { kind: 'stop', stop: p.stop } as const,
      { kind: 'place', place: p.place } as const,
    ]),
    ...plan.place.map((place) => ({ kind: 'place', place }) as const),
  ];
}

function checkStop(checker: Checker, stop: Stop): Verdict {
  const alloc = checker.allocs.get(stop.id);
  if (alloc === undefined) {
    return { code: 'alloc_not_found', reason: `allocation ${stop.id} no longer exists` };
  }
  if (alloc.desiredStatus === 'stop') {
    return { code: 'alloc_already_stopped', reason: `allocation ${stop.id} is already stopped` };
  }
  return undefined;
}

/** Checks a stop and, when it holds, frees what the allocation held. */
function takeStop(checker: Checker, stop: Stop): Verdict {
  const verdict = checkStop(checker, stop);
  if (verdict) return verdict;
  const alloc = checker.allocs.get(stop.id)!;
  if (isLive(alloc)) {
    removeFromNode(checker.usage, alloc.nodeId, false, alloc.resources, alloc.ports);
  }
  // A later item of the same plan must not stop or update it again.
  checker.allocs.set(alloc.id, { ...alloc, desiredStatus: 'stop' });
  return undefined;
}

function checkUpdate(checker: Checker, update: Update): Verdict {
  if (checker.job === undefined) {
    return { code: 'stale_job', reason: `job of allocation ${update.id} no longer exists` };
  }
  const verdict = checkStop(checker, { id: update.id, nodeId: update.nodeId, reason: 'duplicate' });
  if (verdict) return verdict;
  const node = checker.usage.get(update.nodeId)?.node;
  if (node === undefined || node.status === 'down') {
    return { code: 'node_not_ready', reason: `node ${update.nodeId} is not available` };
  }
  return undefined;
}

/** A destructive update commits whole or not at all: never a stop without its successor. */
function takePair(checker: Checker, pair: DestructiveUpdate): Rejection[] {
  const stopItem: PlanItem = { kind: 'stop', stop: pair.stop };
  const placeItem: PlanItem = { kind: 'place', place: pair.place };
  const stopVerdict = checkStop(checker, pair.stop);
  if (stopVerdict) {
    const reason = `its stop of ${pair.stop.id} was rejected`;
    return [
      { item: stopItem, ...stopVerdict },
      { item: placeItem, code: 'paired_item_rejected', reason },
    ];
  }
  const alloc = checker.allocs.get(pair.stop.id)!;
  takeStop(checker, pair.stop);
  const placeVerdict = takePlacement(checker, pair.place);
  if (placeVerdict === undefined) return [];
  // Undo the stop: the old allocation keeps running and keeps what it held.
  checker.allocs.set(alloc.id, alloc);
  if (isLive(alloc)) addToNode(checker.usage, alloc.nodeId, false, alloc.resources, alloc.ports);
  const reason = `its placement ${pair.place.id} was rejected`;
  return [
    { item: stopItem, code: 'paired_item_rejected', reason },
    { item: placeItem, ...placeVerdict },
  ];
}

/** Checks a placement against the latest state and, when it fits, records its usage. */
function takePlacement(checker: Checker, place: Placement): Verdict {
  const verdict = checkPlacement(checker, place);
  if (verdict) return verdict;
  checker.placedIds.add(place.id);
  addToNode(checker.usage, place.nodeId, false, place.resources, place.ports);
  return undefined;
}

function checkPlacement(checker: Checker, place: Placement): Verdict {
  const { job } = checker;
  if (job === undefined) {
    return { code: 'stale_job', reason: `job ${place.jobId} no longer exists` };
  }
  if (checker.allocs.has(place.id) || checker.placedIds.has(place.id)) {
    return { code: 'alloc_id_taken', reason: `allocation id ${place.id} is already in use` };
  }
  const entry = checker.usage.get(place.nodeId);
  if (entry === undefined) {
    return { code: 'node_not_found', reason: `node ${place.nodeId} is not in the cluster` };
  }
  const failure = staticFailure(entry.node, job, checker.regexCache);
  if (failure === 'node_status') {
    return { code: 'node_not_ready', reason: `node ${place.nodeId} is ${entry.node.status}` };
  }
  if (failure === 'constraints') {
    return { code: 'constraints_unmet', reason: `node ${place.nodeId} fails the constraints` };
  }
  if (failure === 'volumes') {
    return { code: 'volume_missing', reason: `node ${place.nodeId} lacks a volume` };
  }
  if (!fitsResources(entry, place.resources)) {
    return { code: 'insufficient_resources', reason: `node ${place.nodeId} lacks cpu or memory` };
  }
  const ports = Object.values(place.ports);
  const conflict = ports.find((p, i) => !portFree(entry, p) || ports.indexOf(p) !== i);
  if (conflict !== undefined) {
    return { code: 'port_conflict', reason: `port ${conflict} is taken on node ${place.nodeId}` };
  }
  return undefined;
}
