import { describe, expect, test } from 'bun:test';
import { expandJobs, parseJobSpec } from '../../src/spec/parse.ts';
import { type Job, JobSpecSchema } from '../../src/spec/schema.ts';

function jobsOf(text: string): Job[] {
  const result = parseJobSpec(text, 'app.yml');
  if (!result.ok) throw new Error(result.report);
  return result.jobs;
}

describe('defaults', () => {
  // Proves a two-line spec gets every documented default, with durations in ms.
  test('a minimal spec is filled in', () => {
    const [job] = jobsOf('name: api\nimage: nginx\n');
    expect(job).toEqual({
      name: 'api',
      type: 'service',
      driver: { kind: 'docker', image: 'nginx' },
      count: 1,
      resources: { cpuMhz: 100, memoryMb: 128 },
      env: {},
      secrets: [],
      ports: [],
      volumes: [],
      check: null,
      update: {
        maxParallel: 1,
        minHealthyTimeMs: 10_000,
        healthyDeadlineMs: 300_000,
        autoRevert: true,
        canary: 0,
        autoPromote: false,
      },
      restart: { attempts: 2, intervalMs: 1_800_000, delayMs: 15_000, mode: 'fail' },
      reschedule: {
        attempts: 0,
        intervalMs: 0,
        delayMs: 30_000,
        maxDelayMs: 3_600_000,
        unlimited: true,
      },
      constraints: [],
      spread: true,
      routes: [],
      upstreams: [],
    });
  });

  // Proves check timings default, and a lone port is used when check and route omit it.
  test('check and route defaults resolve the only port', () => {
    const [job] = jobsOf(
      'name: api\nimage: x\nports: {web: 8080}\ncheck: {http: /health}\nroutes:\n  - hosts: [API.Example.com]\n',
    );
    expect(job!.check).toEqual({
      kind: 'http',
      path: '/health',
      port: 'web',
      intervalMs: 5_000,
      timeoutMs: 2_000,
      graceMs: 10_000,
    });
    expect(job!.routes).toEqual([
      { hosts: ['api.example.com'], paths: ['/'], port: 'web', tls: false, redirectHttp: true },
    ]);
    expect(job!.ports).toEqual([{ label: 'web', to: 8080, static: null }]);
  });

  // Proves a tls route's custom certificate and redirect switch normalise to camelCase.
  test('tls routes keep their certificate secrets and redirect switch', () => {
    const [job] = jobsOf(
      'name: web\nimage: nginx\nports: {http: 80}\nroutes:\n  - hosts: [a.example.com]\n    tls: true\n    redirect_http: false\n    certificate:\n      certificate_pem: CRT\n      private_key_pem: KEY\n',
    );
    expect(job!.routes).toEqual([
      {
        hosts: ['a.example.com'],
        paths: ['/'],
        port: 'http',
        tls: true,
        redirectHttp: false,
        certificate: { certificatePemSecret: 'CRT', privateKeyPemSecret: 'KEY' },
      },
    ]);
  });

  // Proves sugar forms normalise: string commands split, secret lists and maps, env scalars.
  test('sugar forms normalise', () => {
    const [job] = jobsOf(
      [
        'name: tool',
        'command: bun run "src/main.ts" --flag',
        'workdir: /srv/tool',
        'env: {PORT: 3000, DEBUG: true}',
        'secrets: {DB_PASS: db-password}',
        'ports: {http: {to: 3000, static: 8080}}',
        'volumes: ["data:/srv/data:ro"]',
        'check: {command: "bin/ping --quick", interval: 1m30s}',
      ].join('\n'),
    );
    expect(job!.driver).toEqual({
      kind: 'exec',
      command: ['bun', 'run', 'src/main.ts', '--flag'],
      workdir: '/srv/tool',
    });
    expect(job!.env).toEqual({ DEBUG: 'true', PORT: '3000' });
    expect(job!.secrets).toEqual([{ env: 'DB_PASS', secret: 'db-password' }]);
    expect(job!.ports).toEqual([{ label: 'http', to: 3000, static: 8080 }]);
    expect(job!.volumes).toEqual([{ name: 'data', path: '/srv/data', readOnly: true }]);
    expect(job!.check).toMatchObject({ kind: 'command', command: ['bin/ping', '--quick'] });
    expect(job!.check!.intervalMs).toBe(90_000);
  });
});

