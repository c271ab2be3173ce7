import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type CliHarness, registerJob, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
  await registerJob(h, 'web', 'nginx:1.27');
  await registerJob(h, 'web', 'nginx:1.28');
  await registerJob(h, 'worker', 'busybox:1');
  h.service.record('allocation.updated', {
    id: 'a-1',
    job: 'web',
    jobVersion: 2,
    node: 'n1',
    status: 'healthy',
  });
  h.service.record('deployment.updated', {
    id: 'd-1',
    job: 'web',
    jobVersion: 2,
    status: 'successful',
  });
});

afterAll(async () => {
  await h.close();
});

describe('berth job', () => {
  test('ls prints one row per job with its current version and image', async () => {
    // Proves the table reflects the latest version of each job (read-only token enough).
    const r = await h.run(['job', 'ls'], { token: h.tokens.read });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/NAME\s+VERSION\s+STATUS\s+IMAGE\s+COUNT\s+UPDATED/);
    expect(r.stdout).toMatch(/web\s+2\s+running\s+nginx:1\.28\s+2/);
    expect(r.stdout).toMatch(/worker\s+1\s+running\s+busybox:1\s+2/);
  });

  test('ls --json parses as the job list', async () => {
    // Proves scripts get structured jobs.
    const jobs = JSON.parse((await h.run(['job', 'ls', '--json'])).stdout);
    expect(jobs.map((j: { name: string; version: number }) => [j.name, j.version])).toEqual([
      ['web', 2],
      ['worker', 1],
    ]);
  });

  test('status shows the job, its allocations and deployments', async () => {
    // Proves status joins the job with the allocation and deployment routes for that job.
    const r = await h.run(['job', 'status', 'web']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('image:    nginx:1.28');
    expect(r.stdout).toMatch(/a-1\s+2\s+n1\s+healthy/);
    expect(r.stdout).toMatch(/d-1\s+2\s+successful/);
    const json = JSON.parse((await h.run(['job', 'status', 'web', '--json'])).stdout);
    expect(json.job.name).toBe('web');
    expect(json.allocations.map((a: { id: string }) => a.id)).toEqual(['a-1']);
    expect(json.deployments.map((d: { id: string }) => d.id)).toEqual(['d-1']);
  });

  test('status of a job without allocations says so', async () => {
    // Proves the empty case reads as a sentence, not an empty table.
    const r = await h.run(['job', 'status', 'worker']);
    expect(r.stdout).toContain('allocations: none yet');
  });

  test('status of an unknown job exits 1 and points to job ls', async () => {
    // Proves not-found is exit 1 with the next step, also for names that cannot exist.
    for (const name of ['ghost', 'Bad/Name?x=1']) {
      const r = await h.run(['job', 'status', name]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[job_not_found]');
      expect(r.stderr).toContain('berth job ls');
    }
  });

  test('history lists versions newest first', async () => {
    // Proves history shows each registered version with its image.
    const r = await h.run(['job', 'history', 'web']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').slice(1);
    expect(rows[0]).toMatch(/^2\s+nginx:1\.28/);
    expect(rows[1]).toMatch(/^1\s+nginx:1\.27/);
    const json = JSON.parse((await h.run(['job', 'history', 'web', '--json'])).stdout);
    expect(json.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  });

  test('stop needs a deploy token, then stops the job', async () => {
    // Proves a read-only token is refused (exit 4) and a deploy token stops the job.
    const refused = await h.run(['job', 'stop', 'worker'], { token: h.tokens.read });
    expect(refused.code).toBe(4);
    const r = await h.run(['job', 'stop', 'worker'], { token: h.tokens.deploy });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/job worker stopped \(log index \d+\)/);
    expect(h.service.getJob('worker')?.status).toBe('stopped');
    const missing = await h.run(['job', 'stop', 'ghost']);
    expect(missing.code).toBe(1);
  });
});
