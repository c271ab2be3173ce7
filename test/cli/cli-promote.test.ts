import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type CliHarness, registerJob, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
  await registerJob(h, 'web', 'nginx:1.27');
  await registerJob(h, 'web', 'nginx:1.28');
  await registerJob(h, 'worker', 'busybox:1');
  h.service.record('deployment.updated', {
    id: 'd-2',
    job: 'web',
    jobVersion: 2,
    status: 'running',
  });
});

afterAll(async () => {
  await h.close();
});

describe('berth promote', () => {
  test('needs a deploy token, then promotes the current version’s deployment', async () => {
    // Proves a read-only token is refused (exit 4) and a deploy token promotes d-2.
    const refused = await h.run(['promote', 'web'], { token: h.tokens.read });
    expect(refused.code).toBe(4);
    expect(h.service.listDeployments({ job: 'web', limit: 10 })[0]?.promoted).toBe(false);
    const r = await h.run(['promote', 'web'], { token: h.tokens.deploy });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deployment d-2 of web version 2 promoted.*\(log index \d+\)/);
    expect(h.service.listDeployments({ job: 'web', limit: 10 })[0]?.promoted).toBe(true);
    const json = JSON.parse((await h.run(['promote', 'web', '--json'])).stdout);
    expect(json.deployment).toMatchObject({ id: 'd-2', promoted: true });
  });

  test('a job without a running deployment, or no job at all, exits 1 with the code', async () => {
    // Proves the API's not-found codes reach the user.
    const none = await h.run(['promote', 'worker']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('[deployment_not_found]');
    const ghost = await h.run(['promote', 'ghost']);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain('[job_not_found]');
  });

  test('the job name is required', async () => {
    // Proves usage errors are caught before any request.
    const r = await h.run(['promote']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('berth promote JOB');
  });
});
