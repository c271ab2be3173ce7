/**
 * Resolving a bearer token presented to the API against the replicated token table.
 * The table holds hashes only, so lookup is by hash; the hash is a SHA-256 of 256 random
 * bits, so an indexed equality lookup leaks nothing useful through timing.
 */
import { findTokenByHash, type StateReader, type TokenView } from '../state/queries.ts';
import { hashToken, isTokenShaped } from './tokens.ts';

export type TokenAuthResult =
  | { ok: true; token: TokenView }
  | { ok: false; code: 'token_invalid' | 'token_expired' | 'token_revoked' };

/**
 * The token row a presented bearer token stands for, judged at `nowMs` (the API's clock:
 * this is an edge, not apply). Unknown and malformed tokens are one code, `token_invalid`,
 * so a caller cannot probe which tokens exist.
 */
export function authenticateToken(
  db: StateReader,
  presented: string,
  nowMs: number,
): TokenAuthResult {
  if (!isTokenShaped(presented)) return { ok: false, code: 'token_invalid' };
  const token = findTokenByHash(db, hashToken(presented));
  if (!token) return { ok: false, code: 'token_invalid' };
  if (token.revokedAtMs !== null) return { ok: false, code: 'token_revoked' };
  if (token.expiresAtMs !== null && nowMs >= token.expiresAtMs) {
    return { ok: false, code: 'token_expired' };
  }
  return { ok: true, token };
}
