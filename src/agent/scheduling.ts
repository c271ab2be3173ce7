/**
 * The leader's scheduling loop and deployment watcher (DESIGN.md §4 steps 3 and 5).
 *
 * Scheduling is level-triggered: each round takes a snapshot of the state, runs the pure
 * scheduler for every job, re-checks each non-empty plan against the latest state (the
 * single plan applier, which may commit a plan partly) and proposes `plan_committed`. A
 * job that could not be placed is simply evaluated again next round, so a blocked job is
 * unblocked as soon as a node joins or capacity frees — no evaluation is ever lost,
 * including across a leader change (the new leader's first round re-derives everything).
 *
 * The watcher judges running deployments: successful once every allocation of the new
 * version has been healthy for `min_healthy_time`; failed when one fails, or is not
 * healthy by `healthy_deadline`. A failed deployment with `auto_revert` re-registers the
 * last good version's spec as a new version — the scheduler then updates the surviving
 * old allocations in place and replaces the failed ones.
 */
import { randomUUID } from 'node:crypto';
import {
  applyPlan,
  compute,
  planIsEmpty,
  shouldAutoPromote,
  toPlanCommitted,
} from '../../actors/scheduler/index.ts';
import type { Logger } from '../core/logger.ts';
import { createPrng } from '../core/prng.ts';
import type { RaftHost } from '../raft/raft-host.ts';
import type { Job } from '../spec/normalize.ts';
import * as q from '../state/queries.ts';
import type { RaftClusterService } from './raft-cluster-service.ts';
import { buildSnapshot } from './sched-snapshot.ts';
import type { StateHost } from './state-host.ts';

/** Plans one job may need before a round moves on (placement, then the next rolling step). */
const plansPerJobRoundMax = 4;

export class Scheduling {
  readonly #raft: RaftHost;
  readonly #state: StateHost;
  readonly #service: RaftClusterService;
  readonly #logger: Logger;
  readonly #prng = createPrng(Date.now() >>> 0);
  readonly #blocked = new Map<string, string>();

  constructor(options: {
    raft: RaftHost;
    state: StateHost;
    service: RaftClusterService;
    logger: Logger;
  }) {
    this.#raft = options.raft;
    this.#state = options.state;
    this.#service = options.service;
    this.#logger = options.logger.child({ actor: 'scheduler' });
  }

  /** Why each job could not be fully placed in the last round (for status output). */
  blocked(): ReadonlyMap<string, string> {
    return this.#blocked;
  }

