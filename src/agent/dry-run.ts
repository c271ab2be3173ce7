/**
 * `berth plan`'s server side: runs the pure scheduler on the latest snapshot with the
 * candidate spec in place of the job's current version, and reports the buckets —
 * what would be placed, stopped, updated in place or replaced — without proposing.
 */
import { randomUUID } from 'node:crypto';
import { compute } from '../../actors/scheduler/index.ts';
import { canonicalJson } from '../../actors/state/canonical-json.ts';
import type { JobPlanView } from '../api/cluster-service.ts';
import { createPrng } from '../core/prng.ts';
import type { Job } from '../spec/normalize.ts';
import * as q from '../state/queries.ts';
import { buildSnapshot, schedJobOf } from './sched-snapshot.ts';

export function dryRun(db: q.StateReader, index: number, spec: Job): JobPlanView {
  const snapshot = buildSnapshot(db, index);
  const current = q.getJob(db, spec.name);
  const unchanged =
    current?.status === 'running' && canonicalJson(current.spec) === canonicalJson(spec);
  const changed = !unchanged;
  const version = current && unchanged ? current.version : (current?.version ?? 0) + 1;
  const candidate = schedJobOf(spec, version, 'running');
  const jobs = snapshot.jobs.filter((j) => j.id !== spec.name);
  const jobVersions = [
    ...(snapshot.jobVersions ?? []),
    ...snapshot.jobs.filter((j) => j.id === spec.name),
  ];
  const evalId = randomUUID();
  const plan = compute(
    { ...snapshot, jobs: [...jobs, candidate], jobVersions },
    { id: evalId, jobId: spec.name, triggeredBy: 'job-register' },
    { prng: createPrng(1), idOf: (n) => `dry-${n}`, nowMs: Date.now() },
  );
  return {
    job: spec.name,
    version,
    changed,
    place: plan.place.map((p) => ({ name: p.name, node: p.nodeId })),
    stop: plan.stop.map((s) => ({ id: s.id, node: s.nodeId, reason: s.reason })),
    inPlaceUpdate: plan.inPlaceUpdate.map((u) => ({ id: u.id, node: u.nodeId })),
    destructiveUpdate: plan.destructiveUpdate.map((d) => ({
      stop: d.stop.id,
      place: { name: d.place.name, node: d.place.nodeId },
    })),
    ...(plan.blocked
      ? { blocked: { reason: plan.blocked.reason, unplaced: plan.blocked.unplaced } }
      : {}),
  };
}
