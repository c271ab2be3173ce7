/**
 * Applying job and evaluation commands (inside the consumer's transaction).
 */
import { and, eq, lte } from 'drizzle-orm';
import { canonicalJson } from '../../actors/state/canonical-json.ts';
import { defaultMaintenanceMessage, type StateEntry } from '../../actors/state/commands.ts';
import {
  decideEvaluationStatus,
  decideJobVersion,
  type Verdict,
} from '../../actors/state/rules.ts';
import { limits } from '../core/limits.ts';
import type { StateTx } from '../mailbox/log-consumer.ts';
import { evaluations, jobs, jobVersions } from '../storage/state-schema.ts';

const accepted: Verdict = { ok: true };

/**
 * Stores a new version of a job (previous + 1) and makes it current; a stopped job that is
 * submitted again runs again. Only the newest limits.stateJobVersionsKeptMax versions are
 * kept, so a job resubmitted forever does not grow the state without bound.
 */
export function applyJobRegistered(tx: StateTx, entry: StateEntry<'job_registered'>): Verdict {
  const { id, spec, expectedVersion, atMs } = entry.data;
  const current = tx.select({ version: jobs.version }).from(jobs).where(eq(jobs.id, id)).get();
  const decision = decideJobVersion(id, current?.version, expectedVersion);
  if (!decision.ok) return decision;
  const { version } = decision;
  const row = {
    version,
    status: 'running' as const,
    submittedAtMs: atMs,
    modifyIndex: entry.index,
  };
  tx.insert(jobs)
    .values({ id, ...row })
    .onConflictDoUpdate({ target: jobs.id, set: row })
    .run();
  tx.insert(jobVersions)
    .values({
      jobId: id,
      version,
      spec: canonicalJson(spec),
      submittedAtMs: atMs,
      logIndex: entry.index,
    })
    .run();
  const oldestKept = version - limits.stateJobVersionsKeptMax + 1;
  tx.delete(jobVersions)
    .where(and(eq(jobVersions.jobId, id), lte(jobVersions.version, oldestKept - 1)))
    .run();
  return accepted;
}

/**
 * Marks a job stopped. Its allocations are stopped by the scheduler's next plan, not
 * here: stopping is a placement decision (drain order, update policy) and belongs there.
 */
export function applyJobStopped(tx: StateTx, entry: StateEntry<'job_stopped'>): Verdict {
  const { id } = entry.data;
  const job = tx.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, id)).get();
  if (!job) return { ok: false, code: 'job_unknown', reason: `job ${id} is unknown` };
  tx.update(jobs).set({ status: 'stopped', modifyIndex: entry.index }).where(eq(jobs.id, id)).run();
  return accepted;
}

/**
 * Puts a job in maintenance (its routes answer 503 with the message) or takes it out. The
 * state survives a new version of the job: an operator who deploys a fix during
 * maintenance ends it explicitly, as with `kamal app maintenance` / `live`.
 */
export function applyJobMaintenance(tx: StateTx, entry: StateEntry<'job_maintenance'>): Verdict {
  const { id, enabled, message } = entry.data;
  const job = tx.select({ id: jobs.id }).from(jobs).where(eq(jobs.id, id)).get();
  if (!job) return { ok: false, code: 'job_unknown', reason: `job ${id} is unknown` };
  // The schema bounds the message at append time; a message cut here could only come from
  // a log written under a larger limit, and every node cuts it the same way.
  const maintenanceMessage = enabled
    ? (message ?? defaultMaintenanceMessage).slice(0, limits.stateMaintenanceMessageLengthMax)
    : null;
  tx.update(jobs)
    .set({ maintenanceMessage, modifyIndex: entry.index })
    .where(eq(jobs.id, id))
    .run();
  return accepted;
}

export function applyEvaluationCreated(
  tx: StateTx,
  entry: StateEntry<'evaluation_created'>,
): Verdict {
  const { id, jobId, triggeredBy, priority, nodeId, atMs } = entry.data;
  const existing = tx
    .select({ id: evaluations.id })
    .from(evaluations)
    .where(eq(evaluations.id, id))
    .get();
  if (existing) return { ok: false, code: 'evaluation_exists', reason: `evaluation ${id} exists` };
  tx.insert(evaluations)
    .values({
      id,
      jobId,
      triggeredBy,
      priority,
      nodeId: nodeId ?? null,
      status: 'pending',
      detail: '',
      createdAtMs: atMs,
      modifiedAtMs: atMs,
      modifyIndex: entry.index,
    })
    .run();
  return accepted;
}

export function applyEvaluationUpdated(
  tx: StateTx,
  entry: StateEntry<'evaluation_updated'>,
): Verdict {
  const { id, status, detail, atMs } = entry.data;
  const current = tx
    .select({ status: evaluations.status })
    .from(evaluations)
    .where(eq(evaluations.id, id))
    .get();
  const verdict = decideEvaluationStatus(id, current?.status, status);
  if (!verdict.ok) return verdict;
  tx.update(evaluations)
    .set({ status, detail, modifiedAtMs: atMs, modifyIndex: entry.index })
    .where(eq(evaluations.id, id))
    .run();
  return accepted;
}
