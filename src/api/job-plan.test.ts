import { describe, expect, test } from 'bun:test';
import { createHarness, errorCode, sampleJob } from './test-harness.ts';

describe('POST /v1/jobs/plan (dry run)', () => {
  // Proves the dry run validates like a registration, needs a deploy token, and never writes.
  test('garbage, roles and a service without dry runs; nothing is written', async () => {
    const h = await createHarness();
    const before = h.commitIndex();
    const bad = await h.call('POST', '/v1/jobs/plan', { body: { ...sampleJob, unknownField: 1 } });
    expect(bad.status).toBe(400);
    const readOnly = await h.call('POST', '/v1/jobs/plan', {
      token: h.tokens.read,
      body: sampleJob,
    });
    expect(readOnly.status).toBe(403);
    // The test service has no scheduler: it says so instead of pretending.
    const res = await h.call('POST', '/v1/jobs/plan', { body: sampleJob });
    expect(res.status).toBe(501);
    expect(await errorCode(res)).toBe('not_implemented');
    expect(h.commitIndex()).toBe(before);
  });
});
