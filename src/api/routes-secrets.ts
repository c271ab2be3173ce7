/**
 * `/v1/secrets`: deploy tokens may set and delete secrets (a CI pipeline sets them at deploy
 * time) and everyone may list their names, but only admin tokens read a value back.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { requireRole } from './auth.ts';
import { ListQuerySchema, parseJsonBody, parseQuery, ReadQuerySchema } from './body.ts';
import { type ApiDeps, readBarrier } from './deps.ts';
import type { ApiEnv } from './env.ts';

/** Secret names look like environment variable names (with dots and dashes allowed). */
const secretNamePattern = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

const PutSecretBody = z.strictObject({
  value: z
    .string()
    .refine(
      (v) => Buffer.byteLength(v, 'utf8') <= limits.apiSecretValueBytesMax,
      `at most ${limits.apiSecretValueBytesMax} bytes`,
    ),
});

function secretNotFound(name: string): BerthError {
  return new BerthError('secret_not_found', `no secret named ${JSON.stringify(name)}`);
}

export function registerSecretRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  app.get('/v1/secrets', requireRole('read-only'), async (c) => {
    const query = parseQuery(c, ListQuerySchema);
    await readBarrier(deps, c, query.stale);
    return c.json({ items: await service.listSecrets({ limit: query.limit }) });
  });

  app.put('/v1/secrets/:name', requireRole('deploy'), async (c) => {
    const name = c.req.param('name');
    if (!secretNamePattern.test(name)) {
      const message = 'letters, digits, _ . - (starting with a letter or _), at most 128';
      throw new BerthError('invalid_body', `invalid secret name: ${message}`, {
        issues: [{ path: 'name', message }],
      });
    }
    const { value } = await parseJsonBody(c, PutSecretBody);
    const { index } = await deps.hold(() => service.propose({ type: 'secret.put', name, value }));
    return c.json({ index, name });
  });

  app.get('/v1/secrets/:name', requireRole('admin'), async (c) => {
    const name = c.req.param('name');
    const query = parseQuery(c, ReadQuerySchema);
    if (!secretNamePattern.test(name)) throw secretNotFound(name);
    await readBarrier(deps, c, query.stale);
    const value = await service.readSecret(name);
    if (value === null) throw secretNotFound(name);
    c.header('Cache-Control', 'no-store');
    return c.json({ name, value });
  });

  app.delete('/v1/secrets/:name', requireRole('deploy'), async (c) => {
    const name = c.req.param('name');
    if (!secretNamePattern.test(name)) throw secretNotFound(name);
    await readBarrier(deps, c, false);
    if ((await service.readSecret(name)) === null) throw secretNotFound(name);
    const { index } = await deps.hold(() => service.propose({ type: 'secret.delete', name }));
    return c.json({ index, name });
  });
}
