/**
 * The raw HTTP/1.1 front's own paths beyond the wire basics (http1-wire.test.ts): WebSocket
 * tunnels with retries, request bodies streamed past the buffer limit, large answers that
 * need the socket's backpressure, and a graceful stop with a request in flight.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { buildRouteTable, type RouteInputJob } from '../../actors/router/index.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { Router } from '../../src/router/index.ts';
import {
  encodeClientFrame,
  headerOf,
  jsonOf,
  WireConnection,
  webSocketAccept,
} from './wire-client.ts';

/** Bytes of the large answer (several socket buffers). */
const largeAnswerBytes = 4 * 1024 * 1024;
/** Bytes of the streamed upload (above the router's buffer limit below). */
const uploadBytes = 3 * 1024 * 1024;
const readTimeoutMs = 10_000;

let upstream: Server<undefined>;
let router: Router;
let downPort: number;

beforeAll(() => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (path === '/ws' && server.upgrade(req, { data: undefined })) return undefined;
      if (path === '/large') return new Response(new Uint8Array(largeAnswerBytes).fill(0x61));
      if (path === '/slow') await Bun.sleep(300);
      const body = new Uint8Array(await req.arrayBuffer());
      const digest = new Bun.CryptoHasher('sha256').update(body).digest('hex');
      return Response.json({ bytes: body.byteLength, digest });
    },
    websocket: {
      message(ws, message) {
        ws.send(`echo:${message}`);
      },
    },
  });
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  downPort = listener.port;
  listener.stop(true);
  router = startRouter();
});

afterAll(async () => {
  await router.stop({ force: true });
  await upstream.stop(true);
});

function job(name: string): RouteInputJob {
  return { name, routes: [{ hosts: [`${name}.test`], paths: [], port: 'http', tls: false }] };
}

/** `mixed` has a refusing upstream first and the live one second; `down` only the refusing one. */
function startRouter(): Router {
  const started = new Router({
    listen: { hostname: '127.0.0.1', port: 0 },
    logger: silentLogger,
    limits: { bodyBufferBytesMax: 64 * 1024, bodyBytesMax: 8 * 1024 * 1024 },
  });
  started.start();
  const allocation = (id: string, jobId: string, port: number) => ({
    id,
    jobId,
    jobVersion: 1,
    nodeId: 'n1',
    ports: { http: port },
    clientStatus: 'healthy' as const,
    desiredStatus: 'run' as const,
  });
  started.setTable(
    buildRouteTable({
      jobs: [job('web'), job('mixed'), job('down')],
      allocations: [
        allocation('web-1', 'web', upstream.port as number),
        allocation('mixed-0', 'mixed', downPort),
        allocation('mixed-1', 'mixed', upstream.port as number),
        allocation('down-1', 'down', downPort),
      ],
      nodes: [{ id: 'n1', host: '127.0.0.1', status: 'up' }],
    }),
  );
  return started;
}

function upgradeHead(host: string): string {
  return (
    `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
  );
}

describe('WebSocket tunnels', () => {
  test('an upgrade is retried past a refusing upstream and then carries frames', async () => {
    // Proves the handshake is resent to the next upstream, and bytes flow both ways after 101.
    for (let attempt = 0; attempt < 2; attempt++) {
      const conn = await WireConnection.open(router.port);
      conn.write(upgradeHead('mixed.test'));
      const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
      expect(answer.status).toBe(101);
      expect(headerOf(answer, 'sec-websocket-accept')).toBe(
        webSocketAccept('dGhlIHNhbXBsZSBub25jZQ=='),
      );
      conn.write(encodeClientFrame(1, Buffer.from(`hi ${attempt}`), Buffer.from([1, 2, 3, 4])));
      const frame = await conn.readFrame(readTimeoutMs);
      expect(frame.payload.toString()).toBe(`echo:hi ${attempt}`);
      conn.close();
    }
  });

  test('an upgrade to a route whose only upstream refuses gets 502', async () => {
    // Proves a tunnel that cannot connect answers like any proxied request.
    const conn = await WireConnection.open(router.port);
    conn.write(upgradeHead('down.test'));
    const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
    expect(answer.status).toBe(502);
    expect(jsonOf<{ error: { code: string } }>(answer).error.code).toBe('upstream_unavailable');
  });

  test('a tunnel counts as in flight until it closes, so draining waits for it', async () => {
    // Proves an open WebSocket holds its allocation busy and lets go when the client leaves.
    const conn = await WireConnection.open(router.port);
    conn.write(upgradeHead('web.test'));
    expect((await conn.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(101);
    expect(router.inFlight('web-1')).toBe(1);
    conn.close();
    const deadline = Date.now() + readTimeoutMs;
    while (router.inFlight('web-1') !== 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(router.inFlight('web-1')).toBe(0);
  });
});

describe('bodies past the buffers', () => {
  test('an upload above the buffer limit streams to the upstream whole', async () => {
    // Proves a large Content-Length body is piped (not buffered) and arrives byte for byte.
    const body = Buffer.alloc(uploadBytes);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const digest = new Bun.CryptoHasher('sha256').update(body).digest('hex');
    const conn = await WireConnection.open(router.port);
    conn.write(`POST /upload HTTP/1.1\r\nHost: web.test\r\nContent-Length: ${uploadBytes}\r\n\r\n`);
    conn.write(body);
    const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
    expect(answer.status).toBe(200);
    expect(jsonOf<{ bytes: number; digest: string }>(answer)).toEqual({
      bytes: uploadBytes,
      digest,
    });
    conn.close();
  });

  test('a chunked upload over the body limit gets 413 body_too_large', async () => {
    // Proves the limit holds for bodies whose length is not said up front.
    const conn = await WireConnection.open(router.port);
    conn.write('POST /upload HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(1024 * 1024, 0x62);
    for (let i = 0; i < 9 && !conn.closed; i++) {
      conn.write(`${chunk.length.toString(16)}\r\n`);
      conn.write(chunk);
      conn.write('\r\n');
    }
    const answer = await conn.nextResponse({ timeoutMs: readTimeoutMs });
    // The router answers 413 or, if the client was still writing, may close first.
    if (answer) {
      expect(answer.status).toBe(413);
      expect(jsonOf<{ error: { code: string } }>(answer).error.code).toBe('body_too_large');
    }
    expect(await conn.waitClosed(readTimeoutMs)).toBe(true);
  });

  test('a 4 MiB answer arrives whole through the socket backpressure', async () => {
    // Proves partial writes to the client are queued and flushed in order.
    const conn = await WireConnection.open(router.port);
    conn.write('GET /large HTTP/1.1\r\nHost: web.test\r\n\r\n');
    const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(largeAnswerBytes);
    expect(answer.body.every((byte) => byte === 0x61)).toBe(true);
    conn.close();
  });
});

describe('stopping', () => {
  test('a graceful stop lets the request in flight finish, then closes', async () => {
    // Proves stop() without force waits for answers in progress and refuses new connections.
    const own = startRouter();
    const conn = await WireConnection.open(own.port);
    conn.write('GET /slow HTTP/1.1\r\nHost: web.test\r\n\r\n');
    await Bun.sleep(50);
    let stopped = false;
    const stopping = own.stop().then(() => {
      stopped = true;
    });
    const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
    expect(answer.status).toBe(200);
    expect(headerOf(answer, 'connection')).toBe('close');
    await stopping;
    expect(stopped).toBe(true);
    expect(await conn.waitClosed(readTimeoutMs)).toBe(true);
    await expect(WireConnection.open(own.port)).rejects.toThrow();
  });
});
