import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliHarness, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h.close();
});

/** Writes a spec file into the harness's temporary directory and returns its path. */
function specFile(fileName: string, text: string): string {
  const path = join(h.configDir, fileName);
  writeFileSync(path, text);
  return path;
}

/** A one-job web spec (no accessories) named `name`. */
function webSpec(name: string, image = 'nginx:1.27', count = 2, extra = ''): string {
  return `name: ${name}\nimage: ${image}\ncount: ${count}\nports:\n  http: 8080\ncheck:\n  http: /up\n${extra}`;
}

/** Records one allocation as the supervisor would report it. */
function alloc(id: string, job: string, jobVersion: number, status: string): void {
  h.service.record('allocation.updated', { id, job, jobVersion, node: 'n1', status });
}

/** The version printed in `registered NAME vN (log index I)`, or null before it is printed. */
function registeredVersion(stdout: string, name: string): number | null {
  const match = new RegExp(`registered ${name} v(\\d+) \\(log index \\d+\\)`).exec(stdout);
  return match ? Number(match[1]) : null;
}

describe('berth deploy', () => {
  test('registers the accessories first, then the main job, and --detach returns at once', async () => {
    // Proves every document of the spec is POSTed (accessories first) and nothing is awaited.
    const file = specFile(
      'shop.yml',
      `${webSpec('shop')}accessories:\n  db:\n    image: postgres:16\n    ports:\n      pg: 5432\n`,
    );
    const before = h.service.events.commitIndex();
    const r = await h.run(['deploy', '-f', file, '--detach']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      `registered shop-db v1 (log index ${before + 1})`,
      `registered shop v1 (log index ${before + 2})`,
    ]);
    const main = h.service.getJob('shop');
    const db = h.service.getJob('shop-db');
    expect(main?.spec.driver).toEqual({ kind: 'docker', image: 'nginx:1.27' });
    expect(main?.spec.upstreams).toEqual(['shop-db']);
    expect(db?.spec.driver).toEqual({ kind: 'docker', image: 'postgres:16' });
    expect(h.service.listAllocations({ job: 'shop', limit: 10 })).toEqual([]);
  });

  test('a spec with an error exits 2, prints file:line:col and registers nothing', async () => {
    // Proves validation is local: the log index does not move and the report names the line.
    const file = specFile('bad.yml', 'name: bad\nimage: nginx\ncount: three\n');
    const before = h.service.events.commitIndex();
    const r = await h.run(['deploy', '-f', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yml:3:\d+: count: expected a number/);
    expect(r.stderr).toContain('nothing was sent');
    expect(r.stdout).toBe('');
    expect(h.service.events.commitIndex()).toBe(before);
    expect(h.service.getJob('bad')).toBeNull();
  });

  test('usage errors (no -f, an unreadable file, a bad --timeout) exit 2 or 1 and send nothing', async () => {
    // Proves argument problems are caught before any request.
    const before = h.service.events.commitIndex();
    const file = specFile('ok.yml', webSpec('never'));
    expect((await h.run(['deploy'])).code).toBe(2);
    const timeout = await h.run(['deploy', '-f', file, '--timeout', 'soon']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout');
    const missing = await h.run(['deploy', '-f', join(h.configDir, 'nope.yml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yml');
    expect(h.service.events.commitIndex()).toBe(before);
  });

  test('a refused registration says what was registered so far', async () => {
    // Proves a server-side refusal is reported with the partial state (here: nothing).
    const before = h.service.events.commitIndex();
    const file = specFile('ro.yml', webSpec('readonly'));
    const r = await h.run(['deploy', '-f', file], { token: h.tokens.read });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('registering readonly failed; registered so far: nothing');
    expect(h.service.events.commitIndex()).toBe(before);
  });

  test('follows the new version until count allocations are healthy, printing changes', async () => {
    // Proves the follow loop ignores old versions, prints progress when counts change, exits 0.
    await h.run(['deploy', '-f', specFile('f1.yml', webSpec('follow')), '--detach']);
    alloc('old-1', 'follow', 1, 'healthy');
    alloc('old-2', 'follow', 1, 'healthy');
    let driven = 0;
    const r = await h.run(['deploy', '-f', specFile('f2.yml', webSpec('follow', 'nginx:1.28'))], {
      onOut: (text) => {
        if (text.startsWith('registered follow v2')) {
          alloc('new-1', 'follow', 2, 'healthy');
          alloc('new-2', 'follow', 2, 'pending');
          driven++;
        } else if (text.startsWith('follow v2: 1/2 healthy, 1 pending')) {
          alloc('new-2', 'follow', 2, 'healthy');
          driven++;
        }
      },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(driven).toBe(2);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^registered follow v2 \(log index \d+\)$/),
      'follow v2: 1/2 healthy, 1 pending',
      'follow v2: 2/2 healthy',
      'rollout complete: follow v2',
    ]);
  });

  test('exits 1 naming the failed allocation and what to do next', async () => {
    // Proves a failed new-version allocation ends the follow with its id, status and next steps.
    const r = await h.run(['deploy', '-f', specFile('x.yml', webSpec('crashy'))], {
      onOut: (text) => {
        const version = registeredVersion(text, 'crashy');
        if (version !== null) {
          alloc('c-ok', 'crashy', version, 'healthy');
          alloc('c-bad', 'crashy', version, 'failed');
        }
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('crashy v1 failed: allocation c-bad on n1 is failed');
    expect(r.stderr).toContain('berth job status crashy');
    expect(r.stderr).toContain('berth rollback crashy');
  });

  test('exits 1 when the deployment of the new version fails, even without failed allocations', async () => {
    // Proves the deployment watcher's verdict is honoured (auto-revert may keep allocations up).
    const r = await h.run(['deploy', '-f', specFile('d.yml', webSpec('depfail'))], {
      onOut: (text) => {
        const version = registeredVersion(text, 'depfail');
        if (version === null) return;
        alloc('d-1', 'depfail', version, 'unhealthy');
        const deployment = { id: 'dep-9', job: 'depfail', jobVersion: version, status: 'failed' };
        h.service.record('deployment.updated', deployment);
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('depfail v1 failed: deployment dep-9 is failed');
  });

  test('gives up at --timeout with the counts so far, exit 1', async () => {
    // Proves the loop is bounded by the timeout and says the rollout may still finish.
    const r = await h.run([
      'deploy',
      '-f',
      specFile('t.yml', webSpec('slow')),
      '--timeout',
      '50ms',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('slow v1: 0/2 healthy, waiting for placement');
    expect(r.stderr).toContain('timed out after 50ms');
    expect(r.stderr).toContain('berth job status slow');
  });

  test('an interrupt (Ctrl-C) stops following but says the rollout goes on', async () => {
    // Proves interrupting the follow exits 1 without pretending the deploy was undone.
    const controller = new AbortController();
    const r = await h.run(['deploy', '-f', specFile('i.yml', webSpec('interrupted'))], {
      signal: controller.signal,
      onOut: (text) => {
        if (text.startsWith('registered interrupted')) controller.abort();
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('stopped following');
    expect(r.stderr).toContain('berth job status interrupted');
    expect(h.service.getJob('interrupted')?.version).toBe(1);
  });

  test('a batch job is done when count allocations are complete; --json prints one summary', async () => {
    // Proves batch jobs finish on `complete` and --json gives a single parsable document.
    const spec = 'name: etl\ntype: batch\ncommand: [/bin/true]\ncount: 1\n';
    // --json prints nothing until the end, so the allocation is reported up front: the
    // job is new, so its first version is 1.
    alloc('etl-1', 'etl', 1, 'complete');
    const r = await h.run(['deploy', '-f', specFile('b.yml', spec), '--json', '--timeout', '5s']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.outcome).toBe('succeeded');
    expect(summary.registered).toEqual([{ name: 'etl', version: 1, index: expect.any(Number) }]);
    expect(summary.progress[0]).toMatchObject({ name: 'etl', counts: { complete: 1 }, done: true });
  });
});

describe('berth plan', () => {
  test('shows new jobs, unchanged ones and field changes, without registering', async () => {
    // Proves plan compares with GET /v1/jobs/:name, classifies updates, and writes nothing.
    await h.run(['deploy', '-f', specFile('p1.yml', webSpec('plan')), '--detach']);
    const changed = specFile(
      'p2.yml',
      `${webSpec('plan', 'nginx:1.28', 3)}accessories:\n  cache:\n    image: redis:7\n`,
    );
    const before = h.service.events.commitIndex();
    const r = await h.run(['plan', '-f', changed]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('plan: update (destructive: allocations are replaced)');
    expect(r.stdout).toContain('  image: nginx:1.27 → nginx:1.28');
    expect(r.stdout).toContain('  count: 2 → 3 (place 1)');
    expect(r.stdout).toContain('  upstreams: changed');
    expect(r.stdout).toContain('plan-cache: new job (place 1)');
    expect(r.stdout).toContain('Nothing was registered');
    expect(h.service.events.commitIndex()).toBe(before);
    expect(h.service.getJob('plan-cache')).toBeNull();
  });

  test('count-only changes are a scale, policy changes in-place, the same spec no change', async () => {
    // Proves the in-place / scale / destructive classification on the JSON output.
    await h.run(['deploy', '-f', specFile('q1.yml', webSpec('quiet')), '--detach']);
    const plan = async (text: string) =>
      JSON.parse((await h.run(['plan', '-f', specFile('q.yml', text), '--json'])).stdout)[0];
    expect(await plan(webSpec('quiet'))).toMatchObject({ action: 'none', changes: [] });
    expect(await plan(webSpec('quiet', 'nginx:1.27', 1))).toMatchObject({
      action: 'update',
      update: 'scale',
      changes: [{ field: 'count', from: '2', to: '1' }],
    });
    const policy = webSpec('quiet', 'nginx:1.27', 2, 'update:\n  max_parallel: 2\n');
    expect(await plan(policy)).toMatchObject({
      update: 'in-place',
      changes: [{ field: 'update' }],
    });
    const env = webSpec('quiet', 'nginx:1.27', 2, 'env:\n  MODE: fast\n');
    expect(await plan(env)).toMatchObject({ update: 'destructive', changes: [{ field: 'env' }] });
    const bad = await h.run(['plan', '-f', specFile('q-bad.yml', 'name: quiet\n')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/q-bad\.yml:\d+:\d+/);
  });
});

describe('berth rollback', () => {
  test('registers the previous spec as a new version, then an explicit one, and follows it', async () => {
    // Proves rollback goes through POST /v1/jobs/:name/revert and the shared follow loop.
    await h.run(['deploy', '-f', specFile('r1.yml', webSpec('back', 'app:1')), '--detach']);
    await h.run(['deploy', '-f', specFile('r2.yml', webSpec('back', 'app:2')), '--detach']);
    const r = await h.run(['rollback', 'back', '--detach'], { token: h.tokens.deploy });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /rolled back back to the spec of v1: registered back v3 \(log index \d+\)/,
    );
    expect(h.service.getJob('back')?.spec.driver).toEqual({ kind: 'docker', image: 'app:1' });
    const followed = await h.run(['rollback', 'back', '2'], {
      onOut: (text) => {
        if (!text.includes('registered back v4')) return;
        alloc('b-1', 'back', 4, 'healthy');
        alloc('b-2', 'back', 4, 'healthy');
      },
    });
    expect(followed.code).toBe(0);
    expect(followed.stdout).toContain('back v4: 2/2 healthy');
    expect(h.service.getJob('back')?.spec.driver).toEqual({ kind: 'docker', image: 'app:2' });
  });

  test('unknown jobs or versions exit 1 with the API code; bad arguments exit 2', async () => {
    // Proves rollback's failures are reported, not swallowed, and write nothing.
    const before = h.service.events.commitIndex();
    const ghost = await h.run(['rollback', 'ghost']);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain('[job_not_found]');
    const version = await h.run(['rollback', 'back', '99']);
    expect(version.code).toBe(1);
    expect(version.stderr).toContain('[job_version_not_found]');
    for (const argv of [['rollback'], ['rollback', 'back', 'two'], ['rollback', 'a', '1', 'b']]) {
      expect((await h.run(argv)).code).toBe(2);
    }
    expect((await h.run(['rollback', 'back'], { token: h.tokens.read })).code).toBe(4);
    expect(h.service.events.commitIndex()).toBe(before);
  });
});
