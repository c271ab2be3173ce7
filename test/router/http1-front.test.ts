/**
 * The raw HTTP/1.1 front's own paths beyond the wire basics (http1-wire.test.ts): WebSocket
 * tunnels with retries, request bodies streamed past the buffer limit, large answers that
 * need the socket's backpressure, and a graceful stop with a request in flight.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { silentLogger } from '../../src/core/logger.ts';
import { freePort } from '../../src/core/ports-testing.ts';
import { Router } from '../../src/router/index.ts';
import { localRouteTable } from '../../src/router/route-table-testing.ts';
import { okResponse, scriptedUpstream } from '../../src/router/upstream-conn-testing.ts';
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
/** One pipelined answer: small enough to be sent whole, large enough to fill socket buffers. */
const pieceBytes = 60 * 1024;
const piecesPipelined = 40;
/** A WebSocket frame larger than loopback's socket buffers, echoed through the tunnel. */
const largeFrameBytes = 24 * 1024 * 1024;
/** An answer larger than loopback's socket buffers (send and receive together). */
const hugeAnswerBytes = 24 * 1024 * 1024;
/** How long the pausing client leaves bytes unread, so the router's writes back up. */
const pauseMs = 300;
/** Tests moving tens of MiB get more than bun's default 5 s on a loaded 2-core machine. */
const largeTestTimeoutMs = 30_000;

let upstream: Server<undefined>;
let router: Router;
let downPort: number;
/** Requests the upstream saw for `/count`. */
let countHits = 0;

beforeAll(() => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (path === '/ws' && server.upgrade(req, { data: undefined })) return undefined;
      // Upgrades refused by the application: a sized answer and a streamed (chunked) one.
      if (path === '/ws-deny') return new Response('denied', { status: 403 });
      if (path === '/ws-deny-stream') {
        const parts = ['not ', 'today'];
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const part = parts.shift();
            if (part === undefined) controller.close();
            else controller.enqueue(new TextEncoder().encode(part));
            await Bun.sleep(5);
          },
        });
        return new Response(body, { status: 401 });
      }
      if (path === '/count') {
        countHits += 1;
        return new Response('counted');
      }
      if (path === '/large') return new Response(new Uint8Array(largeAnswerBytes).fill(0x61));
      if (path === '/huge') return new Response(patterned(hugeAnswerBytes));
      if (path.startsWith('/piece/')) {
        return new Response(new Uint8Array(pieceBytes).fill(Number(path.slice(7)) & 0xff));
      }
      if (path === '/slow') await Bun.sleep(300);
      const body = new Uint8Array(await req.arrayBuffer());
      const digest = new Bun.CryptoHasher('sha256').update(body).digest('hex');
      return Response.json({ bytes: body.byteLength, digest });
    },
    websocket: {
      maxPayloadLength: 2 * largeFrameBytes,
      message(ws, message) {
        ws.send(typeof message === 'string' ? `echo:${message}` : message);
      },
    },
  });
  downPort = freePort();
  router = startRouter();
});

afterAll(async () => {
  await router.stop({ force: true });
  await upstream.stop(true);
});

/** `mixed` has a refusing upstream first and the live one second; `down` only the refusing one. */
function startRouter(): Router {
  const started = new Router({
    listen: { hostname: '127.0.0.1', port: 0 },
    logger: silentLogger,
    limits: { bodyBufferBytesMax: 64 * 1024, bodyBytesMax: 8 * 1024 * 1024 },
  });
  started.start();
  started.setTable(
    localRouteTable([
      { id: 'web-1', job: 'web', port: upstream.port as number },
      { id: 'mixed-0', job: 'mixed', port: downPort },
      { id: 'mixed-1', job: 'mixed', port: upstream.port as number },
      { id: 'down-1', job: 'down', port: downPort },
    ]),
  );
  return started;
}

/** Bytes whose value depends on their position, so a lost or reordered piece shows. */
function patterned(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
  return bytes;
}

