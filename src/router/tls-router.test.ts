import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { buildRouteTable, type RouteInputJob } from '../../actors/router/index.ts';
import { silentLogger } from '../core/logger.ts';
import { Router } from './router.ts';
import { fallbackCertificate } from './tls-self-signed.ts';
import { heldResponse, peerCertificate, testCertificate } from './tls-testing.ts';

const a = await testCertificate(['a.test'], '0a');
const aRenewed = await testCertificate(['a.test'], '0e');
const token = 'tok-123_abc';

/** Upstream: counts requests, echoes headers, holds `/stream` until released, echoes WebSocket messages. */
let upstreamRequests = 0;
let releaseStream: () => void = () => {};
let upstream: Server<undefined>;
let router: Router;

function route(name: string, tls: boolean, redirectHttp?: boolean): RouteInputJob {
  return {
    name,
    routes: [{ hosts: [`${name}.test`], paths: [], port: 'http', tls, redirectHttp }],
  };
}

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req, server) {
      upstreamRequests++;
      const path = new URL(req.url).pathname;
      if (path === '/ws' && server.upgrade(req, { data: undefined })) return undefined;
      if (path === '/stream') return holdingStream();
      return Response.json(Object.fromEntries(req.headers.entries()));
    },
    websocket: {
      message: (ws, message) => {
        ws.send(`echo:${message}`);
      },
    },
  });
  router = new Router({
    listen: { hostname: '127.0.0.1', port: 0 },
    listenTls: { hostname: '127.0.0.1', port: 0 },
    tlsFallback: await fallbackCertificate(),
    acmeChallenge: (t) => (t === token ? `${token}.key-thumbprint` : undefined),
    logger: silentLogger,
  });
  router.start();
  router.setTable(
    buildRouteTable({
      jobs: [route('a', true), route('plain', false), route('optout', true, false)],
      allocations: ['a', 'plain', 'optout'].map((job) => ({
        id: `${job}-1`,
        jobId: job,
        jobVersion: 1,
        nodeId: 'n1',
        ports: { http: upstream.port as number },
        clientStatus: 'healthy',
        desiredStatus: 'run',
      })),
      nodes: [{ id: 'n1', host: '127.0.0.1', status: 'up' }],
    }),
  );
});

afterAll(async () => {
  await router.stop({ force: true });
  await upstream.stop(true);
});

function holdingStream(): Response {
  const held = heldResponse('data: first\n\n', 'data: last\n\n', {
    'content-type': 'text/event-stream',
  });
  releaseStream = held.release;
  return held.response;
}

function http(path: string, host: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${router.port}${path}`, {
    ...init,
    headers: { host, ...(init.headers as Record<string, string>) },
    redirect: 'manual',
  });
}

function https(path: string, host: string): Promise<Response> {
  return fetch(`https://127.0.0.1:${router.tlsPort}${path}`, {
    headers: { host },
    tls: { rejectUnauthorized: false, serverName: host },
  } as RequestInit);
}

describe('HTTP listener before any certificate', () => {
  test('a tls route is served over HTTP while its certificate is not there yet', async () => {
    // Proves a new site is not down while its first certificate is ordered.
    expect(router.hasCertificate('a.test')).toBe(false);
    expect(router.tlsPort).toBeUndefined();
    const response = await http('/x', 'a.test');
    expect(response.status).toBe(200);
    expect(((await response.json()) as Record<string, string>)['x-forwarded-proto']).toBe('http');
  });
});

describe('ACME HTTP-01', () => {
  test('challenges are answered for any Host and never reach an upstream', async () => {
    // Proves the answer comes from the lookup, on routed and unrouted hosts alike.
    const before = upstreamRequests;
    for (const host of ['a.test', 'unrouted.test']) {
      const response = await http(`/.well-known/acme-challenge/${token}`, host);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(`${token}.key-thumbprint`);
    }
    const unknown = await http('/.well-known/acme-challenge/other', 'a.test');
    expect(unknown.status).toBe(404);
    const garbage = await http(`/.well-known/acme-challenge/${'x'.repeat(300)}`, 'a.test');
    expect(garbage.status).toBe(404);
    expect(upstreamRequests).toBe(before);
  });
});

describe('with a certificate', () => {
  beforeAll(() => {
    const result = router.setCertificates([a]);
    expect(result).toEqual({ outcome: 'started', problems: [] });
  });

  test('HTTP redirects to HTTPS with port, path and query; challenges are still answered', async () => {
    // Proves the redirect rule end to end and that the challenge path is exempt from it.
    const redirected = await http('/x/y?q=1', 'a.test');
    expect(redirected.status).toBe(308);
    expect(redirected.headers.get('location')).toBe(`https://a.test:${router.tlsPort}/x/y?q=1`);
    const challenge = await http(`/.well-known/acme-challenge/${token}`, 'a.test');
    expect(challenge.status).toBe(200);
  });

  test('routes without tls, or with redirect_http off, keep answering over HTTP', async () => {
    // Proves the two opt-outs on the live listener.
    expect((await http('/', 'plain.test')).status).toBe(200);
    expect((await http('/', 'optout.test')).status).toBe(200);
  });

  test('HTTPS is proxied from the same table with X-Forwarded-Proto https', async () => {
    // Proves the TLS listener shares the route table and tells the upstream the scheme.
    const response = await https('/headers', 'a.test');
    expect(response.status).toBe(200);
    const headers = (await response.json()) as Record<string, string>;
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-forwarded-host']).toBe('a.test');
  });

  test('the same certificates again change nothing; a bad one is reported and left out', () => {
    // Proves setCertificates is idempotent and reports instead of throwing.
    expect(router.setCertificates([a]).outcome).toBe('unchanged');
    const bad = router.setCertificates([a, { hosts: ['b.test'], certPem: 'x', keyPem: 'y' }]);
    expect(bad.outcome).toBe('unchanged');
    expect(bad.problems.map((p) => p.code)).toEqual(['bad_certificate']);
  });

  test('renewal keeps a proxied stream and a WebSocket open; new connections get the new certificate', async () => {
    // Proves issue 8's "renewal replaces a certificate without dropping connections".
    const stream = await https('/stream', 'a.test');
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
    const socket = await openWebSocket();
    expect(await roundTrip(socket, 'before')).toBe('echo:before');

    expect(router.setCertificates([aRenewed]).outcome).toBe('replaced');
    expect((await peerCertificate(router.tlsPort!, 'a.test')).serial).toBe('0E');

    expect(await roundTrip(socket, 'after')).toBe('echo:after');
    releaseStream();
    let rest = '';
    for (let reads = 0; reads < 10; reads++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toBe('data: last\n\n');
    socket.close();
  });
});

function openWebSocket(): Promise<WebSocket> {
  const socket = new WebSocket(`wss://127.0.0.1:${router.tlsPort}/ws`, {
    headers: { host: 'a.test' },
    tls: { rejectUnauthorized: false, serverName: 'a.test' },
  } as unknown as string[]);
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error('WebSocket did not open'));
  });
}

function roundTrip(socket: WebSocket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.onmessage = (event) => resolve(String(event.data));
    socket.onclose = () => reject(new Error('WebSocket closed'));
    socket.send(message);
  });
}
