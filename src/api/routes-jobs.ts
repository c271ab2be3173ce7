/** `/v1/jobs`: register (POST), list, read, stop (DELETE) and version history. */
import type { Hono } from 'hono';
import { BerthError } from '../core/errors.ts';
import { requireRole } from './auth.ts';
import { ListQuerySchema, parseJsonBody, parseQuery, ReadQuerySchema } from './body.ts';
import { type ApiDeps, readBarrier } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { NameSchema } from './job-spec.ts';

function jobNotFound(name: string): BerthError {
  return new BerthError('job_not_found', `no job named ${JSON.stringify(name)}; see GET /v1/jobs`);
}

/** A route name that cannot be valid cannot exist either: answer as for an unknown job. */
function jobName(raw: string): string {
  if (!NameSchema.safeParse(raw).success) throw jobNotFound(raw);
  return raw;
}

export function registerJobRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  app.post('/v1/jobs', requireRole('deploy'), async (c) => {
    const job = await parseJsonBody(c, deps.jobSpecSchema);
    const { index } = await deps.hold(() => service.propose({ type: 'job.register', job }));
    const stored = await service.getJob(job.name);
    return c.json({ index, job: stored }, 200);
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
}
