/**
 * Node feasibility for one job: the checks that do not change while a plan is built
 * (status, constraints, volume pins) and the ones that do (resources, static ports).
 * Each check names the stage that failed, so a blocked evaluation can say why.
 */
import { fitsResources, type NodeUsage, portFree } from './cluster-usage.ts';
import type { BlockedReason, SchedConstraint, SchedJob, SchedNode } from './types.ts';

/** Filter stages in the order they run; a later stage means a node came closer to fitting. */
export const filterStages: readonly BlockedReason[] = [
  'node_status',
  'constraints',
  'volumes',
  'resources',
  'ports',
];

/** Regexes compiled once per computation; an invalid pattern never matches. */
export type RegexCache = Map<string, RegExp | null>;

function nodeAttribute(node: SchedNode, attribute: string): string | undefined {
  switch (attribute) {
    case 'node.id':
      return node.id;
    case 'node.name':
      return node.name;
    case 'node.role':
      return node.role;
    default: {
      const key = attribute.startsWith('label.') ? attribute.slice('label.'.length) : attribute;
      return Object.hasOwn(node.labels, key) ? node.labels[key] : undefined;
    }
  }
}

function valueList(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? value.split(',').map((v) => v.trim()) : value;
}

function compiled(cache: RegexCache, pattern: string): RegExp | null {
  if (!cache.has(pattern)) {
    let regex: RegExp | null;
    try {
      regex = new RegExp(pattern);
    } catch {
      // The spec parser rejects bad patterns; one that slips through must not place anything.
      regex = null;
    }
    cache.set(pattern, regex);
  }
  return cache.get(pattern) ?? null;
}

/** Whether a node satisfies one constraint. A missing attribute only satisfies negations. */
export function constraintHolds(
  node: SchedNode,
  constraint: SchedConstraint,
  cache: RegexCache,
): boolean {
  const actual = nodeAttribute(node, constraint.attribute);
  const { operator, value } = constraint;
  switch (operator) {
    case '=':
      return actual !== undefined && actual === (typeof value === 'string' ? value : value[0]);
    case '!=':
      return actual === undefined || actual !== (typeof value === 'string' ? value : value[0]);
    case 'in':
      return actual !== undefined && valueList(value).includes(actual);
    case 'not_in':
      return actual === undefined || !valueList(value).includes(actual);
    case 'regex': {
      const pattern = typeof value === 'string' ? value : (value[0] ?? '');
      const regex = compiled(cache, pattern);
      return actual !== undefined && (regex?.test(actual) ?? false);
    }
  }
}

/**
 * The stage at which a node fails the checks that hold for a whole plan, or undefined
 * when it passes them. Draining nodes take no new allocations.
 */
export function staticFailure(
  node: SchedNode,
  job: SchedJob,
  cache: RegexCache,
): BlockedReason | undefined {
  if (node.status !== 'up') return 'node_status';
  if (!job.constraints.every((c) => constraintHolds(node, c, cache))) return 'constraints';
  if (!job.volumes.every((v) => node.volumes.includes(v))) return 'volumes';
  return undefined;
}

/** The stage at which a node that passed staticFailure cannot take one more allocation. */
export function dynamicFailure(entry: NodeUsage, job: SchedJob): BlockedReason | undefined {
  if (!fitsResources(entry, job.resources)) return 'resources';
  for (const port of job.ports) {
    if (port.static !== undefined && !portFree(entry, port.static)) return 'ports';
  }
  return undefined;
}