/**
 * Sends `request` on a raw connection that reads nothing for `pauseMs` (so everything the
 * router writes backs up into partial writes), then reads until `bodyBytes` bytes after the
 * answer's head have arrived, or the connection closes.
 */
async function sendPausingReader(request: Uint8Array | string, bodyBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let receivedBytes = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port: router.port,
    socket: {
      data(_socket, data) {
        parts.push(Buffer.from(data));
        receivedBytes += data.byteLength;
        // The head arrives first and whole (it is one small write).
        const headBytes = parts[0]!.indexOf('\r\n\r\n') + 4;
        if (headBytes >= 4 && receivedBytes >= headBytes + bodyBytes) finish();
      },
      close() {
        finish();
      },
    },
  });
  socket.pause();
  let offset = 0;
  const bytes = typeof request === 'string' ? Buffer.from(request, 'latin1') : request;
  // Our own writes may be partial too; the kernel takes the rest as the router reads.
  const deadline = Date.now() + readTimeoutMs;
  while (offset < bytes.length && Date.now() < deadline) {
    const written = socket.write(bytes.subarray(offset));
    offset += Math.max(0, written);
    if (offset < bytes.length) await Bun.sleep(5);
  }
  await Bun.sleep(pauseMs);
  socket.resume();
  await Promise.race([finished, Bun.sleep(readTimeoutMs)]);
  socket.end();
  return Buffer.concat(parts);
}

/** Waits (bounded) until nothing is in flight to `allocId`. */
async function allocationIdle(allocId: string): Promise<boolean> {
  const deadline = Date.now() + readTimeoutMs;
  while (router.inFlight(allocId) !== 0 && Date.now() < deadline) await Bun.sleep(10);
  return router.inFlight(allocId) === 0;
}

