/**
 * The proxy's request path through a real Router and scripted upstreams on 127.0.0.1:
 * what the raw client changes must not be visible to clients (retries, timeouts, aborts,
 * draining), and what it writes is what the upstream should see.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { RouteTable } from '../../actors/router/index.ts';
import { createLogger, silentLogger } from '../core/logger.ts';
import type { RouterLimits } from './config.ts';
import { localRouteTable } from './route-table-testing.ts';
import { Router } from './router.ts';
import { okResponse, type ScriptedUpstream, scriptedUpstream } from './upstream-conn-testing.ts';
import { upstreamDeadlines } from './upstream-deadlines.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tableFor(ports: number[]): RouteTable {
  return localRouteTable(ports.map((port, i) => ({ id: `a${i}`, job: 'web', port })));
}

function startRouter(
  upstreams: ScriptedUpstream[],
  over: Partial<RouterLimits> = {},
  logger = silentLogger,
) {
  const router = new Router({
    listen: { hostname: '127.0.0.1', port: 0 },
    logger,
    limits: over,
  });
  router.start();
  router.setTable(tableFor(upstreams.map((u) => u.port)));
  cleanups.push(() => router.stop({ force: true }));
  const base = `http://127.0.0.1:${router.port}`;
  const send = (path: string, init: RequestInit = {}) =>
    fetch(base + path, { ...init, headers: { host: 'web.test', ...init.headers } });
  return { router, send };
}

function upstream(script: Parameters<typeof scriptedUpstream>[0]): ScriptedUpstream {
  const server = scriptedUpstream(script);
  cleanups.push(() => server.stop());
  return server;
}

async function waitUntil(condition: () => boolean, attemptsMax = 400): Promise<boolean> {
  for (let i = 0; i < attemptsMax && !condition(); i++) await Bun.sleep(5);
  return condition();
}

describe('proxyHttp over the raw upstream client', () => {
  test('a GET on a keep-alive connection the upstream dropped is resent; the client sees 200', async () => {
    // Proves the stale keep-alive retry is invisible: no error, no ejection, same upstream.
    const server = upstream((request) =>
      request.indexOnConnection === 2
        ? { close: true }
        : { chunks: [okResponse(`conn ${request.connection}`)] },
    );
    const { router, send } = startRouter([server]);
    expect(await (await send('/one')).text()).toBe('conn 1');
    const again = await send('/two');
    expect(again.status).toBe(200);
    expect(await again.text()).toBe('conn 2');
    expect(server.requests.map((r) => `${r.target}@${r.connection}`)).toEqual([
      '/one@1',
      '/two@1',
      '/two@2',
    ]);
    expect(router.metrics()).not.toContain('berth_router_upstream_errors_total{');
  });

  test('a POST on a dropped keep-alive connection is not resent: 502', async () => {
    // Proves a non-idempotent request that may have reached the upstream is never replayed.
    const server = upstream((request) =>
      request.indexOnConnection === 2 ? { close: true } : { chunks: [okResponse('ok')] },
    );
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', sink: (line) => lines.push(line) });
    const { send } = startRouter([server], {}, logger);
    await (await send('/warm')).text();
    const posted = await send('/form', { method: 'POST', body: 'x=1' });
    expect(posted.status).toBe(502);
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    // The error line names the allocation that failed, so a 502 can be traced to it.
    const errorLine = lines.map((l) => JSON.parse(l)).find((l) => l.status === 502);
    expect(errorLine).toMatchObject({ path: '/form', alloc: 'a0' });
  });

  test('the upstream sees the client request rewritten, and nothing Bun would add', async () => {
    // Proves the raw head: hop-by-hop and Connection-named headers gone, X-Forwarded-* added, length exact.
    const server = upstream(() => ({ chunks: [okResponse('ok')] }));
    const { send } = startRouter([server]);
    const response = await send('/submit?q=a%20b', {
      method: 'POST',
      body: 'hello',
      headers: {
        connection: 'keep-alive, x-drop',
        'x-drop': '1',
        te: 'trailers',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-keep': 'k',
      },
    });
    expect(response.status).toBe(200);
    const seen = server.requests[0]!;
    const lines = seen.head.split('\r\n');
    expect(lines[0]).toBe('POST /submit?q=a%20b HTTP/1.1');
    const names = lines.slice(1).map((line) => line.slice(0, line.indexOf(':')));
    expect(names).not.toContain('x-drop');
    expect(names).not.toContain('te');
    expect(names).not.toContain('connection');
    expect(lines).toContain('host: web.test');
    expect(lines).toContain('x-keep: k');
    expect(lines).toContain('x-forwarded-for: 203.0.113.9, 127.0.0.1');
    expect(lines).toContain('x-forwarded-proto: http');
    expect(lines).toContain('x-forwarded-host: web.test');
    expect(lines).toContain('content-length: 5');
    expect(seen.body.toString()).toBe('hello');
  });

  test('header bytes above ASCII reach the upstream unchanged', async () => {
    // Proves the head is written as latin1 bytes (obs-text), never re-encoded as UTF-8.
    const server = upstream(() => ({ chunks: [okResponse('ok')] }));
    const { send } = startRouter([server]);
    await (await send('/', { headers: { 'x-name': 'caf\u00e9' } })).text();
    const seen = server.requests[0]!;
    expect(seen.head).toContain('x-name: caf\u00e9');
    expect(Buffer.from(seen.head, 'latin1').includes(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe(
      true,
    );
  });

  test('HEAD keeps the upstream Content-Length and no body is sent', async () => {
    // Proves HEAD answers pass the length through and the connection stays usable.
    const server = upstream((request) =>
      request.method === 'HEAD'
        ? { chunks: ['HTTP/1.1 200 OK\r\ncontent-length: 1024\r\ncontent-type: text/html\r\n\r\n'] }
        : { chunks: [okResponse('body')] },
    );
    const { send } = startRouter([server]);
    const head = await send('/', { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('1024');
    expect(await head.text()).toBe('');
    expect(await (await send('/')).text()).toBe('body');
    expect(server.connections()).toBe(1);
  });

  test('a slow upstream hits the upstream timeout: 504, and its connection is cut', async () => {
    // Proves the sweep-driven timeout on the raw path and that the stuck connection is not reused.
    const server = upstream(() => ({}));
    const { send, router } = startRouter([server], {
      upstreamTimeoutMs: 100,
      requestTimeoutMs: 200,
    });
    const response = await send('/slow');
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'upstream_timeout',
    );
    expect(await waitUntil(() => server.openConnections() === 0)).toBe(true);
    expect(router.inFlight('a0')).toBe(0);
  });

  test('a client that goes away cancels its upstream request', async () => {
    // Proves client aborts reach the upstream (connection closed) and in-flight drops to 0.
    const server = upstream(() => ({}));
    const { send, router } = startRouter([server]);
    const controller = new AbortController();
    const pending = send('/wait', { signal: controller.signal }).catch(() => 'aborted');
    expect(await waitUntil(() => server.requests.length === 1)).toBe(true);
    expect(router.inFlight('a0')).toBe(1);
    controller.abort();
    expect(await pending).toBe('aborted');
    expect(await waitUntil(() => server.openConnections() === 0)).toBe(true);
    expect(await waitUntil(() => router.inFlight('a0') === 0)).toBe(true);
    // Recorded as the client's doing (499), not as an upstream failure (502).
    const metrics = router.metrics();
    expect(await waitUntil(() => /status="499"/.test(router.metrics()))).toBe(true);
    expect(metrics).not.toMatch(/berth_router_upstream_errors_total\{[^}]*\} [1-9]/);
    expect(router.metrics()).not.toMatch(/status="502"/);
  });

  test('a streamed answer counts as in flight until its last byte', async () => {
    // Proves draining sees a streaming response (SSE-like) as outstanding until it ends.
    let finish: (() => void) | undefined;
    const server = upstream((_request, socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n',
      );
      socket.write('7\r\ndata: 1\r\n');
      finish = () => socket.write('7\r\ndata: 2\r\n0\r\n\r\n');
      return {};
    });
    const { send, router } = startRouter([server]);
    const response = await send('/events');
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: 1');
    expect(router.inFlight('a0')).toBe(1);
    finish!();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toBe('data: 2');
    expect(await waitUntil(() => router.inFlight('a0') === 0)).toBe(true);
  });

  test('a malformed answer is a bad gateway and a GET tries the next upstream', async () => {
    // Proves protocol errors count as resets: 502 alone, retried when another upstream exists.
    const broken = upstream(() => ({ chunks: ['HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n'] }));
    const healthy = upstream(() => ({ chunks: [okResponse('healthy')] }));
    const { send } = startRouter([broken, healthy]);
    const answers = await Promise.all([send('/a'), send('/b')]);
    for (const answer of answers) expect(await answer.text()).toBe('healthy');
    expect(broken.requests.length).toBeGreaterThanOrEqual(1);
  });

  test('Expect: 100-continue is answered by the router and the body still arrives', async () => {
    // Proves the front sends 100 itself (as nginx does) and forwards the body without Expect.
    const server = upstream((request) => ({
      chunks: [okResponse(`${request.method} ${request.body.length}`)],
    }));
    const { send } = startRouter([server]);
    const response = await send('/upload', {
      method: 'PUT',
      body: 'abc',
      headers: { expect: '100-continue' },
    });
    expect(await response.text()).toBe('PUT 3');
    expect(server.requests[0]!.head.toLowerCase()).not.toContain('expect:');
    expect(server.requests[0]!.head.toLowerCase()).toContain('content-length: 3');
  });

  test('the deadline sweep releases every request it watched', async () => {
    // Proves no request stays registered after its answer (the sweep set is bounded by traffic).
    const server = upstream(() => ({ chunks: [okResponse('ok')] }));
    const { send } = startRouter([server]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => send(`/${i}`).then((r) => r.text())));
    expect(upstreamDeadlines.size).toBe(0);
  });
});
