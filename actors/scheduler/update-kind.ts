/**
 * In-place or destructive: whether an allocation of an older job version can keep its
 * container under the new version (Nomad's tasksUpdated). Anything the container was
 * created from — image, command, env, resources, ports, volumes — needs a new container;
 * so does a node that no longer satisfies the job.
 */
import { type RegexCache, staticFailure } from './feasibility.ts';
import type { SchedAllocation, SchedJob, SchedNode, SchedTask } from './types.ts';

export function canUpdateInPlace(
  job: SchedJob,
  previous: SchedJob | undefined,
  alloc: SchedAllocation,
  node: SchedNode | undefined,
  regexCache: RegexCache,
): boolean {
  if (node === undefined || staticFailure(node, job, regexCache) !== undefined) return false;
  if (alloc.resources.cpuMhz !== job.resources.cpuMhz) return false;
  if (alloc.resources.memoryMb !== job.resources.memoryMb) return false;
  if (!portsMatch(job, alloc)) return false;
  if (previous === undefined) {
    // The old version was pruned: only a job that does not describe its task is safe to keep.
    return job.task === undefined;
  }
  return sameList(previous.volumes, job.volumes) && sameTask(previous.task, job.task);
}

function portsMatch(job: SchedJob, alloc: SchedAllocation): boolean {
  const labels = Object.keys(alloc.ports);
  if (labels.length !== job.ports.length) return false;
  return job.ports.every((port) => {
    const held = alloc.ports[port.label];
    return held !== undefined && (port.static === undefined || port.static === held);
  });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameTask(a: SchedTask | undefined, b: SchedTask | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.image !== b.image) return false;
  if (!sameList(a.command ?? [], b.command ?? [])) return false;
  const envA = Object.entries(a.env ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const envB = Object.entries(b.env ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return (
    envA.length === envB.length &&
    envA.every(([k, v], i) => envB[i]?.[0] === k && envB[i]?.[1] === v)
  );
}
