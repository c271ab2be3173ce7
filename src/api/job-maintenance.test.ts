import { describe, expect, test } from 'bun:test';
import { defaultMaintenanceMessage } from '../../actors/state/commands.ts';
import { limits } from '../core/limits.ts';
import { createApi } from './app.ts';
import type { ClusterService } from './cluster-service.ts';
import { createHarness, errorCode, type Harness, sampleJob } from './test-harness.ts';

interface MaintenanceBody {
  index: number;
  maintenance: { enabled: boolean; message: string | null };
}

async function jobMaintenance(h: Harness, name: string): Promise<unknown> {
  const res = await h.call('GET', `/v1/jobs/${name}`, { token: h.tokens.read });
  return ((await res.json()) as { maintenance?: unknown }).maintenance;
}

describe('POST /v1/jobs/:name/maintenance', () => {
  test('on with a message, on with the default, then off; GET shows each state', async () => {
    // Proves each call commits one entry, answers with the new state, and the job view shows it.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    expect(await jobMaintenance(h, 'web')).toEqual({ enabled: false, message: null });
    const before = h.commitIndex();
    const on = await h.call('POST', '/v1/jobs/web/maintenance', {
      token: h.tokens.deploy,
      body: { enabled: true, message: 'Back at 3pm' },
    });
    expect(on.status).toBe(200);
    expect((await on.json()) as MaintenanceBody).toEqual({
      index: before + 1,
      maintenance: { enabled: true, message: 'Back at 3pm' },
    });
    expect(await jobMaintenance(h, 'web')).toEqual({ enabled: true, message: 'Back at 3pm' });
    const plain = await h.call('POST', '/v1/jobs/web/maintenance', { body: { enabled: true } });
    expect(((await plain.json()) as MaintenanceBody).maintenance.message).toBe(
      defaultMaintenanceMessage,
    );
    const off = await h.call('POST', '/v1/jobs/web/maintenance', { body: { enabled: false } });
    expect((await off.json()) as MaintenanceBody).toEqual({
      index: before + 3,
      maintenance: { enabled: false, message: null },
    });
    expect(await jobMaintenance(h, 'web')).toEqual({ enabled: false, message: null });
    expect(h.commitIndex()).toBe(before + 3);
  });

  test('garbage, unknown jobs and read-only tokens are refused and nothing is written', async () => {
    // Proves every refusal has its status and code, and the log does not grow.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const tooLong = 'x'.repeat(limits.stateMaintenanceMessageLengthMax + 1);
    const path = '/v1/jobs/web/maintenance';
    const before = h.commitIndex();
    const cases: [string, unknown, string | null, number, string][] = [
      [path, '{"enabled": tru', h.tokens.deploy, 400, 'bad_json'],
      [path, { enabled: true, extra: 1 }, h.tokens.deploy, 400, 'invalid_body'],
      [path, { enabled: 'yes' }, h.tokens.deploy, 400, 'invalid_body'],
      [path, {}, h.tokens.deploy, 400, 'invalid_body'],
      [path, [true], h.tokens.deploy, 400, 'invalid_body'],
      [path, { enabled: true, message: '' }, h.tokens.deploy, 400, 'invalid_body'],
      [path, { enabled: true, message: tooLong }, h.tokens.deploy, 400, 'invalid_body'],
      [path, { enabled: true }, h.tokens.read, 403, 'forbidden'],
      [path, { enabled: true }, null, 401, 'unauthenticated'],
      ['/v1/jobs/ghost/maintenance', { enabled: true }, h.tokens.deploy, 404, 'job_not_found'],
      ['/v1/jobs/Bad_Name/maintenance', { enabled: true }, h.tokens.deploy, 404, 'job_not_found'],
    ];
    for (const [where, body, token, status, code] of cases) {
      const res = await h.call('POST', where, { body, token });
      expect([where, body, res.status, await errorCode(res)]).toEqual([where, body, status, code]);
    }
    expect(h.commitIndex()).toBe(before);
    expect(await jobMaintenance(h, 'web')).toEqual({ enabled: false, message: null });
  });

  test('a message of exactly the limit is accepted', async () => {
    // Proves the bound is inclusive and the full message is stored.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const message = 'm'.repeat(limits.stateMaintenanceMessageLengthMax);
    const res = await h.call('POST', '/v1/jobs/web/maintenance', {
      body: { enabled: true, message },
    });
    expect(res.status).toBe(200);
    expect(await jobMaintenance(h, 'web')).toEqual({ enabled: true, message });
  });

  test('maintenance survives a redeploy of the job', async () => {
    // Proves a new version does not silently end maintenance (the operator turns it off).
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs/web/maintenance', { body: { enabled: true, message: 'm' } });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, image: 'nginx:1.28' } });
    const res = await h.call('GET', '/v1/jobs/web');
    expect(await res.json()).toMatchObject({ version: 2, maintenance: { enabled: true } });
  });

  test('a service without setJobMaintenance answers 501 not_implemented', async () => {
    // Proves the method is optional: the route refuses cleanly instead of crashing.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const bare = new Proxy(h.service, {
      get(target, key) {
        if (key === 'setJobMaintenance') return undefined;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as ClusterService;
    const app = createApi({ service: bare, clock: h.clock });
    const res = await app.request('/v1/jobs/web/maintenance', {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.deploy}`, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true }),
    });
    expect([res.status, await errorCode(res)]).toEqual([501, 'not_implemented']);
  });
});
