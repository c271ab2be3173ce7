import { afterAll, describe, expect, test } from 'bun:test';
import { freePort } from '../core/ports-testing.ts';
import { probeHost, runProbe } from './probes.ts';

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === '/up') return new Response('ok');
    if (path === '/moved') return new Response(null, { status: 302, headers: { location: '/up' } });
    if (path === '/slow') return Bun.sleep(2_000).then(() => new Response('late'));
    return new Response('down', { status: 503 });
  },
});
afterAll(() => server.stop(true));

describe('health probes', () => {
  test('http: 2xx and 3xx pass, 5xx and refused connections fail', async () => {
    // Proves the HTTP check's verdicts against a real local server, with details that
    // name the status or the failure.
    const at = { host: '127.0.0.1', port: server.port!, timeoutMs: 1_000 };
    expect(await runProbe({ kind: 'http', path: '/up', ...at }, 'exec')).toEqual({
      ok: true,
      detail: 'HTTP 200 from /up',
    });
    expect((await runProbe({ kind: 'http', path: '/moved', ...at }, 'exec')).ok).toBe(true);
    expect(await runProbe({ kind: 'http', path: '/down', ...at }, 'exec')).toEqual({
      ok: false,
      detail: 'HTTP 503 from /down',
    });
    const refused = await runProbe({ ...at, kind: 'http', path: '/up', port: freePort() }, 'exec');
    expect(refused.ok).toBe(false);
    expect(refused.detail).toContain('HTTP check of /up failed');
  });

  test('http: a response slower than the timeout fails as timed out', async () => {
    // Proves a hung endpoint cannot hold a probe beyond its timeout.
    const at = { host: '127.0.0.1', port: server.port!, timeoutMs: 100 };
    const slow = await runProbe({ kind: 'http', path: '/slow', ...at }, 'exec');
    expect(slow).toEqual({ ok: false, detail: 'HTTP check of /slow failed: timed out' });
  });

  test('tcp: a listening port passes, a closed one fails', async () => {
    // Proves the TCP check connects for real and reports refusals.
    const open = await runProbe(
      { kind: 'tcp', host: '127.0.0.1', port: server.port!, timeoutMs: 1_000 },
      'exec',
    );
    expect(open.ok).toBe(true);
    const closed = await runProbe(
      { kind: 'tcp', host: '127.0.0.1', port: freePort(), timeoutMs: 1_000 },
      'exec',
    );
    expect(closed.ok).toBe(false);
    expect(closed.detail).toContain('failed');
  });

  test('command: exit 0 passes with the task env; non-zero, missing and slow commands fail', async () => {
    // Proves command checks run on the host with the task's environment, report the exit
    // code and output, and are killed at their timeout.
    const env = { WANT: 'yes' };
    const pass = await runProbe(
      {
        kind: 'command',
        argv: ['sh', '-c', 'test "$WANT" = yes && echo fine'],
        env,
        timeoutMs: 2_000,
      },
      'exec',
    );
    expect(pass).toEqual({ ok: true, detail: 'check command sh exited with code 0: fine' });
    const fail = await runProbe(
      { kind: 'command', argv: ['sh', '-c', 'exit 3'], env, timeoutMs: 2_000 },
      'exec',
    );
    expect(fail).toEqual({ ok: false, detail: 'check command sh exited with code 3' });
    const missing = await runProbe(
      { kind: 'command', argv: ['/nonexistent/check'], env, timeoutMs: 2_000 },
      'exec',
    );
    expect(missing.ok).toBe(false);
    const slow = await runProbe(
      { kind: 'command', argv: ['sleep', '5'], env, timeoutMs: 100 },
      'exec',
    );
    expect(slow).toEqual({ ok: false, detail: 'check command sleep timed out after 100ms' });
  });

  test('command checks of docker tasks fail with the reason instead of running on the host', async () => {
    // Proves a docker task's command is never run outside its container.
    const outcome = await runProbe(
      { kind: 'command', argv: ['true'], env: {}, timeoutMs: 1_000 },
      'docker',
    );
    expect(outcome).toEqual({
      ok: false,
      detail: 'command checks are not supported for docker tasks yet',
    });
  });

  test('wildcard bind addresses are probed on loopback', () => {
    // Proves a port published on 0.0.0.0 or :: is checked where it is reachable.
    expect(probeHost('0.0.0.0')).toBe('127.0.0.1');
    expect(probeHost('::')).toBe('::1');
    expect(probeHost('10.0.0.5')).toBe('10.0.0.5');
  });
});
