import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { parseSince } from '../../src/cli/commands/logs.ts';
import { type CliHarness, registerJob, startCliHarness, waitUntil } from './harness.ts';

let h: CliHarness;
const t0 = 1_700_000_000_000;

beforeAll(async () => {
  h = await startCliHarness();
  await registerJob(h, 'web');
  const alloc = { job: 'web', jobVersion: 1, status: 'healthy' };
  h.service.record('allocation.updated', { id: 'a1', node: 'n1', ...alloc });
  h.service.record('allocation.updated', { id: 'a2', node: 'n2', ...alloc });
  h.service.appendLog('a1', 'stdout', 'listening on 8080', t0 + 1);
  h.service.appendLog('a2', 'stderr', 'warning: cold cache', t0 + 2);
  h.service.appendLog('a1', 'stdout', 'GET /up 200', t0 + 3);
});

afterAll(async () => {
  await h.close();
});

describe('berth logs', () => {
  test('a job prints merged lines with [allocId stream] prefixes', async () => {
    // Proves the job is tried first and its lines come merged by time, tagged (read-only ok).
    const r = await h.run(['logs', 'web'], { token: h.tokens.read });
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      '[a1 stdout] listening on 8080',
      '[a2 stderr] warning: cold cache',
      '[a1 stdout] GET /up 200',
    ]);
  });

  test('an allocation id prints plain lines; --tail keeps the newest', async () => {
    // Proves the fallback from job to allocation on 404 and the tail flag.
    const r = await h.run(['logs', 'a1', '--tail', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('GET /up 200\n');
  });

  test('--json prints one NDJSON object per line', async () => {
    // Proves scripts get parseable objects carrying stream, time and allocation.
    const r = await h.run(['logs', 'web', '--json', '--tail', '2']);
    expect(r.code).toBe(0);
    const parsed = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(parsed).toEqual([
      { line: { allocId: 'a2', stream: 'stderr', line: 'warning: cold cache', atMs: t0 + 2 } },
      { line: { allocId: 'a1', stream: 'stdout', line: 'GET /up 200', atMs: t0 + 3 } },
    ]);
  });

  test('unknown target exits 1, bad flags exit 2, no token exits 4', async () => {
    // Proves the documented exit codes and that a bad --since never reaches the server.
    const missing = await h.run(['logs', 'nothing-here']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('[allocation_not_found]');
    expect((await h.run(['logs', 'web', '--since', 'last tuesday'])).code).toBe(2);
    expect((await h.run(['logs', 'web', '--tail', 'many'])).code).toBe(2);
    expect((await h.run(['logs', 'web', '--tail', '100000'])).code).toBe(2);
    expect((await h.run(['logs'])).code).toBe(2);
    expect((await h.run(['logs', 'web'], { token: null })).code).toBe(4);
  });

  test('an unreachable node exits 3 for an allocation and warns for a job', async () => {
    // Proves node outages map to exit 3 and a job still prints what it could get.
    h.service.setNodeUnreachable('n2', true);
    try {
      const alloc = await h.run(['logs', 'a2']);
      expect(alloc.code).toBe(3);
      expect(alloc.stderr).toContain('[node_unreachable]');
      const job = await h.run(['logs', 'web']);
      expect(job.code).toBe(0);
      expect(job.stdout).not.toContain('cold cache');
      expect(job.stdout).toContain('[a1 stdout] GET /up 200');
      expect(job.stderr).toContain('no logs from a2 on node n2');
    } finally {
      h.service.setNodeUnreachable('n2', false);
    }
  });

  test('-f prints new lines as they are appended and Ctrl-C exits 0', async () => {
    // Proves follow through the real server: backlog, then live lines, then a clean stop.
    const controller = new AbortController();
    let stdout = '';
    const running = h.run(['logs', 'a1', '-f', '--tail', '1'], {
      signal: controller.signal,
      onOut: (t) => {
        stdout += t;
      },
    });
    await waitUntil(() => stdout.includes('GET /up 200'));
    h.service.appendLog('a1', 'stdout', 'GET /new 201', t0 + 10);
    // The server polls every apiLogFollowPollMs (real time here): allow a few polls.
    await waitUntil(() => stdout.includes('GET /new 201'), 2_000);
    controller.abort();
    expect((await running).code).toBe(0);
    expect(stdout).toBe('GET /up 200\nGET /new 201\n');
  });
});

describe('parseSince', () => {
  test('reads durations and RFC 3339 times, refuses the rest', () => {
    // Proves both accepted forms and that ambiguous input is a usage error.
    const now = 10_000_000;
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('2026-01-31T12:00:00Z', now)).toBe(Date.UTC(2026, 0, 31, 12));
    expect(parseSince('2026-01-31T12:00:00.5+01:00', now)).toBe(
      Date.UTC(2026, 0, 31, 11, 0, 0, 500),
    );
    for (const bad of ['10', '10 m', '-5m', '2026-01-31', 'soon']) {
      expect(() => parseSince(bad, now)).toThrow('--since');
    }
  });
});
