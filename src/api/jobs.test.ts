import { describe, expect, test } from 'bun:test';
import { createApi } from './app.ts';
import type { ClusterService } from './cluster-service.ts';
import { createHarness, errorCode, sampleJob } from './test-harness.ts';

interface JobBody {
  name: string;
  version: number;
  status: string;
  spec: { driver: { image: string }; count: number };
  index: number;
}

describe('/v1/jobs', () => {
  test('register commits one entry and answers with the stored job and its index', async () => {
    // Proves POST goes through the log (commit index +1) and reads its own write.
    const h = await createHarness();
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/jobs', { body: sampleJob });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { index: number; version: number; job: JobBody };
    expect(body.index).toBe(before + 1);
    expect(h.commitIndex()).toBe(before + 1);
    expect(body.job).toMatchObject({
      name: 'web',
      version: 1,
      status: 'running',
      index: before + 1,
    });
    expect(body.job.spec.driver.image).toBe('nginx:1.27');
    expect(body.version).toBe(1);
  });

  test('registering again creates a new version, kept in history newest first', async () => {
    // Proves versioning and the history route's order.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const second = await h.call('POST', '/v1/jobs', {
      body: { ...sampleJob, image: 'nginx:1.28' },
    });
    expect(((await second.json()) as { job: JobBody }).job.version).toBe(2);
    const history = await h.call('GET', '/v1/jobs/web/history');
    expect(history.status).toBe(200);
    const items = ((await history.json()) as { items: JobBody[] }).items;
    expect(items.map((v) => [v.version, v.spec.driver.image])).toEqual([
      [2, 'nginx:1.28'],
      [1, 'nginx:1.27'],
    ]);
    const limited = await h.call('GET', '/v1/jobs/web/history?limit=1');
    expect(((await limited.json()) as { items: unknown[] }).items.length).toBe(1);
  });

  test('list and get return registered jobs; unknown names are 404 job_not_found', async () => {
    // Proves the read routes and the not-found code, including impossible names.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, name: 'api' } });
    const list = await h.call('GET', '/v1/jobs');
    const names = ((await list.json()) as { items: JobBody[] }).items.map((j) => j.name);
    expect(names).toEqual(['api', 'web']);
    const one = await h.call('GET', '/v1/jobs/api');
    expect(((await one.json()) as JobBody).name).toBe('api');
    for (const path of ['/v1/jobs/nope', '/v1/jobs/Not_Valid', '/v1/jobs/nope/history']) {
      const res = await h.call('GET', path);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('job_not_found');
    }
  });

  test('stop marks the job stopped; stopping an unknown job writes nothing', async () => {
    // Proves DELETE proposes job.stop, and that a 404 leaves the log untouched.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const res = await h.call('DELETE', '/v1/jobs/web');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { index: number; job: JobBody };
    expect(body.job.status).toBe('stopped');
    const before = h.commitIndex();
    const missing = await h.call('DELETE', '/v1/jobs/ghost');
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('job_not_found');
    expect(h.commitIndex()).toBe(before);
  });

  test('reads pass the read barrier unless ?stale=true, and carry X-Berth-Index', async () => {
    // Proves linearizable reads by default and the local (stale) read opt-out.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const barriers = h.service.barrierCount();
    const fresh = await h.call('GET', '/v1/jobs/web');
    expect(h.service.barrierCount()).toBe(barriers + 1);
    expect(fresh.headers.get('x-berth-index')).toBe(String(h.commitIndex()));
    const stale = await h.call('GET', '/v1/jobs/web?stale=true');
    expect(stale.status).toBe(200);
    expect(h.service.barrierCount()).toBe(barriers + 1);
    const explicit = await h.call('GET', '/v1/jobs?stale=false');
    expect(explicit.status).toBe(200);
    expect(h.service.barrierCount()).toBe(barriers + 2);
  });

  test('defaults from the spec schema are applied before the command is proposed', async () => {
    // Proves the committed spec is the parsed one (count defaults to 1), not the raw body.
    const h = await createHarness();
    const res = await h.call('POST', '/v1/jobs', { body: { name: 'one', image: 'busybox' } });
    const body = (await res.json()) as { job: JobBody };
    expect(body.job.spec.count).toBe(1);
    const entry = h.service.events.read(h.commitIndex(), 1)[0]!;
    expect(entry.type).toBe('job.registered');
    expect((entry.data as { job: { count: number } }).job.count).toBe(1);
  });

  test('revert re-registers the previous version as a new one, or the version asked for', async () => {
    // Proves revert copies an old spec into a NEW version through the log (history grows).
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, image: 'nginx:1.28' } });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, image: 'nginx:1.29' } });
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/jobs/web/revert', { body: {} });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { index: number; version: number; revertedTo: number };
    expect(body).toMatchObject({ index: before + 1, version: 4, revertedTo: 2 });
    const current = (await (await h.call('GET', '/v1/jobs/web')).json()) as JobBody;
    expect([current.version, current.spec.driver.image]).toEqual([4, 'nginx:1.28']);
    const explicit = await h.call('POST', '/v1/jobs/web/revert', {
      token: h.tokens.deploy,
      body: { version: 1 },
    });
    expect(((await explicit.json()) as { version: number }).version).toBe(5);
    const latest = (await (await h.call('GET', '/v1/jobs/web')).json()) as JobBody;
    expect(latest.spec.driver.image).toBe('nginx:1.27');
  });

  test('revert garbage: unknown job or version is 404, bad bodies 400, read-only 403; nothing written', async () => {
    // Proves every refused revert leaves the log untouched and names the right code.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const before = h.commitIndex();
    const cases: Array<[string, unknown, number, string, string | undefined]> = [
      ['/v1/jobs/web/revert', {}, 404, 'job_version_not_found', undefined],
      ['/v1/jobs/web/revert', { version: 7 }, 404, 'job_version_not_found', undefined],
      ['/v1/jobs/ghost/revert', {}, 404, 'job_not_found', undefined],
      ['/v1/jobs/Bad_Name/revert', {}, 404, 'job_not_found', undefined],
      ['/v1/jobs/web/revert', { version: 'one' }, 400, 'invalid_body', undefined],
      ['/v1/jobs/web/revert', { version: 0 }, 400, 'invalid_body', undefined],
      ['/v1/jobs/web/revert', { version: 1, force: true }, 400, 'invalid_body', undefined],
      ['/v1/jobs/web/revert', '[1]', 400, 'invalid_body', undefined],
      ['/v1/jobs/web/revert', '{', 400, 'bad_json', undefined],
      ['/v1/jobs/web/revert', {}, 403, 'forbidden', h.tokens.read],
    ];
    for (const [path, body, status, code, token] of cases) {
      const res = await h.call('POST', path, { body, ...(token ? { token } : {}) });
      expect([path, JSON.stringify(body), res.status, await errorCode(res)]).toEqual([
        path,
        JSON.stringify(body),
        status,
        code,
      ]);
    }
    expect(h.commitIndex()).toBe(before);
  });

  test('allocations lists only that job’s allocations; unknown jobs and bad queries are refused', async () => {
    // Proves the per-job allocation route filters by job and validates its query.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, name: 'api' } });
    const alloc = { jobVersion: 1, node: 'n1', status: 'pending' };
    h.service.record('allocation.updated', { id: 'a1', job: 'web', ...alloc });
    h.service.record('allocation.updated', { id: 'a2', job: 'api', ...alloc });
    h.service.record('allocation.updated', { id: 'a3', job: 'web', ...alloc, status: 'healthy' });
    const res = await h.call('GET', '/v1/jobs/web/allocations', { token: h.tokens.read });
    expect(res.status).toBe(200);
    const items = ((await res.json()) as { items: { id: string; status: string }[] }).items;
    expect(items.map((a) => [a.id, a.status])).toEqual([
      ['a1', 'pending'],
      ['a3', 'healthy'],
    ]);
    const limited = await h.call('GET', '/v1/jobs/web/allocations?limit=1');
    expect(((await limited.json()) as { items: unknown[] }).items.length).toBe(1);
    for (const [path, status, code] of [
      ['/v1/jobs/ghost/allocations', 404, 'job_not_found'],
      ['/v1/jobs/web/allocations?limit=0', 400, 'invalid_query'],
      ['/v1/jobs/web/allocations?node=n1', 400, 'invalid_query'],
    ] as const) {
      const bad = await h.call('GET', path);
      expect([bad.status, await errorCode(bad)]).toEqual([status, code]);
    }
  });

  test('a job document the spec refuses is 400 with spec paths and writes nothing', async () => {
    // Proves the API validates with the real spec rules (cross-field ones too), not a stub.
    const h = await createHarness();
    const before = h.commitIndex();
    const bad = [
      { name: 'web' },
      { name: 'web', image: 'x', command: ['run'] },
      { ...sampleJob, check: { http: '/up', port: 'admin' } },
      { ...sampleJob, accessories: { db: { image: 'pg', replicas: 2 } } },
    ];
    for (const body of bad) {
      const res = await h.call('POST', '/v1/jobs', { body });
      expect([JSON.stringify(body), res.status, await errorCode(res)]).toEqual([
        JSON.stringify(body),
        400,
        'invalid_body',
      ]);
    }
    expect(h.commitIndex()).toBe(before);
  });
});