  /** One round: every job, then every running deployment. Leader only. */
  async round(): Promise<void> {
    if (this.#raft.status().role !== 'leader') return;
    for (const job of q.listJobs(this.#state.db)) {
      for (let i = 0; i < plansPerJobRoundMax; i++) {
        if (!(await this.#scheduleJob(job.id))) break;
      }
    }
    await this.#watchDeployments();
  }

  /** Computes, re-checks and commits one plan; true when something was committed. */
  async #scheduleJob(jobId: string): Promise<boolean> {
    const snapshot = buildSnapshot(this.#state.db, this.#state.appliedIndex());
    const evalId = randomUUID();
    const plan = compute(
      snapshot,
      { id: evalId, jobId, triggeredBy: 'periodic' },
      { prng: this.#prng, idOf: (n) => `${evalId.slice(0, 8)}-${n}`, nowMs: Date.now() },
    );
    this.#noteBlocked(
      jobId,
      plan.blocked ? `${plan.blocked.reason}: ${plan.blocked.unplaced} unplaced` : undefined,
    );
    if (planIsEmpty(plan)) return false;
    const latest = buildSnapshot(this.#state.db, this.#state.appliedIndex());
    const { committed, rejected } = applyPlan(latest, plan);
    for (const r of rejected)
      this.#logger.info('plan item rejected', { job: jobId, code: r.code, reason: r.reason });
    if (planIsEmpty(committed)) return false;
    await this.#service.proposeState('plan_committed', toPlanCommitted(committed, Date.now()));
    this.#logger.info('plan committed', {
      job: jobId,
      version: committed.jobVersion,
      place: committed.place.length + committed.destructiveUpdate.length,
      stop: committed.stop.length + committed.destructiveUpdate.length,
      inPlace: committed.inPlaceUpdate.length,
    });
    return true;
  }

  #noteBlocked(jobId: string, reason: string | undefined): void {
    if (this.#blocked.get(jobId) === reason) return;
    if (reason === undefined) this.#blocked.delete(jobId);
    else {
      this.#blocked.set(jobId, reason);
      this.#logger.warn('job blocked: not enough capacity or no eligible node', {
        job: jobId,
        reason,
      });
    }
  }

  async #watchDeployments(): Promise<void> {
    const nowMs = Date.now();
    for (const d of q.listDeployments(this.#state.db)) {
      if (d.status !== 'running') continue;
      const job = q.getJob(this.#state.db, d.jobId);
      if (!job) continue;
      if (job.version !== d.jobVersion) {
        await this.#setDeployment(d.id, 'cancelled', `superseded by version ${job.version}`);
        continue;
      }
      const spec = job.spec as unknown as Job;
      const allocs = q.listAllocations(this.#state.db, { jobId: d.jobId });
      if (shouldAutoPromote(spec, d, allocs, nowMs)) {
        await this.#service.proposeState('deployment_promoted', { id: d.id });
        this.#logger.info('canaries healthy: deployment promoted', { deployment: d.id });
        continue;
      }
      const verdict = judgeDeployment(
        job.spec as unknown as Job,
        d,
        q.listAllocations(this.#state.db, { jobId: d.jobId }),
        nowMs,
      );
      if (verdict.status === 'running') continue;
      await this.#setDeployment(d.id, verdict.status, verdict.detail);
      if (verdict.status === 'failed' && (job.spec as unknown as Job).update.autoRevert)
        await this.#revert(d.jobId, d.jobVersion);
    }
  }

  async #setDeployment(
    id: string,
    status: 'successful' | 'failed' | 'cancelled',
    detail: string,
  ): Promise<void> {
    await this.#service.proposeState('deployment_status', { id, status, detail });
    this.#logger.info('deployment finished', { deployment: id, status, detail });
  }

  /** Re-registers the newest version older than `failedVersion` whose rollout did not fail. */
  async #revert(jobId: string, failedVersion: number): Promise<void> {
    const failed = new Set(
      q
        .listDeployments(this.#state.db, { jobId })
        .filter((d) => d.status === 'failed')
        .map((d) => d.jobVersion),
    );
    const target = q
      .jobHistory(this.#state.db, jobId)
      .find((v) => v.version < failedVersion && !failed.has(v.version));
    if (!target) {
      this.#logger.warn('auto-revert: no earlier good version', { job: jobId });
      return;
    }
    await this.#service.proposeState('job_registered', { id: jobId, spec: target.spec });
    this.#logger.warn('auto-revert', { job: jobId, from: failedVersion, to: target.version });
  }
}

type DeploymentRow = ReturnType<typeof q.listDeployments>[number];

/** Pure judgement of one running deployment. */
export function judgeDeployment(
  spec: Job,
  d: DeploymentRow,
  allocs: q.AllocationView[],
  nowMs: number,
): { status: 'running' | 'successful' | 'failed'; detail: string } {
  const mine = allocs.filter((a) => a.jobVersion === d.jobVersion && a.desiredStatus === 'run');
  const failed = mine.find((a) => a.clientStatus === 'failed' || a.clientStatus === 'lost');
  if (failed)
    return {
      status: 'failed',
      detail: `allocation ${failed.id} ${failed.clientStatus}: ${failed.clientDetail}`,
    };
  const late = mine.find(
    (a) => a.clientStatus !== 'healthy' && nowMs - a.createdAtMs > spec.update.healthyDeadlineMs,
  );
  if (late) {
    return {
      status: 'failed',
      detail: `allocation ${late.id} not healthy within ${spec.update.healthyDeadlineMs} ms (${late.clientStatus}: ${late.clientDetail})`,
    };
  }
  const settled = mine.filter(
    (a) => a.clientStatus === 'healthy' && nowMs - a.modifiedAtMs >= spec.update.minHealthyTimeMs,
  );
  const want = spec.type === 'system' ? mine.length : spec.count;
  if (mine.length >= want && settled.length >= want) {
    return { status: 'successful', detail: `${settled.length} healthy` };
  }
  return { status: 'running', detail: '' };
}
