import { describe, expect, test } from 'bun:test';
import { hasRole } from './auth.ts';
import { createHarness, errorCode, type Harness, sampleJob } from './test-harness.ts';

/** Every state-changing request the API has, with a valid body. */
const writes: Array<{ method: string; path: string; body?: unknown }> = [
  { method: 'POST', path: '/v1/jobs', body: sampleJob },
  { method: 'DELETE', path: '/v1/jobs/web' },
  { method: 'PUT', path: '/v1/secrets/DB_URL', body: { value: 'postgres://x' } },
  { method: 'DELETE', path: '/v1/secrets/DB_URL' },
  { method: 'POST', path: '/v1/tokens', body: { name: 'ci', role: 'deploy' } },
  { method: 'DELETE', path: '/v1/tokens/tok_0000000000000000' },
  { method: 'POST', path: '/v1/operator/raft/transfer-leadership', body: { to: 2 } },
  { method: 'POST', path: '/v1/operator/raft/remove-peer', body: { id: 2 } },
];

/** Registers the job and the secret the DELETE requests above refer to. */
async function seed(h: Harness): Promise<void> {
  expect((await h.call('POST', '/v1/jobs', { body: sampleJob })).status).toBe(200);
  const put = await h.call('PUT', '/v1/secrets/DB_URL', { body: { value: 'postgres://x' } });
  expect(put.status).toBe(200);
}

describe('authentication', () => {
  test('no token, a malformed header or an unknown token is 401 and changes nothing', async () => {
    // Proves every write is refused before it reaches the log when the caller is unknown.
    const h = await createHarness();
    await seed(h);
    const before = h.commitIndex();
    const variants: Array<Record<string, string>> = [
      {},
      { authorization: 'Basic YWRtaW46YWRtaW4=' },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${h.tokens.admin} extra` },
      { authorization: 'Bearer berth_not_a_real_token' },
    ];
    for (const headers of variants) {
      for (const w of writes) {
        const res = await h.call(w.method, w.path, { token: null, headers, body: w.body });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('Bearer');
        expect(await errorCode(res)).toBe('unauthenticated');
      }
    }
    const read = await h.call('GET', '/v1/jobs', { token: null });
    expect(read.status).toBe(401);
    const metrics = await h.call('GET', '/metrics', { token: null });
    expect(metrics.status).toBe(401);
    expect(h.commitIndex()).toBe(before);
  });

  test('a read-only token may read but every write is 403 forbidden', async () => {
    // Proves the read-only role cannot change state through any write route.
    const h = await createHarness();
    await seed(h);
    const before = h.commitIndex();
    for (const w of writes) {
      const res = await h.call(w.method, w.path, { token: h.tokens.read, body: w.body });
      expect(res.status).toBe(403);
      expect(await errorCode(res)).toBe('forbidden');
    }
    expect((await h.call('GET', '/v1/jobs', { token: h.tokens.read })).status).toBe(200);
    expect((await h.call('GET', '/v1/secrets', { token: h.tokens.read })).status).toBe(200);
    expect(h.commitIndex()).toBe(before);
  });

  test('a deploy token registers and stops jobs but cannot manage tokens or read secrets', async () => {
    // Proves the deploy role boundary: jobs and secret writes yes, plaintext and tokens no.
    const h = await createHarness();
    const token = h.tokens.deploy;
    expect((await h.call('POST', '/v1/jobs', { token, body: sampleJob })).status).toBe(200);
    const put = await h.call('PUT', '/v1/secrets/API_KEY', { token, body: { value: 'k' } });
    expect(put.status).toBe(200);
    const before = h.commitIndex();
    const refused = [
      await h.call('GET', '/v1/secrets/API_KEY', { token }),
      await h.call('POST', '/v1/tokens', { token, body: { name: 'x', role: 'admin' } }),
      await h.call('GET', '/v1/tokens', { token }),
      await h.call('POST', '/v1/operator/raft/remove-peer', { token, body: { id: 2 } }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(403);
      expect(await errorCode(res)).toBe('forbidden');
    }
    expect(h.commitIndex()).toBe(before);
    expect((await h.call('DELETE', '/v1/jobs/web', { token })).status).toBe(200);
    expect(h.commitIndex()).toBe(before + 1);
  });

  test('roles rank admin > deploy > read-only', () => {
    // Proves the ordering the route guards rely on.
    expect(hasRole('admin', 'deploy')).toBe(true);
    expect(hasRole('deploy', 'admin')).toBe(false);
    expect(hasRole('deploy', 'read-only')).toBe(true);
    expect(hasRole('read-only', 'deploy')).toBe(false);
  });
});