describe('POST /v1/jobs/:name/promote', () => {
  test('promotes the running deployment of the current version and answers with it', async () => {
    // Proves the route picks the current version's active deployment, commits once, and is repeatable.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, image: 'nginx:1.28' } });
    const d = { job: 'web', status: 'running' };
    h.service.record('deployment.updated', { id: 'd1', jobVersion: 1, ...d });
    h.service.record('deployment.updated', { id: 'd2', jobVersion: 2, ...d });
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/jobs/web/promote', { token: h.tokens.deploy });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { index: number; deployment: Record<string, unknown> };
    expect(body.index).toBe(before + 1);
    expect(body.deployment).toMatchObject({ id: 'd2', jobVersion: 2, promoted: true });
    const list = await h.call('GET', '/v1/deployments?job=web');
    const items = ((await list.json()) as { items: { id: string; promoted: boolean }[] }).items;
    expect(items.map((i) => [i.id, i.promoted])).toEqual([
      ['d1', false],
      ['d2', true],
    ]);
    const again = await h.call('POST', '/v1/jobs/web/promote');
    expect(again.status).toBe(200);
  });

  test('no active deployment is 404 deployment_not_found; unknown job, read-only token refused', async () => {
    // Proves each refusal has its code and writes nothing to the log.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, name: 'api' } });
    h.service.record('deployment.updated', {
      id: 'd1',
      job: 'web',
      jobVersion: 1,
      status: 'successful',
    });
    h.service.record('deployment.updated', {
      id: 'd2',
      job: 'api',
      jobVersion: 7,
      status: 'running',
    });
    const before = h.commitIndex();
    for (const [path, token, status, code] of [
      ['/v1/jobs/web/promote', h.tokens.deploy, 404, 'deployment_not_found'],
      ['/v1/jobs/api/promote', h.tokens.deploy, 404, 'deployment_not_found'],
      ['/v1/jobs/ghost/promote', h.tokens.deploy, 404, 'job_not_found'],
      ['/v1/jobs/Bad_Name/promote', h.tokens.deploy, 404, 'job_not_found'],
      ['/v1/jobs/web/promote', h.tokens.read, 403, 'forbidden'],
    ] as const) {
      const res = await h.call('POST', path, { token });
      expect([path, res.status, await errorCode(res)]).toEqual([path, status, code]);
    }
    expect(h.commitIndex()).toBe(before);
  });

  test('a service without promoteDeployment answers 501 not_implemented', async () => {
    // Proves the method is optional: the route refuses cleanly instead of crashing.
    const h = await createHarness();
    const bare = new Proxy(h.service, {
      get(target, key) {
        if (key === 'promoteDeployment') return undefined;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as ClusterService;
    const app = createApi({ service: bare, clock: h.clock });
    const headers = { authorization: `Bearer ${h.tokens.deploy}` };
    const res = await app.request('/v1/jobs/web/promote', { method: 'POST', headers });
    expect([res.status, await errorCode(res)]).toEqual([501, 'not_implemented']);
  });
});
