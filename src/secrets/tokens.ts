/**
 * Bearer and join tokens (DESIGN.md §7): random, shown once, stored only as a SHA-256
 * hash, and compared in constant time so response timing does not leak how many leading
 * characters of a guess were right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every Berth token starts with this, so leaked tokens are easy to scan for. */
export const tokenPrefix = 'berth_';
/** Random bytes in a token: 256 bits, beyond any guessing. */
export const tokenRandomBytes = 32;

const tokenPattern = /^berth_[A-Za-z0-9_-]{43}$/;

/** A new token: `berth_` + 32 random bytes in base64url (43 characters, no padding). */
export function generateToken(): string {
  return tokenPrefix + randomBytes(tokenRandomBytes).toString('base64url');
}

/** A short random identifier for a token row (not secret; it names the token in lists). */
export function generateTokenId(): string {
  return `tok_${randomBytes(8).toString('hex')}`;
}

/** True when `text` has the shape of a token generateToken could return. */
export function isTokenShaped(text: string): boolean {
  return tokenPattern.test(text);
}

/** The SHA-256 hex digest stored in place of a token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Compares two strings in time independent of where they differ. Both sides are hashed
 * first so that inputs of different lengths compare in the same time as equal-length ones.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right);
}

/** True when `token` hashes to `expectedHash` (a stored SHA-256 hex digest). */
export function verifyToken(token: string, expectedHash: string): boolean {
  return constantTimeEqual(hashToken(token), expectedHash);
}
