/**
 * The state machine's decisions, as pure functions of the current rows and the entry.
 * Apply (src/state/) reads the rows, asks these functions, and either writes or records
 * the entry as a rejected no-op. Nothing here reads the clock: time is the entry's `atMs`.
 *
 * Rejections are values with a stable code, never throws: a committed entry must apply
 * the same way on every node, and a throw would stop the consumer on all of them.
 */
import type { z } from 'zod';
import type {
  AllocationStatus,
  DeploymentStatus,
  EvaluationStatus,
  NodeRole,
  StateCommand,
} from './commands.ts';

/** Why an entry was applied as a no-op; stable, for callers and tests to branch on. */
export type RejectCode =
  | 'node_unknown'
  | 'job_unknown'
  | 'job_version_conflict'
  | 'job_version_unknown'
  | 'allocation_unknown'
  | 'allocation_exists'
  | 'allocation_job_mismatch'
  | 'allocation_terminal'
  | 'allocation_transition_invalid'
  | 'deployment_unknown'
  | 'deployment_exists'
  | 'deployment_terminal'
  | 'evaluation_unknown'
  | 'evaluation_exists'
  | 'evaluation_terminal'
  | 'secret_unknown'
  | 'token_exists'
  | 'token_unknown'
  | 'token_revoked'
  | 'join_token_exists'
  | 'join_token_unknown'
  | 'join_token_used'
  | 'join_token_expired'
  | 'acme_challenges_full'
  | 'certificate_invalid'
  | 'certificate_unknown';

export type Verdict = { ok: true } | { ok: false; code: RejectCode; reason: string };

const accepted: Verdict = { ok: true };

function reject(code: RejectCode, reason: string): Verdict {
  return { ok: false, code, reason };
}

type AllocStatus = z.infer<typeof AllocationStatus>;
type DeployStatus = z.infer<typeof DeploymentStatus>;
type EvalStatus = z.infer<typeof EvaluationStatus>;

/** Allocation statuses an allocation never leaves: a new allocation replaces it. */
export const terminalAllocationStatuses: readonly AllocStatus[] = ['failed', 'complete', 'lost'];
export const terminalDeploymentStatuses: readonly DeployStatus[] = [
  'successful',
  'failed',
  'cancelled',
];
export const terminalEvaluationStatuses: readonly EvalStatus[] = [
  'complete',
  'failed',
  'cancelled',
];

/**
 * An allocation's client status may move forward freely among the live statuses and into
 * a terminal one, but never out of a terminal one (a supervisor that restarts a failed
 * container proposes a new allocation via the scheduler, not a resurrection) and never
 * back to `pending`. Repeating the current status is allowed: it only refreshes detail.
 */
export function decideAllocationStatus(
  id: string,
  current: AllocStatus | undefined,
  next: AllocStatus,
): Verdict {
  if (current === undefined) return reject('allocation_unknown', `allocation ${id} is unknown`);
  if (current === next) return accepted;
  if (terminalAllocationStatuses.includes(current)) {
    return reject(
      'allocation_terminal',
      `allocation ${id} is ${current}; it cannot become ${next}`,
    );
  }
  if (next === 'pending') {
    return reject('allocation_transition_invalid', `allocation ${id} cannot go back to pending`);
  }
  return accepted;
}

/** Deployments: running ⇄ paused, then one terminal status that sticks. */
export function decideDeploymentStatus(
  id: string,
  current: DeployStatus | undefined,
  next: DeployStatus,
): Verdict {
  if (current === undefined) return reject('deployment_unknown', `deployment ${id} is unknown`);
  if (current === next) return accepted;
  if (terminalDeploymentStatuses.includes(current)) {
    return reject(
      'deployment_terminal',
      `deployment ${id} is ${current}; it cannot become ${next}`,
    );
  }
  return accepted;
}

/** Evaluations: pending ⇄ blocked, then one terminal status that sticks. */
export function decideEvaluationStatus(
  id: string,
  current: EvalStatus | undefined,
  next: EvalStatus,
): Verdict {
  if (current === undefined) return reject('evaluation_unknown', `evaluation ${id} is unknown`);
  if (current === next) return accepted;
  if (terminalEvaluationStatuses.includes(current)) {
    return reject(
      'evaluation_terminal',
      `evaluation ${id} is ${current}; it cannot become ${next}`,
    );
  }
  return accepted;
}

