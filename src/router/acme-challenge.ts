/**
 * ACME HTTP-01 answers (RFC 8555 §8.3): the CA fetches
 * `http://<host>/.well-known/acme-challenge/<token>` and expects the key authorization as
 * the body. Any router may be asked (DNS points at all of them), so every router answers
 * from the replicated challenge table. The path is answered here, never proxied and never
 * redirected, whatever the Host header says.
 */
import { limits } from '../core/limits.ts';
import { errorResponse, sizedResponse } from './error-response.ts';

/** The path prefix the CA fetches. */
export const acmeChallengePrefix = '/.well-known/acme-challenge/';

/** The key authorization for a token, or undefined when no challenge has that token. */
export type AcmeChallengeLookup = (token: string) => string | undefined;

/** RFC 8555 tokens are base64url without padding. */
const tokenPattern = /^[A-Za-z0-9_-]+$/;

/** True for any request under the challenge prefix (valid token or not). */
export function isAcmeChallengePath(pathAndQuery: string): boolean {
  return pathAndQuery.startsWith(acmeChallengePrefix);
}

/** The token of a challenge path, or undefined when it cannot be one (bad charset, length). */
export function acmeTokenOf(
  pathAndQuery: string,
  tokenCharsMax: number = limits.routerAcmeTokenCharsMax,
): string | undefined {
  const rest = pathAndQuery.slice(acmeChallengePrefix.length);
  const query = rest.indexOf('?');
  const token = query < 0 ? rest : rest.slice(0, query);
  if (token.length === 0 || token.length > tokenCharsMax) return undefined;
  return tokenPattern.test(token) ? token : undefined;
}

/**
 * The answer to a request under the challenge prefix: 200 text/plain with the key
 * authorization for a known token (GET or HEAD), the router's 404 otherwise. A token that
 * cannot be one is refused without a lookup.
 */
export function answerAcmeChallenge(
  method: string,
  pathAndQuery: string,
  lookup: AcmeChallengeLookup,
  accept: string | null,
): Response {
  const token = method === 'GET' || method === 'HEAD' ? acmeTokenOf(pathAndQuery) : undefined;
  const keyAuthorization = token === undefined ? undefined : lookup(token);
  if (keyAuthorization === undefined) {
    return errorResponse('no_route', 'no ACME challenge is pending with this token', accept);
  }
  return sizedResponse(keyAuthorization, 200, {
    'content-type': 'text/plain',
    'cache-control': 'no-store',
  });
}
