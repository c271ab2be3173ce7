/**
 * A stand-in for Berth's router in ACME tests: answers HTTP-01 requests at
 * /.well-known/acme-challenge/<token> from a lookup the test supplies, on 127.0.0.1.
 */
import type { Server } from 'bun';
import { freePort } from './pebble.ts';

export const challengePathPrefix = '/.well-known/acme-challenge/';

export interface ChallengeServer {
  readonly port: number;
  /** Tokens asked for so far, in order. */
  readonly requested: string[];
  stop(): void;
}

/** Serves `answer(token)` as text, 404 when it returns undefined. */
export function startChallengeServer(
  answer: (token: string) => string | undefined,
  port = freePort(),
): ChallengeServer {
  const requested: string[] = [];
  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (!path.startsWith(challengePathPrefix)) return new Response('not found', { status: 404 });
      const token = path.slice(challengePathPrefix.length);
      requested.push(token);
      const body = answer(token);
      return body === undefined
        ? new Response('no such challenge', { status: 404 })
        : new Response(body, { headers: { 'Content-Type': 'text/plain' } });
    },
  });
  return {
    port,
    requested,
    stop: () => {
      server.stop(true);
    },
  };
}
