import { afterAll, expect, test } from 'bun:test';
import { freePorts } from '../../src/core/ports-testing.ts';
import { errorFailure, startHttpLoad, statusFailure } from './http-load.ts';

// A stand-in router on loopback: 200 for most paths, the router's JSON 502 for one target's.
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (req) => {
    if (req.headers.get('host') !== 'hello.localhost')
      return new Response('no route', { status: 404 });
    if (new URL(req.url).searchParams.get('bench')?.startsWith('bad.'))
      return Response.json(
        { error: { code: 'upstream_unavailable', message: 'x' } },
        { status: 502 },
      );
    return new Response('hello');
  },
});
afterAll(() => server.stop(true));

/** Polls `done` every 10 ms, at most `timeoutMs` (a loaded machine may be slow to get there). */
async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await Bun.sleep(10);
}

test('the routed load keeps every failure with its target, unique path and kind', async () => {
  // Proves each request carries a unique path, a 502 keeps the router's error code, a closed port is "refused", and successes carry their target.
  const [closedPort] = freePorts(1) as [number];
  const load = startHttpLoad({
    targets: () => [
      { label: 'good', port: server.port! },
      { label: 'bad', port: server.port! },
      { label: 'gone', port: closedPort },
    ],
    intervalMs: 5,
    timeoutMs: 2_000,
    inFlightMax: 64,
    host: 'hello.localhost',
  });
  const byTarget = (t: string) => load.samples.filter((s) => s.target === t);
  await until(() => ['good', 'bad', 'gone'].every((t) => byTarget(t).length > 3));
  await load.stop();
  expect(byTarget('good').length).toBeGreaterThan(3);
  expect(byTarget('good').every((s) => s.ok && s.failure === undefined)).toBe(true);
  const bad = byTarget('bad');
  expect(bad.length).toBeGreaterThan(3);
  expect(bad.every((s) => !s.ok)).toBe(true);
  expect(bad[0]?.failure).toMatchObject({
    target: 'bad',
    kind: 'status',
    status: 502,
    code: 'upstream_unavailable',
  });
  const gone = byTarget('gone');
  expect(gone.every((s) => s.failure?.kind === 'refused')).toBe(true);
  const paths = load.samples.flatMap((s) => (s.failure ? [s.failure.path] : []));
  expect(new Set(paths).size).toBe(paths.length);
  expect(paths).toContain('/?bench=bad.0');
});

test('a request the client cannot send under its in-flight bound counts as failed, not skipped', async () => {
  // Proves the in-flight bound holds against a server that never answers, and every turn past it is a `not_sent` failure rather than a silent gap.
  const stuck = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  try {
    const load = startHttpLoad({
      targets: () => [{ label: 'stuck', port: stuck.port }],
      intervalMs: 5,
      timeoutMs: 1_000,
      inFlightMax: 3,
      host: 'hello.localhost',
    });
    const notSent = () => load.samples.filter((s) => s.failure?.kind === 'not_sent').length;
    await until(() => notSent() > 3);
    await load.stop();
    const kinds = load.samples.map((s) => s.failure?.kind);
    // stop() waits for the three stuck requests, which end at the client's timeout.
    expect(kinds.filter((k) => k === 'timeout')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'not_sent').length).toBeGreaterThan(3);
    expect(kinds.every((k) => k === 'timeout' || k === 'not_sent')).toBe(true);
  } finally {
    stuck.stop(true);
  }
});

test('failures are classified by what the client saw', () => {
  // Proves our own timeout, a refused connection and a broken connection get distinct kinds, and a non-JSON error body keeps only its status.
  expect(errorFailure(new DOMException('t', 'TimeoutError'))).toEqual({
    kind: 'timeout',
    error: 'TimeoutError',
  });
  expect(errorFailure(Object.assign(new Error('r'), { code: 'ECONNREFUSED' }))).toEqual({
    kind: 'refused',
    error: 'ECONNREFUSED',
  });
  expect(errorFailure(Object.assign(new Error('c'), { code: 'ECONNRESET' }))).toEqual({
    kind: 'reset',
    error: 'ECONNRESET',
  });
  expect(statusFailure(503, '<html>busy</html>')).toEqual({ kind: 'status', status: 503 });
  expect(statusFailure(503, '{"error":{"code":"no_upstream"}}')).toEqual({
    kind: 'status',
    status: 503,
    code: 'no_upstream',
  });
});