describe('accessories', () => {
  // Proves accessories become ordinary jobs named <job>-<name>, sorted, callable by the main job.
  test('expand into jobs', () => {
    const jobs = jobsOf(
      [
        'name: shop',
        'image: shop:1',
        'upstreams: [billing]',
        'accessories:',
        '  redis:',
        '    image: redis:7',
        '  db:',
        '    image: postgres:16',
        '    volumes: [pg:/var/lib/postgresql/data]',
        '    count: 1',
      ].join('\n'),
    );
    expect(jobs.map((job) => job.name)).toEqual(['shop', 'shop-db', 'shop-redis']);
    expect(jobs[0]!.upstreams).toEqual(['billing', 'shop-db', 'shop-redis']);
    expect(jobs[1]!.volumes).toEqual([
      { name: 'pg', path: '/var/lib/postgresql/data', readOnly: false },
    ]);
    expect(jobs[2]!.driver).toEqual({ kind: 'docker', image: 'redis:7' });
    expect('accessories' in jobs[0]!).toBe(false);
  });

  // Proves an accessory cannot declare accessories of its own.
  test('do not nest', () => {
    const result = parseJobSpec(
      'name: a\nimage: x\naccessories:\n  db:\n    image: y\n    accessories: {}\n',
      'app.yml',
    );
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]!.path).toBe('accessories.db.accessories');
  });
});

describe('determinism', () => {
  // Proves two specs with the same content in different key order give byte-equal JSON.
  test('key order of the input does not matter', () => {
    const first = [
      'name: web',
      'image: x',
      'env: {B: "2", A: "1"}',
      'ports: {zeta: 2, alpha: 1}',
      'secrets: [Z_KEY, A_KEY]',
      'volumes: [b:/b, a:/a]',
      'update: {canary: 1, max_parallel: 2}',
      'accessories:',
      '  z: {image: z}',
      '  a: {image: a}',
    ].join('\n');
    const second = [
      'accessories:',
      '  a: {image: a}',
      '  z: {image: z}',
      'update: {max_parallel: 2, canary: 1}',
      'volumes: [a:/a, b:/b]',
      'secrets: [A_KEY, Z_KEY]',
      'ports: {alpha: 1, zeta: 2}',
      'env: {A: "1", B: "2"}',
      'image: x',
      'name: web',
    ].join('\n');
    const firstJson = JSON.stringify(jobsOf(first));
    expect(JSON.stringify(jobsOf(second))).toBe(firstJson);
    expect(firstJson.indexOf('"A":"1"')).toBeLessThan(firstJson.indexOf('"B":"2"'));
    expect(Object.keys(jobsOf(first)[0]!).slice(0, 4)).toEqual(['name', 'type', 'driver', 'count']);
  });
});

describe('documents', () => {
  // Proves each authoring document parses, on its own, to exactly the job parseJobSpec made.
  test('each document reparses to its job', async () => {
    const examplesDir = new URL('../../examples/', import.meta.url).pathname;
    for (const name of new Bun.Glob('*.yml').scanSync(examplesDir)) {
      const result = parseJobSpec(await Bun.file(examplesDir + name).text(), name);
      if (!result.ok) throw new Error(result.report);
      expect(result.documents).toHaveLength(result.jobs.length);
      result.documents.forEach((document, index) => {
        const reparsed = JobSpecSchema.parse(JSON.parse(JSON.stringify(document)));
        expect(expandJobs(reparsed)).toEqual([result.jobs[index]!]);
      });
    }
  });

  // Proves top-level x- keys (Kamal-style anchor holders) are ignored and anchors still work.
  test('x- keys hold anchors and are dropped', () => {
    const result = parseJobSpec(
      [
        'x-defaults: &defaults',
        '  image: shop:1',
        '  resources: {memory: 256}',
        'name: web',
        '<<: *defaults',
      ].join('\n'),
      'app.yml',
    );
    if (!result.ok) throw new Error(result.report);
    expect(result.jobs[0]!.resources.memoryMb).toBe(256);
    expect(result.documents[0]).not.toHaveProperty('x-defaults');
  });
});
