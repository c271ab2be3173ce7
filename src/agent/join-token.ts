/**
 * Join tokens, shaped like Docker Swarm's: the token carries the SHA-256 fingerprint of
 * the cluster CA, so a joining node can trust the CA it downloads from any node before
 * it sends anything secret, and a secret whose hash the cluster stores (single use,
 * short-lived, for one role).
 *
 *   berth-join-<role>-<ca fingerprint, 64 hex>-<secret, base64url>
 */
import { randomBytes } from 'node:crypto';
import { BerthError } from '../core/errors.ts';
import { hashToken } from '../secrets/tokens.ts';

export type JoinRole = 'voter' | 'worker';

export interface ParsedJoinToken {
  role: JoinRole;
  caFingerprint: string;
  /** SHA-256 hex of the whole token, as stored in `join_tokens`. */
  hash: string;
}

const pattern = /^berth-join-(voter|worker)-([0-9a-f]{64})-([A-Za-z0-9_-]{32,64})$/;

/** Default and longest life of a join token, in ms. */
export const joinTokenTtlMsDefault = 60 * 60_000;
export const joinTokenTtlMsMax = 24 * 60 * 60_000;

export function createJoinToken(
  role: JoinRole,
  caFingerprint: string,
): { token: string; hash: string } {
  const token = `berth-join-${role}-${caFingerprint}-${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

/** Parses a join token; `bad_join_token` (with what is wrong, never the token) for garbage. */
export function parseJoinToken(token: string): ParsedJoinToken {
  const m = pattern.exec(token.trim());
  if (!m) {
    throw new BerthError(
      'bad_join_token',
      'not a join token: expected berth-join-<voter|worker>-<fingerprint>-<secret>; create one with `berth node join-token`',
    );
  }
  return { role: m[1] as JoinRole, caFingerprint: m[2] as string, hash: hashToken(token.trim()) };
}
