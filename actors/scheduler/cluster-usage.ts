/**
 * What each node has committed: cpu, memory and host ports of its live allocations, and
 * how many allocations of the job being placed it holds (for spread). Built from a
 * snapshot, then adjusted as a plan stops and places allocations, so later choices in the
 * same plan see earlier ones.
 */
import { assert } from '../../src/core/assert.ts';
import type {
  ClientStatus,
  SchedAllocation,
  SchedNode,
  SchedResources,
  Snapshot,
} from './types.ts';

/** An allocation that holds resources: desired to run and not finished on its node. */
export function isLive(alloc: SchedAllocation): boolean {
  if (alloc.desiredStatus !== 'run') return false;
  const status: ClientStatus = alloc.clientStatus;
  return (
    status === 'pending' || status === 'running' || status === 'healthy' || status === 'unhealthy'
  );
}

export interface NodeUsage {
  node: SchedNode;
  cpuMhz: number;
  memoryMb: number;
  /**
   * Port maps of the allocations counted so far, folded into `heldPorts` only when a port
   * question is first asked: most nodes are never asked, and indexing every node's ports
   * on every evaluation was the largest cost at 10,000 allocations.
   */
  pendingPorts: Readonly<Record<string, number>>[];
  /**
   * Host ports held by allocations, one entry per holder (see `pendingPorts`). A plain
   * array: a node holds tens of ports, where a linear scan beats building a hash map.
   */
  heldPorts: number[];
  reservedPorts: ReadonlySet<number>;
  /** Live allocations of the job being placed on this node (for spread). */
  siblings: number;
}

/** Usage by node id, in node-id order (a Map keeps insertion order). */
export type ClusterUsage = Map<string, NodeUsage>;

/**
 * One pass over the snapshot's allocations: the scheduler's main fixed cost per
 * evaluation, so it counts siblings for the one job being placed (`jobId`) only, does no
 * per-allocation allocation beyond an array slot, and can be limited to some nodes.
 */
export function buildUsage(
  snapshot: Snapshot,
  jobId = '',
  onlyNodeIds?: ReadonlySet<string>,
): ClusterUsage {
  const usage: ClusterUsage = new Map();
  const nodes = [...snapshot.nodes].sort((a, b) => compareIds(a.id, b.id));
  for (const node of nodes) {
    if (onlyNodeIds !== undefined && !onlyNodeIds.has(node.id)) continue;
    usage.set(node.id, {
      node,
      cpuMhz: 0,
      memoryMb: 0,
      pendingPorts: [],
      heldPorts: [],
      reservedPorts: new Set(node.reservedPorts ?? []),
      siblings: 0,
    });
  }
  for (const alloc of snapshot.allocations) {
    if (isLive(alloc)) {
      addToNode(usage, alloc.nodeId, alloc.jobId === jobId, alloc.resources, alloc.ports);
    }
  }
  return usage;
}

/** Counts an allocation against its node; allocations on unknown nodes hold nothing. */
export function addToNode(
  usage: ClusterUsage,
  nodeId: string,
  sibling: boolean,
  resources: SchedResources,
  ports: Readonly<Record<string, number>>,
): void {
  const entry = usage.get(nodeId);
  if (!entry) return;
  entry.cpuMhz += resources.cpuMhz;
  entry.memoryMb += resources.memoryMb;
  entry.pendingPorts.push(ports);
  if (sibling) entry.siblings += 1;
}

/** The inverse of addToNode, for an allocation the plan stops. */
export function removeFromNode(
  usage: ClusterUsage,
  nodeId: string,
  sibling: boolean,
  resources: SchedResources,
  ports: Readonly<Record<string, number>>,
): void {
  const entry = usage.get(nodeId);
  if (!entry) return;
  entry.cpuMhz -= resources.cpuMhz;
  entry.memoryMb -= resources.memoryMb;
  assert(entry.cpuMhz >= 0 && entry.memoryMb >= 0, `usage of node ${nodeId} went negative`);
  const held = portIndex(entry);
  for (const label in ports) {
    const at = held.indexOf(ports[label]!);
    assert(at >= 0, `port ${ports[label]} released twice on node ${nodeId}`);
    held[at] = held[held.length - 1]!;
    held.pop();
  }
  if (sibling) {
    assert(entry.siblings > 0, `sibling released twice on node ${nodeId}`);
    entry.siblings -= 1;
  }
}

function portIndex(entry: NodeUsage): number[] {
  if (entry.pendingPorts.length > 0) {
    for (const ports of entry.pendingPorts) {
      for (const label in ports) entry.heldPorts.push(ports[label]!);
    }
    entry.pendingPorts = [];
  }
  return entry.heldPorts;
}

export function portFree(entry: NodeUsage, port: number): boolean {
  return !entry.reservedPorts.has(port) && !portIndex(entry).includes(port);
}

export function fitsResources(entry: NodeUsage, need: SchedResources): boolean {
  const total = entry.node.resources;
  return (
    entry.cpuMhz + need.cpuMhz <= total.cpuMhz && entry.memoryMb + need.memoryMb <= total.memoryMb
  );
}

/** Plain code-unit order, so every node sorts ids the same way whatever its locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
