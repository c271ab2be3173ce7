/**
 * Chooses a node for each new allocation of one job: filter (feasibility), rank
 * (bin-pack, with a spread penalty), assign host ports, and record usage so the next
 * choice in the same plan sees this one. Failed placements are summed into `Blocked`.
 */
import { limits } from '../../src/core/limits.ts';
import { addToNode, type ClusterUsage, type NodeUsage, portFree } from './cluster-usage.ts';
import { dynamicFailure, filterStages, type RegexCache, staticFailure } from './feasibility.ts';
import type { Blocked, BlockedReason, Placement, SchedContext, SchedJob } from './types.ts';

/** Host ports handed to allocations that ask for a port without a fixed number. */
export const dynamicPortMin = 20_000;
export const dynamicPortMax = 32_000;

/**
 * Score subtracted per allocation of the same job already on a node. Bin-pack scores lie
 * in [0, 2], so one co-located allocation outweighs any difference in packing.
 */
export const spreadPenaltyPerAlloc = 10;

export interface PlaceRequest {
  name: string;
  index: number;
  replaces?: string;
  canary?: boolean;
  /** Only this node may take it (system jobs). */
  onlyNodeId?: string;
}

export interface Placer {
  /** Places one allocation and records its usage, or records why it could not. */
  place(request: PlaceRequest): Placement | undefined;
  /** What the failed placements were missing, or undefined when all were placed. */
  blocked(): Blocked | undefined;
}

/** Hands out the computation's fresh ids in order: idOf(0), idOf(1), … */
export interface IdSource {
  next(): string;
}

export function createIdSource(ctx: SchedContext): IdSource {
  let n = 0;
  return { next: () => ctx.idOf(n++) };
}

export function createPlacer(
  job: SchedJob,
  usage: ClusterUsage,
  ctx: SchedContext,
  ids: IdSource,
  regexCache: RegexCache,
): Placer {
  const eligible: NodeUsage[] = [];
  let staticStage = -1;
  for (const entry of usage.values()) {
    const failure = staticFailure(entry.node, job, regexCache);
    if (failure === undefined) eligible.push(entry);
    else staticStage = Math.max(staticStage, filterStages.indexOf(failure));
  }
  let unplaced = 0;
  let worstStage = -1;
  return {
    place(request) {
      const candidates =
        request.onlyNodeId === undefined
          ? eligible
          : eligible.filter((e) => e.node.id === request.onlyNodeId);
      const chosen = choose(job, candidates, ctx);
      if (chosen.entry === undefined) {
        unplaced += 1;
        const stage = request.onlyNodeId === undefined ? staticStage : -1;
        worstStage = Math.max(worstStage, stage, chosen.furthestStage);
        return undefined;
      }
      const placement: Placement = {
        id: ids.next(),
        jobId: job.id,
        jobVersion: job.version,
        group: job.id,
        name: request.name,
        index: request.index,
        nodeId: chosen.entry.node.id,
        resources: { ...job.resources },
        ports: chosen.ports,
      };
      if (request.replaces !== undefined) placement.replaces = request.replaces;
      if (request.canary) placement.canary = true;
      addToNode(usage, placement.nodeId, true, placement.resources, placement.ports);
      return placement;
    },
    blocked() {
      if (unplaced === 0) return undefined;
      const reason: BlockedReason =
        usage.size === 0 ? 'no_nodes' : (filterStages[worstStage] ?? 'node_status');
      const missing: Blocked['missing'] = {
        cpuMhz: job.resources.cpuMhz * unplaced,
        memoryMb: job.resources.memoryMb * unplaced,
      };
      const staticPorts = job.ports.flatMap((p) => (p.static === undefined ? [] : [p.static]));
      if (reason === 'ports' && staticPorts.length > 0) missing.ports = staticPorts;
      return { reason, unplaced, missing };
    },
  };
}

interface Choice {
  entry?: NodeUsage;
  ports: Record<string, number>;
  /** Index in filterStages of the furthest stage a candidate failed at (-1: none). */
  furthestStage: number;
}

/** The best-ranked candidate that can take the job's resources and ports. */
function choose(job: SchedJob, candidates: readonly NodeUsage[], ctx: SchedContext): Choice {
  const excluded = new Set<NodeUsage>();
  let furthestStage = -1;
  // Each round excludes one node, so the loop ends after at most one round per candidate.
  for (let round = 0; round <= candidates.length; round++) {
    let best: NodeUsage | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const entry of candidates) {
      if (excluded.has(entry)) continue;
      const failure = dynamicFailure(entry, job);
      if (failure !== undefined) {
        furthestStage = Math.max(furthestStage, filterStages.indexOf(failure));
        continue;
      }
      const score = scoreNode(entry, job);
      // Candidates come in node-id order, so keeping the first best breaks ties by id.
      if (score > bestScore) {
        best = entry;
        bestScore = score;
      }
    }
    if (best === undefined) return { ports: {}, furthestStage };
    const ports = assignPorts(job, best, ctx);
    if (ports !== undefined) return { entry: best, ports, furthestStage };
    excluded.add(best);
    furthestStage = Math.max(furthestStage, filterStages.indexOf('ports'));
  }
  return { ports: {}, furthestStage };
}

/** Bin-pack: higher when the node ends up fuller; spread subtracts per co-located alloc. */
export function scoreNode(entry: NodeUsage, job: SchedJob): number {
  const total = entry.node.resources;
  const cpu = total.cpuMhz > 0 ? (entry.cpuMhz + job.resources.cpuMhz) / total.cpuMhz : 1;
  const mem = total.memoryMb > 0 ? (entry.memoryMb + job.resources.memoryMb) / total.memoryMb : 1;
  const siblings = job.spread ? entry.siblings : 0;
  return cpu + mem - siblings * spreadPenaltyPerAlloc;
}

/** Static ports as asked, dynamic ones drawn from the seeded PRNG; undefined when full. */
function assignPorts(
  job: SchedJob,
  entry: NodeUsage,
  ctx: SchedContext,
): Record<string, number> | undefined {
  const ports: Record<string, number> = {};
  const taken = new Set<number>();
  for (const port of job.ports) {
    if (port.static === undefined) continue;
    if (taken.has(port.static)) return undefined;
    ports[port.label] = port.static;
    taken.add(port.static);
  }
  for (const port of job.ports) {
    if (port.static !== undefined) continue;
    const chosen = drawDynamicPort(entry, taken, ctx);
    if (chosen === undefined) return undefined;
    ports[port.label] = chosen;
    taken.add(chosen);
  }
  return ports;
}

function drawDynamicPort(
  entry: NodeUsage,
  taken: ReadonlySet<number>,
  ctx: SchedContext,
): number | undefined {
  const free = (port: number) => portFree(entry, port) && !taken.has(port);
  for (let attempt = 0; attempt < limits.schedulerPortDrawsMax; attempt++) {
    const port = ctx.prng.int(dynamicPortMin, dynamicPortMax + 1);
    if (free(port)) return port;
  }
  // A nearly full range: scan once from a random start instead of drawing forever.
  const span = dynamicPortMax - dynamicPortMin + 1;
  const start = ctx.prng.int(0, span);
  for (let i = 0; i < span; i++) {
    const port = dynamicPortMin + ((start + i) % span);
    if (free(port)) return port;
  }
  return undefined;
}