/**
 * The version a job submission gets: previous + 1, starting at 1. With `expectedVersion`
 * the submission only applies on top of that exact version (0 = the job must not exist).
 */
export function decideJobVersion(
  id: string,
  currentVersion: number | undefined,
  expectedVersion: number | undefined,
): { ok: true; version: number } | (Verdict & { ok: false }) {
  const current = currentVersion ?? 0;
  if (expectedVersion !== undefined && expectedVersion !== current) {
    return {
      ok: false,
      code: 'job_version_conflict',
      reason: `job ${id} is at version ${current}, the submission expected ${expectedVersion}`,
    };
  }
  return { ok: true, version: current + 1 };
}

/** A join token as apply reads it back. */
export interface JoinTokenRow {
  role: z.infer<typeof NodeRole>;
  expiresAtMs: number;
  usedAtMs: number | null;
}

/**
 * A join token admits one node, once, before it expires. Expiry is judged at the time
 * the leader stamped into the entry, so every node decides the same way however late it
 * applies the entry. A token expires at `expiresAtMs` exactly (the bound is exclusive).
 */
export function decideJoinTokenUse(
  id: string,
  token: JoinTokenRow | undefined,
  atMs: number,
): Verdict {
  if (token === undefined) return reject('join_token_unknown', `join token ${id} is unknown`);
  if (token.usedAtMs !== null) {
    return reject('join_token_used', `join token ${id} was already used`);
  }
  if (atMs >= token.expiresAtMs) {
    return reject('join_token_expired', `join token ${id} expired at ${token.expiresAtMs}`);
  }
  return accepted;
}

/** A token can be revoked once; revoking an unknown or revoked token is a no-op. */
export function decideTokenRevoke(
  id: string,
  token: { revokedAtMs: number | null } | undefined,
): Verdict {
  if (token === undefined) return reject('token_unknown', `token ${id} is unknown`);
  if (token.revokedAtMs !== null) return reject('token_revoked', `token ${id} is already revoked`);
  return accepted;
}

/** What checking a plan needs to know about the current state. */
export interface PlanLookups {
  jobVersion(jobId: string): number | undefined;
  nodeExists(nodeId: string): boolean;
  /** The job an existing allocation belongs to, or undefined for an unknown id. */
  allocationJob(allocId: string): string | undefined;
  deploymentExists(deploymentId: string): boolean;
}

/**
 * A plan applies entirely or not at all. The leader's plan applier already re-checked it
 * against the latest state; this check only guards against a plan that raced with another
 * committed entry (a node removed, a job resubmitted) and keeps apply total.
 */
export function decidePlan(plan: StateCommand<'plan_committed'>, state: PlanLookups): Verdict {
  const jobVersion = state.jobVersion(plan.jobId);
  if (jobVersion === undefined) return reject('job_unknown', `job ${plan.jobId} is unknown`);
  const versions = [plan.jobVersion, ...plan.update.map((u) => u.jobVersion)];
  const future = versions.find((v) => v > jobVersion);
  if (future !== undefined) {
    return reject('job_version_unknown', `job ${plan.jobId} has no version ${future}`);
  }
  if (plan.deployment && state.deploymentExists(plan.deployment.id)) {
    return reject('deployment_exists', `deployment ${plan.deployment.id} already exists`);
  }
  for (const place of plan.place) {
    if (state.allocationJob(place.id) !== undefined) {
      return reject('allocation_exists', `allocation ${place.id} already exists`);
    }
    if (!state.nodeExists(place.nodeId)) {
      return reject('node_unknown', `node ${place.nodeId} is unknown`);
    }
  }
  for (const { id } of [...plan.stop, ...plan.update]) {
    const owner = state.allocationJob(id);
    if (owner === undefined) return reject('allocation_unknown', `allocation ${id} is unknown`);
    if (owner !== plan.jobId) {
      return reject('allocation_job_mismatch', `allocation ${id} belongs to job ${owner}`);
    }
  }
  return accepted;
}
