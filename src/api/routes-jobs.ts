/**
 * `/v1/jobs`: register (POST), list, read, stop (DELETE), version history, revert to an
 * earlier version, promote a canary deployment, maintenance mode, and the job's allocations.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { requireRole } from './auth.ts';
import { ListQuerySchema, parseJsonBody, parseQuery, ReadQuerySchema } from './body.ts';
import type { JobVersionView } from './cluster-service.ts';
import { type ApiDeps, readBarrier } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { NameSchema } from './job-spec.ts';

/** `POST /v1/jobs/:name/revert`: which version to bring back (default: the previous one). */
const RevertBodySchema = z.strictObject({
  version: z.number().int().min(1).optional(),
});

/** `POST /v1/jobs/:name/maintenance`: on with an optional message, or off. */
const MaintenanceBodySchema = z.strictObject({
  enabled: z.boolean(),
  message: z.string().min(1).max(limits.stateMaintenanceMessageLengthMax).optional(),
});

function jobNotFound(name: string): BerthError {
  return new BerthError('job_not_found', `no job named ${JSON.stringify(name)}; see GET /v1/jobs`);
}

/** A route name that cannot be valid cannot exist either: answer as for an unknown job. */
function jobName(raw: string): string {
  if (!NameSchema.safeParse(raw).success) throw jobNotFound(raw);
  return raw;
}

/**
 * The version a revert re-registers: `wanted`, or the one before the newest. History is
 * newest first and bounded by `apiListItemsMax`, so a version older than that window is
 * reported as not found rather than searched for without bound.
 */
function revertTarget(
  name: string,
  history: JobVersionView[],
  wanted: number | undefined,
): JobVersionView {
  const target =
    wanted === undefined ? history[1] : history.find((item) => item.version === wanted);
  if (target) return target;
  const which = wanted === undefined ? 'no previous version' : `no version ${wanted}`;
  throw new BerthError(
    'job_version_not_found',
    `job ${JSON.stringify(name)} has ${which}; see GET /v1/jobs/${name}/history`,
  );
}

export function registerJobRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  app.post('/v1/jobs', requireRole('deploy'), async (c) => {
    const job = await parseJsonBody(c, deps.jobSpecSchema);
    const { index } = await deps.hold(() => service.propose({ type: 'job.register', job }));
    const stored = await service.getJob(job.name);
    return c.json({ index, version: stored?.version ?? null, job: stored }, 200);
  });

  // A dry run (like `nomad job plan`): nothing is proposed; the leader answers.
  app.post('/v1/jobs/plan', requireRole('deploy'), async (c) => {
    const job = await parseJsonBody(c, deps.jobSpecSchema);
    if (!service.planJob)
      throw new BerthError('not_implemented', 'dry runs are not available on this server');
    return c.json(await deps.hold(() => service.planJob!(job)));
  });

  app.post('/v1/jobs/:name/revert', requireRole('deploy'), async (c) => {
    const name = jobName(c.req.param('name'));
    const body = await parseJsonBody(c, RevertBodySchema);
    await readBarrier(deps, c, false);
    const history = await service.jobHistory(name, { limit: limits.apiListItemsMax });
    if (history.length === 0) throw jobNotFound(name);
    const target = revertTarget(name, history, body.version);
    const { index } = await deps.hold(() =>
      service.propose({ type: 'job.register', job: target.spec }),
    );
    const stored = await service.getJob(name);
    return c.json({
      index,
      version: stored?.version ?? null,
      revertedTo: target.version,
      job: stored,
    });
  });

  // Canaries wait beside the old version until promoted (Nomad's `deployment promote`).
  app.post('/v1/jobs/:name/promote', requireRole('deploy'), async (c) => {
    const name = jobName(c.req.param('name'));
    if (!service.promoteDeployment) {
      throw new BerthError('not_implemented', 'promotion is not available on this server');
    }
    await readBarrier(deps, c, false);
    if (!(await service.getJob(name))) throw jobNotFound(name);
    const { index, deployment } = await deps.hold(() => service.promoteDeployment!(name));
    return c.json({ index, deployment });
  });

  // kamal-proxy's `stop --message`: routers answer the job's routes with 503 and the message.
  app.post('/v1/jobs/:name/maintenance', requireRole('deploy'), async (c) => {
    const name = jobName(c.req.param('name'));
    const body = await parseJsonBody(c, MaintenanceBodySchema);
    if (!service.setJobMaintenance) {
      throw new BerthError('not_implemented', 'maintenance mode is not available on this server');
    }
    await readBarrier(deps, c, false);
    if (!(await service.getJob(name))) throw jobNotFound(name);
    const { index, maintenance } = await deps.hold(() =>
      service.setJobMaintenance!(name, body.enabled, body.message),
    );
    return c.json({ index, maintenance });
  });

  app.get('/v1/jobs', requireRole('read-only'), async (c) => {
    const query = parseQuery(c, ListQuerySchema);
    await readBarrier(deps, c, query.stale);
    return c.json({ items: await service.listJobs({ limit: query.limit }) });
  });

  app.get('/v1/jobs/:name', requireRole('read-only'), async (c) => {
    const name = jobName(c.req.param('name'));
    const query = parseQuery(c, ReadQuerySchema);
    await readBarrier(deps, c, query.stale);
    const job = await service.getJob(name);
    if (!job) throw jobNotFound(name);
    return c.json(job);
  });

  app.delete('/v1/jobs/:name', requireRole('deploy'), async (c) => {
    const name = jobName(c.req.param('name'));
    await readBarrier(deps, c, false);
    if (!(await service.getJob(name))) throw jobNotFound(name);
    const { index } = await deps.hold(() => service.propose({ type: 'job.stop', name }));
    return c.json({ index, job: await service.getJob(name) });
  });

  app.get('/v1/jobs/:name/history', requireRole('read-only'), async (c) => {
    const name = jobName(c.req.param('name'));
    const query = parseQuery(c, ListQuerySchema);
    await readBarrier(deps, c, query.stale);
    const items = await service.jobHistory(name, { limit: query.limit });
    if (items.length === 0 && !(await service.getJob(name))) throw jobNotFound(name);
    return c.json({ items });
  });

  app.get('/v1/jobs/:name/allocations', requireRole('read-only'), async (c) => {
    const name = jobName(c.req.param('name'));
    const query = parseQuery(c, ListQuerySchema);
    await readBarrier(deps, c, query.stale);
    if (!(await service.getJob(name))) throw jobNotFound(name);
    return c.json({ items: await service.listAllocations({ job: name, limit: query.limit }) });
  });
}
