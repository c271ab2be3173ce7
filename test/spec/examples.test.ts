import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { parseJobSpec } from '../../src/spec/parse.ts';

const examplesDir = join(import.meta.dir, '../../examples');

async function parseExample(name: string) {
  const text = await Bun.file(join(examplesDir, name)).text();
  const result = parseJobSpec(text, name);
  if (!result.ok) throw new Error(result.report);
  return { text, result };
}

describe('examples', () => {
  // Proves every example in examples/ parses and stays within one screen (50 lines).
  test('every example parses', async () => {
    const names = [...new Bun.Glob('*.yml').scanSync(examplesDir)].sort();
    expect(names).toEqual(expect.arrayContaining(['hello-exec.yml', 'web.yml', 'worker.yml']));
    for (const name of names) {
      const { text } = await parseExample(name);
      expect(text.trimEnd().split('\n').length).toBeLessThanOrEqual(50);
    }
  });

  // Proves web.yml is the full web app: 3 replicas, tls route, check, secrets, postgres with a volume.
  test('web.yml describes a web app with its database', async () => {
    const { result } = await parseExample('web.yml');
    const [web, db] = result.jobs;
    expect(result.jobs.map((job) => job.name)).toEqual(['shop', 'shop-db']);
    expect(web!.count).toBe(3);
    expect(web!.routes[0]).toMatchObject({ port: 'http', tls: true, paths: ['/'] });
    expect(web!.check).toMatchObject({ kind: 'http', path: '/up', port: 'http' });
    expect(web!.secrets.map((binding) => binding.env)).toContain('RAILS_MASTER_KEY');
    expect(web!.update.maxParallel).toBe(1);
    expect(web!.upstreams).toEqual(['shop-db']);
    expect(db!.driver).toEqual({ kind: 'docker', image: 'postgres:16' });
    expect(db!.volumes[0]!.name).toBe('shop-pg');
    expect(db!.routes).toEqual([]);
  });

  // Proves worker.yml is a job without ports or routes.
  test('worker.yml has no ports', async () => {
    const { result } = await parseExample('worker.yml');
    expect(result.jobs).toHaveLength(1);
    expect(result.jobs[0]!.ports).toEqual([]);
    expect(result.jobs[0]!.routes).toEqual([]);
  });

  // Proves hello-exec.yml's command really serves HTTP on the port the supervisor passes.
  test('hello-exec.yml runs a working HTTP server', async () => {
    const { result } = await parseExample('hello-exec.yml');
    const job = result.jobs[0]!;
    if (job.driver.kind !== 'exec') throw new Error('hello-exec must use the exec driver');
    const [program, ...args] = job.driver.command;
    expect(program).toBe('bun');
    const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
    const port = probe.port;
    await probe.stop(true);
    const child = Bun.spawn([process.execPath, ...args], {
      env: { ...process.env, BERTH_PORT_HTTP: String(port) },
      stdout: 'ignore',
      stderr: 'pipe',
    });
    try {
      const body = await fetchWithRetry(
        `http://127.0.0.1:${port}${job.check!.kind === 'http' ? job.check!.path : '/'}`,
      );
      expect(body).toBe('hello from berth\n');
    } finally {
      child.kill();
      await child.exited;
    }
  });
});

/** Polls until the server answers; bounded so a broken example fails instead of hanging. */
async function fetchWithRetry(url: string): Promise<string> {
  const attemptsMax = 100;
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    try {
      const response = await fetch(url);
      return await response.text();
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`no answer from ${url}`);
}
