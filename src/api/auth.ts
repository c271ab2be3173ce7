/**
 * Bearer-token authentication and role checks. A token is looked up by the SHA-256 hex of
 * what the client presents, so the server never stores or compares plaintext tokens. The
 * lookup is an index probe on the digest; timing can at most reveal a digest prefix, which
 * does not help forge a 256-bit random token. Token format and hashing live in
 * src/secrets/tokens.ts, shared with the state machine.
 */
import type { MiddlewareHandler } from 'hono';
import { BerthError } from '../core/errors.ts';
import { hashToken } from '../secrets/tokens.ts';
import type { ClusterService, Role } from './cluster-service.ts';
import type { ApiEnv } from './env.ts';

/** Rank of each role; a request needs a rank at least the route's. */
const roleRank: Readonly<Record<Role, number>> = { 'read-only': 1, deploy: 2, admin: 3 };

export const roles: readonly Role[] = ['admin', 'deploy', 'read-only'];

/** Longest Authorization header value accepted, in characters (a token is ~50). */
const authorizationLengthMax = 512;

export function hasRole(have: Role, need: Role): boolean {
  return roleRank[have] >= roleRank[need];
}

/** Authenticates every request it guards and stores the principal in `c.var.principal`. */
export function authenticate(service: ClusterService): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined) {
      throw new BerthError('unauthenticated', 'send Authorization: Bearer <token>');
    }
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (header.length > authorizationLengthMax || !match) {
      throw new BerthError('unauthenticated', 'malformed Authorization header; use Bearer <token>');
    }
    const principal = await service.findToken(hashToken(match[1]!));
    if (!principal) {
      throw new BerthError('unauthenticated', 'unknown or revoked token');
    }
    c.set('principal', principal);
    await next();
  };
}

/** Refuses (403 `forbidden`) a request whose token's role ranks below `need`. */
export function requireRole(need: Role): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!hasRole(principal.role, need)) {
      throw new BerthError('forbidden', `this needs a ${need} token; yours is ${principal.role}`, {
        role: principal.role,
      });
    }
    await next();
  };
}
