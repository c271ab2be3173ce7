import { describe, expect, test } from 'bun:test';
import * as acme from 'acme-client';
import { BerthError } from '../core/errors.ts';
import { generateAcmeKeyPem } from './acme-flow.ts';
import { installFetchTransport, parseRetryAfterMs } from './acme-transport.ts';

describe('Retry-After', () => {
  test('reads delay-seconds and HTTP dates, and ignores garbage', () => {
    // Proves both RFC 9110 forms are honoured and a bad header means "not said".
    const nowMs = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfterMs('120', nowMs)).toBe(120_000);
    expect(parseRetryAfterMs(' 0 ', nowMs)).toBe(0);
    expect(parseRetryAfterMs('Tue, 01 Jan 2030 00:01:30 GMT', nowMs)).toBe(90_000);
    expect(parseRetryAfterMs('Mon, 31 Dec 2029 23:00:00 GMT', nowMs)).toBe(0);
    expect(parseRetryAfterMs('soon', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs('-5', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, nowMs)).toBeUndefined();
  });
});

describe('fetch transport', () => {
  test('records the problem of a refused request and clears it on the next success', async () => {
    // Proves errors are classified from the latest answer only, with status, type and wait.
    let refuse = true;
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(request) {
        const base = `http://127.0.0.1:${new URL(request.url).port}`;
        const path = new URL(request.url).pathname;
        if (path === '/dir') {
          return Response.json({
            newNonce: `${base}/nonce`,
            newAccount: `${base}/acct`,
            newOrder: `${base}/order`,
          });
        }
        if (path === '/nonce') return new Response(null, { headers: { 'Replay-Nonce': 'n1' } });
        if (refuse) {
          return Response.json(
            { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow\ndown' },
            { status: 429, headers: { 'Retry-After': '7' } },
          );
        }
        return Response.json(
          { status: 'valid' },
          { status: 200, headers: { Location: `${base}/a/1` } },
        );
      },
    });
    try {
      const directoryUrl = `http://127.0.0.1:${server.port}/dir`;
      const client = new acme.Client({ directoryUrl, accountKey: generateAcmeKeyPem() });
      const record = installFetchTransport(client, { directoryUrl });
      await expect(client.createAccount({ onlyReturnExisting: true })).rejects.toThrow();
      expect(record.lastProblem).toMatchObject({
        status: 429,
        type: 'urn:ietf:params:acme:error:rateLimited',
        detail: 'slow down',
        retryAfterMs: 7_000,
      });
      refuse = false;
      await client.createAccount({ onlyReturnExisting: true });
      expect(record.lastProblem).toBeNull();
    } finally {
      server.stop(true);
    }
  });

  test('a directory that is not one is acme_directory_invalid', async () => {
    // Proves a wrong URL is named as such instead of failing later on a missing field.
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({}) });
    try {
      const directoryUrl = `http://127.0.0.1:${server.port}/dir`;
      const client = new acme.Client({ directoryUrl, accountKey: generateAcmeKeyPem() });
      installFetchTransport(client, { directoryUrl });
      const error = await client.createAccount({}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BerthError);
      expect((error as BerthError).code).toBe('acme_directory_invalid');
    } finally {
      server.stop(true);
    }
  });
});