function upgradeHead(host: string, path = '/ws'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
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

  test(
    'a frame larger than the socket buffers crosses the tunnel both ways intact',
    async () => {
      // Proves the tunnel's backpressure: partial writes either way are queued, not lost.
      const payload = patterned(largeFrameBytes);
      const frame = encodeClientFrame(2, payload, Buffer.from([9, 8, 7, 6]));
      const request = Buffer.concat([Buffer.from(upgradeHead('web.test'), 'latin1'), frame]);
      // 101 head, then the echoed frame: 2 + 8 length bytes of header, then the payload.
      const received = await sendPausingReader(request, 10 + largeFrameBytes);
      const headEnd = received.indexOf('\r\n\r\n');
      expect(received.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
      const echoed = received.subarray(headEnd + 4 + 10);
      expect(echoed.length).toBe(largeFrameBytes);
      expect(echoed.equals(payload)).toBe(true);
      expect(await allocationIdle('web-1')).toBe(true);
    },
    largeTestTimeoutMs,
  );

  test('a refused upgrade is relayed with its body, then the connection closes', async () => {
    // Proves a non-101 answer does not leave the client holding a raw pipe to the upstream:
    // a request sent behind the handshake never reaches it (it would skip routing and the
    // forwarding headers), and the allocation is free again.
    for (const [path, status, body] of [
      ['/ws-deny', 403, 'denied'],
      ['/ws-deny-stream', 401, 'not today'],
    ] as const) {
      const hitsBefore = countHits;
      const conn = await WireConnection.open(router.port);
      conn.write(
        `${upgradeHead('web.test', path)}GET /count HTTP/1.1\r\nHost: web.test\r\n` +
          'X-Forwarded-For: 10.9.9.9\r\n\r\n',
      );
      const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
      expect(answer.status).toBe(status);
      expect(answer.body.toString()).toBe(body);
      expect(headerOf(answer, 'connection')).toBe('close');
      expect(await conn.waitClosed(readTimeoutMs)).toBe(true);
      expect(countHits).toBe(hitsBefore);
      expect(await allocationIdle('web-1')).toBe(true);
    }
    const metrics = router.metrics();
    expect(metrics).toMatch(
      /berth_router_requests_total\{route="web web\.test\/",status="403"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /berth_router_requests_total\{route="web web\.test\/",status="401"\} [1-9]/,
    );
  });

  test('an interim answer before a refusal is passed on; an unreadable answer gets 502', async () => {
    // Proves the answer head is read whole before deciding: 103 goes through and the final
    // 404 closes the connection; a head the router cannot parse becomes its own 502.
    const answers = [
      [
        'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n',
        'HTTP/1.1 404 Not Found\r\n',
        'Content-Length: 4\r\n\r\nnope',
      ],
      ['HTTP/1.1 4o4 Broken\r\n\r\n'],
    ];
    const scripted = scriptedUpstream(() => ({ chunks: answers.shift() ?? [] }));
    const own = new Router({ listen: { hostname: '127.0.0.1', port: 0 }, logger: silentLogger });
    own.start();
    own.setTable(localRouteTable([{ id: 'web-1', job: 'web', port: scripted.port }]));
    try {
      const first = await WireConnection.open(own.port);
      first.write(upgradeHead('web.test'));
      expect((await first.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(103);
      const refused = await first.readResponse({ timeoutMs: readTimeoutMs });
      expect([refused.status, refused.body.toString()]).toEqual([404, 'nope']);
      expect(await first.waitClosed(readTimeoutMs)).toBe(true);
      const second = await WireConnection.open(own.port);
      second.write(upgradeHead('web.test'));
      const broken = await second.readResponse({ timeoutMs: readTimeoutMs });
      expect(broken.status).toBe(502);
      expect(jsonOf<{ error: { code: string } }>(broken).error.code).toBe('upstream_unavailable');
      expect(await second.waitClosed(readTimeoutMs)).toBe(true);
      expect(own.inFlight('web-1')).toBe(0);
    } finally {
      await own.stop({ force: true });
      scripted.stop();
    }
  });

  test('an upstream that takes the handshake and never answers gets the client a 504', async () => {
    // Proves the wait for the handshake's answer is timed: the client is not held forever
    // and the allocation is not left in flight (draining would wait on it).
    const scripted = scriptedUpstream(() => ({}));
    const own = new Router({
      listen: { hostname: '127.0.0.1', port: 0 },
      logger: silentLogger,
      limits: { upstreamTimeoutMs: 200 },
    });
    own.start();
    own.setTable(localRouteTable([{ id: 'web-1', job: 'web', port: scripted.port }]));
    try {
      const conn = await WireConnection.open(own.port);
      conn.write(upgradeHead('web.test'));
      const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
      expect(answer.status).toBe(504);
      expect(jsonOf<{ error: { code: string } }>(answer).error.code).toBe('upstream_timeout');
      expect(await conn.waitClosed(readTimeoutMs)).toBe(true);
      expect(own.inFlight('web-1')).toBe(0);
      expect(scripted.requests.length).toBe(1);
    } finally {
      await own.stop({ force: true });
      scripted.stop();
    }
  });

  test('bytes sent behind the handshake wait for the 101, then reach the upstream', async () => {
    // Proves held client bytes are released once the upgrade is accepted (RFC 6455 §4.1
    // clients wait, but a frame sent early must not be lost either).
    const conn = await WireConnection.open(router.port);
    const frame = encodeClientFrame(1, Buffer.from('early'), Buffer.from([4, 3, 2, 1]));
    conn.write(Buffer.concat([Buffer.from(upgradeHead('web.test'), 'latin1'), frame]));
    expect((await conn.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(101);
    expect((await conn.readFrame(readTimeoutMs)).payload.toString()).toBe('echo:early');
    conn.close();
    expect(await allocationIdle('web-1')).toBe(true);
  });

  test('a tunnel counts as in flight until it closes, so draining waits for it', async () => {
    // Proves an open WebSocket holds its allocation busy and lets go when the client leaves.
    const conn = await WireConnection.open(router.port);
    conn.write(upgradeHead('web.test'));
    expect((await conn.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(101);
    expect(router.inFlight('web-1')).toBe(1);
    conn.close();
    expect(await allocationIdle('web-1')).toBe(true);
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

  test('pipelined requests of a client that does not read wait for it, then all arrive in order', async () => {
    // Proves answers are not piled up for a client that stopped reading, and none is lost.
    const conn = await WireConnection.open(router.port);
    let heads = '';
    for (let i = 0; i < piecesPipelined; i++)
      heads += `GET /piece/${i} HTTP/1.1\r\nHost: web.test\r\n\r\n`;
    conn.write(heads);
    for (let i = 0; i < piecesPipelined; i++) {
      const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(pieceBytes);
      expect(answer.body[0]).toBe(i & 0xff);
    }
    conn.close();
  });

  test(
    'an answer larger than the socket buffers reaches a client that pauses, intact',
    async () => {
      // Proves partial writes to a client that stops reading are queued and flushed in order.
      const received = await sendPausingReader(
        'GET /huge HTTP/1.1\r\nHost: web.test\r\n\r\n',
        hugeAnswerBytes,
      );
      const headEnd = received.indexOf('\r\n\r\n');
      expect(received.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
      expect(received.subarray(headEnd + 4).equals(patterned(hugeAnswerBytes))).toBe(true);
    },
    largeTestTimeoutMs,
  );

  test(
    'a 4 MiB answer arrives whole through the socket backpressure',
    async () => {
      // Proves partial writes to the client are queued and flushed in order.
      const conn = await WireConnection.open(router.port);
      conn.write('GET /large HTTP/1.1\r\nHost: web.test\r\n\r\n');
      const answer = await conn.readResponse({ timeoutMs: readTimeoutMs });
      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(largeAnswerBytes);
      expect(answer.body.every((byte) => byte === 0x61)).toBe(true);
      conn.close();
    },
    largeTestTimeoutMs,
  );
});

describe('request targets', () => {
  test('OPTIONS * reaches the upstream in asterisk-form; an absolute-form target in origin-form', async () => {
    // Proves the two targets that are not a path are forwarded as RFC 9112 §3.2 says.
    const scripted = scriptedUpstream(() => ({ chunks: [okResponse('ok')] }));
    const own = new Router({ listen: { hostname: '127.0.0.1', port: 0 }, logger: silentLogger });
    own.start();
    own.setTable(localRouteTable([{ id: 'web-1', job: 'web', port: scripted.port }]));
    try {
      const conn = await WireConnection.open(own.port);
      conn.write('OPTIONS * HTTP/1.1\r\nHost: web.test\r\n\r\n');
      expect((await conn.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(200);
      conn.write('GET http://web.test/a?b=1 HTTP/1.1\r\nHost: other.test\r\n\r\n');
      expect((await conn.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(200);
      conn.close();
      expect(scripted.requests.map((r) => `${r.method} ${r.target}`)).toEqual([
        'OPTIONS *',
        'GET /a?b=1',
      ]);
    } finally {
      await own.stop({ force: true });
      scripted.stop();
    }
  });
});

describe('client connections', () => {
  test('the client connections gauge counts open keep-alive connections, busy or idle', async () => {
    // Proves berth_router_client_connections follows connections as they open and close.
    const own = startRouter();
    const gauge = () => Number(/^berth_router_client_connections (\d+)$/m.exec(own.metrics())?.[1]);
    const settled = async (want: number) => {
      const deadline = Date.now() + readTimeoutMs;
      while (gauge() !== want && Date.now() < deadline) await Bun.sleep(10);
      return gauge();
    };
    try {
      expect(gauge()).toBe(0);
      const conns = await Promise.all([1, 2, 3].map(() => WireConnection.open(own.port)));
      for (const conn of conns) conn.write('GET /a HTTP/1.1\r\nHost: web.test\r\n\r\n');
      for (const conn of conns) {
        expect((await conn.readResponse({ timeoutMs: readTimeoutMs })).status).toBe(200);
      }
      expect(await settled(3)).toBe(3);
      conns[0]!.close();
      expect(await settled(2)).toBe(2);
      for (const conn of conns.slice(1)) conn.close();
      expect(await settled(0)).toBe(0);
    } finally {
      await own.stop({ force: true });
    }
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
