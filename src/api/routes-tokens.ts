/**
 * `/v1/tokens` (admin only): create, list and revoke API tokens. The plaintext token exists
 * only in the creation response; the log and the state hold its SHA-256 digest.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { generateToken, generateTokenId, hashToken } from '../secrets/tokens.ts';
import { requireRole, roles } from './auth.ts';
import { ListQuerySchema, parseJsonBody, parseQuery } from './body.ts';
import { type ApiDeps, readBarrier } from './deps.ts';
import type { ApiEnv } from './env.ts';

const CreateTokenBody = z.strictObject({
  name: z.string().min(1).max(128),
  role: z.enum(roles as ['admin', 'deploy', 'read-only']),
});

/** Token ids are short and unreserved-URL-safe (see generateTokenId). */
const tokenIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

function tokenNotFound(id: string): BerthError {
  return new BerthError('token_not_found', `no token with id ${JSON.stringify(id)}`);
}

export function registerTokenRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  app.post('/v1/tokens', requireRole('admin'), async (c) => {
    const { name, role } = await parseJsonBody(c, CreateTokenBody);
    const token = generateToken();
    const id = generateTokenId();
    const command = { type: 'token.create', id, name, role, hashHex: hashToken(token) } as const;
    const { index } = await deps.hold(() => service.propose(command));
    c.header('Cache-Control', 'no-store');
    return c.json({ index, id, name, role, token }, 201);
  });

  app.get('/v1/tokens', requireRole('admin'), async (c) => {
    const query = parseQuery(c, ListQuerySchema);
    await readBarrier(deps, c, query.stale);
    return c.json({ items: await service.listTokens({ limit: query.limit }) });
  });

  app.delete('/v1/tokens/:id', requireRole('admin'), async (c) => {
    const id = c.req.param('id');
    if (!tokenIdPattern.test(id)) throw tokenNotFound(id);
    await readBarrier(deps, c, false);
    if (!(await service.getToken(id))) throw tokenNotFound(id);
    const { index } = await deps.hold(() => service.propose({ type: 'token.revoke', id }));
    return c.json({ index, id });
  });
}
