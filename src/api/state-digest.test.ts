import { describe, expect, test } from 'bun:test';
import { createHarness, errorCode } from './test-harness.ts';

describe('GET /v1/operator/state-digest', () => {
  test('answers the service digest with its applied index for read-only tokens', async () => {
    // Proves the route passes the service's pair through unchanged.
    const h = await createHarness();
    Object.assign(h.service, {
      stateDigest: () => ({ appliedIndex: 12, digest: 'ab'.repeat(32) }),
    });
    const res = await h.call('GET', '/v1/operator/state-digest', { token: h.tokens.read });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ appliedIndex: 12, digest: 'ab'.repeat(32) });
  });

  test('garbage queries, no token and a server without digests are refused', async () => {
    // Proves 400 for an unknown query parameter, 401 without a token, 501 when unavailable.
    const h = await createHarness();
    const garbage = await h.call('GET', '/v1/operator/state-digest?bogus=1');
    expect([garbage.status, await errorCode(garbage)]).toEqual([400, 'invalid_query']);
    const anonymous = await h.call('GET', '/v1/operator/state-digest', { token: null });
    expect(anonymous.status).toBe(401);
    const absent = await h.call('GET', '/v1/operator/state-digest');
    expect([absent.status, await errorCode(absent)]).toEqual([501, 'not_implemented']);
  });
});
