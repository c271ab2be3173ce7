import { describe, expect, test } from 'bun:test';
import { createHarness, errorCode } from './test-harness.ts';

describe('POST /v1/nodes/:id/drain', () => {
  // Proves garbage is refused with stable codes before anything else, admin only, and nothing is written.
  test('garbage, roles, and a service without draining', async () => {
    const h = await createHarness();
    const before = h.commitIndex();
    const badId = await h.call('POST', '/v1/nodes/n1/drain', { body: { enable: true } });
    expect(badId.status).toBe(400);
    expect(await errorCode(badId)).toBe('invalid_query');
    const badBody = await h.call('POST', '/v1/nodes/1/drain', { body: { enable: 'yes' } });
    expect(badBody.status).toBe(400);
    const extra = await h.call('POST', '/v1/nodes/1/drain', { body: { enable: true, x: 1 } });
    expect(extra.status).toBe(400);
    const deploy = await h.call('POST', '/v1/nodes/1/drain', {
      token: h.tokens.deploy,
      body: { enable: true },
    });
    expect(deploy.status).toBe(403);
    const none = await h.call('POST', '/v1/nodes/1/drain', { body: { enable: true } });
    expect(none.status).toBe(501);
    expect(h.commitIndex()).toBe(before);
  });
});
