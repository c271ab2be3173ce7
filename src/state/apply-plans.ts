/**
 * Applying plans and the status reports that follow them: allocations and deployments
 * (inside the consumer's transaction).
 */
import { eq } from 'drizzle-orm';
import { canonicalJson } from '../../actors/state/canonical-json.ts';
import type { StateEntry } from '../../actors/state/commands.ts';
import {
  decideAllocationStatus,
  decideDeploymentStatus,
  decidePlan,
  type PlanLookups,
  terminalDeploymentStatuses,
  type Verdict,
} from '../../actors/state/rules.ts';
import type { StateTx } from '../mailbox/log-consumer.ts';
import { allocations, deployments, jobs, nodes } from '../storage/state-schema.ts';

const accepted: Verdict = { ok: true };

/** Applies a committed plan entirely, or rejects it entirely (see decidePlan). */
export function applyPlanCommitted(tx: StateTx, entry: StateEntry<'plan_committed'>): Verdict {
  const plan = entry.data;
  const verdict = decidePlan(plan, planLookups(tx));
  if (!verdict.ok) return verdict;
  const deploymentId = plan.deployment?.id ?? null;
  if (plan.deployment) {
    tx.insert(deployments)
      .values({
        id: plan.deployment.id,
        jobId: plan.jobId,
        jobVersion: plan.jobVersion,
        status: 'running',
        detail: '',
        createdAtMs: plan.atMs,
        modifiedAtMs: plan.atMs,
        modifyIndex: entry.index,
      })
      .run();
  }
  const stamp = { modifiedAtMs: plan.atMs, modifyIndex: entry.index };
  for (const place of plan.place) {
    tx.insert(allocations)
      .values({
        id: place.id,
        evalId: plan.evalId,
        jobId: plan.jobId,
        jobVersion: plan.jobVersion,
        groupName: place.group,
        name: place.name,
        nodeId: place.nodeId,
        deploymentId,
        cpuMhz: place.resources.cpuMhz,
        memoryMb: place.resources.memoryMb,
        ports: canonicalJson(place.ports),
        desiredStatus: 'run',
        desiredReason: '',
        clientStatus: 'pending',
        clientDetail: '',
        createdAtMs: plan.atMs,
        createIndex: entry.index,
        ...stamp,
      })
      .run();
  }
  for (const stop of plan.stop) {
    // An allocation stopped because its node is down can no longer report: it is lost
    // (Nomad's term), which also tells its node's supervisor, when it returns, to kill it.
    const lost =
      stop.reason === 'node_lost'
        ? { clientStatus: 'lost' as const, clientDetail: 'node down' }
        : {};
    tx.update(allocations)
      .set({ desiredStatus: 'stop', desiredReason: stop.reason, ...lost, ...stamp })
      .where(eq(allocations.id, stop.id))
      .run();
  }
  for (const update of plan.update) {
    // An in-place update joins the plan's deployment when it opens one.
    const joined = deploymentId === null ? {} : { deploymentId };
    tx.update(allocations)
      .set({ jobVersion: update.jobVersion, evalId: plan.evalId, ...joined, ...stamp })
      .where(eq(allocations.id, update.id))
      .run();
  }
  return accepted;
}

function planLookups(tx: StateTx): PlanLookups {
  return {
    jobVersion: (jobId) =>
      tx.select({ version: jobs.version }).from(jobs).where(eq(jobs.id, jobId)).get()?.version,
    nodeExists: (nodeId) =>
      tx.select({ id: nodes.id }).from(nodes).where(eq(nodes.id, nodeId)).get() !== undefined,
    allocationJob: (allocId) =>
      tx
        .select({ jobId: allocations.jobId })
        .from(allocations)
        .where(eq(allocations.id, allocId))
        .get()?.jobId,
    deploymentExists: (id) =>
      tx.select({ id: deployments.id }).from(deployments).where(eq(deployments.id, id)).get() !==
      undefined,
  };
}

export function applyAllocationStatus(
  tx: StateTx,
  entry: StateEntry<'allocation_status'>,
): Verdict {
  const { id, status, detail, atMs } = entry.data;
  const current = tx
    .select({ status: allocations.clientStatus })
    .from(allocations)
    .where(eq(allocations.id, id))
    .get();
  const verdict = decideAllocationStatus(id, current?.status, status);
  if (!verdict.ok) return verdict;
  tx.update(allocations)
    .set({
      clientStatus: status,
      clientDetail: detail,
      modifiedAtMs: atMs,
      modifyIndex: entry.index,
    })
    .where(eq(allocations.id, id))
    .run();
  return accepted;
}

export function applyDeploymentStatus(
  tx: StateTx,
  entry: StateEntry<'deployment_status'>,
): Verdict {
  const { id, status, detail, atMs } = entry.data;
  const current = tx
    .select({ status: deployments.status })
    .from(deployments)
    .where(eq(deployments.id, id))
    .get();
  const verdict = decideDeploymentStatus(id, current?.status, status);
  if (!verdict.ok) return verdict;
  tx.update(deployments)
    .set({ status, detail, modifiedAtMs: atMs, modifyIndex: entry.index })
    .where(eq(deployments.id, id))
    .run();
  return accepted;
}

/**
 * Promotes a running (or paused) deployment's canaries. An unknown or finished deployment
 * is a rejected no-op: promoting it would change nothing the scheduler reads, and the
 * proposer learns why from the code.
 */
export function applyDeploymentPromoted(
  tx: StateTx,
  entry: StateEntry<'deployment_promoted'>,
): Verdict {
  const { id, atMs } = entry.data;
  const current = tx
    .select({ status: deployments.status })
    .from(deployments)
    .where(eq(deployments.id, id))
    .get();
  if (current === undefined) {
    return { ok: false, code: 'deployment_unknown', reason: `deployment ${id} is unknown` };
  }
  if (terminalDeploymentStatuses.includes(current.status)) {
    return {
      ok: false,
      code: 'deployment_terminal',
      reason: `deployment ${id} is ${current.status}; it cannot be promoted`,
    };
  }
  tx.update(deployments)
    .set({ promoted: true, modifiedAtMs: atMs, modifyIndex: entry.index })
    .where(eq(deployments.id, id))
    .run();
  return accepted;
}
