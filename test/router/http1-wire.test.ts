/**
/**
 * HTTP/1.1 conformance of the router's plain-HTTP listener (the raw front, http1/front.ts),
 * spoken byte for byte over raw TCP (wire-client.ts), against what an operator expects from
 * nginx. Upstreams are in this process on 127.0.0.1. Written first against the Bun.serve
 * listener it replaced, which failed pipelining, HTTP/1.0 keep-alive and 400 for malformed
 * request lines (it answered 505).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { silentLogger } from '../../src/core/logger.ts';
import { freePort } from '../../src/core/ports-testing.ts';
import { createPrng, type Prng } from '../../src/core/prng.ts';
import { Router, type RouterLimits } from '../../src/router/index.ts';
import { localRouteTable } from '../../src/router/route-table-testing.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../../src/router/upstream-conn-testing.ts';
import {
  encodeClientFrame,
  headerOf,
  jsonOf,
  WireConnection,
  type WireResponse,
  webSocketAccept,
} from './wire-client.ts';

/** What the echo upstream saw of one request. */
interface Seen {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  bodyBase64: string;
}

/** The echo upstream's answer: what it saw. */
type Echo = Seen;

interface ErrorBody {
  error: { code: string; message: string };
}

/** Requests the echo upstream has received, in order. */
const seen: Seen[] = [];
/** Events the SSE route has written, and the gate the test opens after seeing the first. */
let sseEventsSent = 0;
let openSseGate: () => void = () => {};
let echo: Server<undefined>;
let hopUpstream: ScriptedUpstream;
let router: Router;
let idleRouter: Router;

/** The length of the `/sized` answer, so HEAD can be checked against it. */
const sizedBytes = 1234;
/** Random byte strings sent by the garbage test. */
const garbageCasesMax = 200;
/** Garbage connections in flight at once. */
const garbageConcurrencyMax = 20;
/**
 * How long the idle test waits for the close. The front sweeps idle connections once a
 * second, so this is a bound, not a timing claim; the test's own timeout is above it so the
 * wait, not bun's default 5 s, decides.
 */
const idleCloseWaitMsMax = 10_000;
/** The garbage test's seed; WIRE_GARBAGE_SEED replays another. */
const garbageSeed = Number(process.env.WIRE_GARBAGE_SEED ?? 0x5eed);

beforeAll(async () => {
  echo = startEcho();
  hopUpstream = scriptedUpstream(() => ({
    chunks: [
      'HTTP/1.1 200 OK\r\nConnection: x-up\r\nX-Up: 1\r\nKeep-Alive: timeout=5, max=100\r\n' +
        'X-Kept: yes\r\ncontent-length: 2\r\n\r\nok',
    ],
  }));
  const downPort = closedPort();
  router = startRouter({ bodyBytesMax: 1024, bodyBufferBytesMax: 512 }, downPort);
  idleRouter = startRouter({ clientIdleSeconds: 1 }, downPort);
});

afterAll(async () => {
  await Promise.all([router.stop({ force: true }), idleRouter.stop({ force: true })]);
  await echo.stop(true);
  hopUpstream.stop();
});

function startEcho(): Server<undefined> {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (path === '/ws' && server.upgrade(req, { data: undefined })) return undefined;
      const body = Buffer.from(await req.arrayBuffer());
      const record: Seen = {
        method: req.method,
        path,
        headers: [...req.headers.entries()],
        bodyBase64: body.toString('base64'),
      };
      seen.push(record);
      if (path === '/sse') return sseResponse();
      if (path === '/sized') return new Response('x'.repeat(sizedBytes));
      return Response.json(record);
    },
    websocket: {
      message(ws, message) {
        ws.send(`echo:${message}`);
      },
    },
  });
}

/**
 * Three events: the first at once, the second only after the test opens the gate (which
 * it does once it has read the first through the router), the third 50 ms later. A
 * router that buffered the stream would never show the first event, and the test times out.
 */
function sseResponse(): Response {
  sseEventsSent = 0;
  const gate = new Promise<void>((resolve) => {
    openSseGate = resolve;
  });
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode('data: event 1\n\n'));
      sseEventsSent = 1;
      await gate;
      controller.enqueue(encoder.encode('data: event 2\n\n'));
      sseEventsSent = 2;
      await Bun.sleep(50);
      controller.enqueue(encoder.encode('data: event 3\n\n'));
      sseEventsSent = 3;
      controller.close();
    },
  });
  return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
}

/** A port nothing listens on (ports-testing.ts: not one a later port-0 bind can get). */
function closedPort(): number {
  return freePort();
}

function startRouter(limits: Partial<RouterLimits>, downPort: number): Router {
  const started = new Router({
    listen: { hostname: '127.0.0.1', port: 0 },
    logger: silentLogger,
    limits,
  });
  started.start();
  started.setTable(
    localRouteTable([
      { id: 'web-1', job: 'web', port: echo.port as number },
      { id: 'hop-1', job: 'hop', port: hopUpstream.port },
      { id: 'down-1', job: 'down', port: downPort },
    ]),
  );
  return started;
}

/** A GET head for the echo route. */
function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: web.test\r\n${extra}\r\n`;
}

function headerIn(record: Seen, name: string): string | undefined {
  return record.headers.find(([n]) => n === name)?.[1];
}

function bodyText(response: WireResponse): string {
  return response.body.toString('latin1');
}

async function open(target: Router = router): Promise<WireConnection> {
  return WireConnection.open(target.port);
}

/** Sends one valid request on a fresh connection and expects the upstream's 200. */
async function expectServed(target: Router = router): Promise<void> {
  const conn = await open(target);
  conn.write(get('/still-serving'));
  const response = await conn.readResponse();
  conn.close();
  expect(response.status).toBe(200);
  expect(jsonOf<Echo>(response).path).toBe('/still-serving');
}

describe('keep-alive and pipelining', () => {
  test('three requests on one connection get three answers in order, forwarded with X-Forwarded-*', async () => {
    // Proves connection reuse, answer order, and the forwarding headers the upstream sees.
    const conn = await open();
    const seenBefore = seen.length;
    for (const path of ['/k1', '/k2', '/k3']) {
      conn.write(`GET ${path} HTTP/1.1\r\nHost: web.test:8080\r\n\r\n`);
      const response = await conn.readResponse();
      expect(response.status).toBe(200);
      expect(jsonOf<Echo>(response).path).toBe(path);
      expect(conn.closed).toBe(false);
    }
    conn.close();
    const forwarded = seen.slice(seenBefore);
    expect(forwarded.map((r) => r.path)).toEqual(['/k1', '/k2', '/k3']);
    for (const record of forwarded) {
      expect(headerIn(record, 'host')).toBe('web.test:8080');
      expect(headerIn(record, 'x-forwarded-for')).toBe('127.0.0.1');
      expect(headerIn(record, 'x-forwarded-proto')).toBe('http');
      expect(headerIn(record, 'x-forwarded-host')).toBe('web.test:8080');
    }
  });

  test('two GETs in one write get two answers, in order', async () => {
    // Proves pipelined requests are answered one after the other, each with its own body.
    const conn = await open();
    conn.write(get('/first') + get('/second'));
    const first = await conn.readResponse();
    const second = await conn.readResponse();
    conn.close();
    expect(jsonOf<Echo>(first).path).toBe('/first');
    expect(jsonOf<Echo>(second).path).toBe('/second');
  });
});

describe('HTTP/1.0', () => {
  test('an HTTP/1.0 request without keep-alive is answered, then the router closes', async () => {
    // Proves HTTP/1.0's default of one request per connection, with a body it can frame.
    const conn = await open();
    conn.write('GET /old HTTP/1.0\r\nHost: web.test\r\n\r\n');
    const response = await conn.readResponse();
    expect(response.status).toBe(200);
    // An HTTP/1.0 client cannot read chunked framing (RFC 9112 §7.1).
    expect(headerOf(response, 'transfer-encoding')).toBeUndefined();
    expect(jsonOf<Echo>(response).path).toBe('/old');
    expect(await conn.waitClosed()).toBe(true);
  });

  test('an HTTP/1.0 request with Connection: keep-alive keeps the connection open', async () => {
    // Proves an HTTP/1.0 client that asks for keep-alive can send a second request.
    const conn = await open();
    const request = (path: string) =>
      `GET ${path} HTTP/1.0\r\nHost: web.test\r\nConnection: keep-alive\r\n\r\n`;
    conn.write(request('/one'));
    const first = await conn.readResponse();
    expect(first.status).toBe(200);
    expect(headerOf(first, 'connection')?.toLowerCase()).toBe('keep-alive');
    conn.write(request('/two'));
    const second = await conn.readResponse();
    conn.close();
    expect(jsonOf<Echo>(second).path).toBe('/two');
  });
});

describe('methods and bodies', () => {
  test("HEAD gets the upstream's Content-Length and no body; the connection is reused", async () => {
    // Proves HEAD framing: the length of the GET answer, zero body bytes, then a clean GET.
    const conn = await open();
    conn.write(`HEAD /sized HTTP/1.1\r\nHost: web.test\r\n\r\n`);
    const head = await conn.readResponse({ head: true });
    expect(head.status).toBe(200);
    expect(headerOf(head, 'content-length')).toBe(String(sizedBytes));
    // Had body bytes followed the HEAD answer, they would be read as the next status line.
    conn.write(get('/sized'));
    const full = await conn.readResponse();
    conn.close();
    expect(full.status).toBe(200);
    expect(full.body.length).toBe(sizedBytes);
  });

  test('a POST body with Content-Length reaches the upstream byte for byte', async () => {
    // Proves the body is passed exactly, binary bytes and CRLFs included.
    const body = Buffer.from([0x61, 0x0d, 0x0a, 0x00, 0xff, 0x80, 0x62, 0x0d, 0x0a, 0x0d, 0x0a]);
    const conn = await open();
    conn.write(`POST /form HTTP/1.1\r\nHost: web.test\r\nContent-Length: ${body.length}\r\n\r\n`);
    conn.write(body);
    const response = await conn.readResponse();
    conn.close();
    expect(response.status).toBe(200);
    const echoed = jsonOf<Echo>(response);
    expect(echoed.method).toBe('POST');
    expect(Buffer.from(echoed.bodyBase64, 'base64').equals(body)).toBe(true);
  });

  test('a chunked POST body of several chunks arrives whole at the upstream', async () => {
    // Proves chunked request framing is decoded and the whole body forwarded.
    const conn = await open();
    conn.write('POST /chunked HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const chunk of ['alpha-', 'beta-', 'gamma']) {
      conn.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await Bun.sleep(5);
    }
    conn.write('0\r\n\r\n');
    const response = await conn.readResponse();
    conn.close();
    expect(response.status).toBe(200);
    expect(Buffer.from(jsonOf<Echo>(response).bodyBase64, 'base64').toString()).toBe(
      'alpha-beta-gamma',
    );
  });

  test('Expect: 100-continue gets 100 Continue before the body, then the final answer', async () => {
    // Proves the interim answer is sent while the client holds its body, and the body arrives.
    const conn = await open();
    conn.write(
      'POST /expect HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
    );
    const interim = await conn.readResponse();
    expect(interim.status).toBe(100);
    expect(interim.version).toBe('HTTP/1.1');
    conn.write('hello');
    const final = await conn.readResponse();
    conn.close();
    expect(final.status).toBe(200);
    expect(Buffer.from(jsonOf<Echo>(final).bodyBase64, 'base64').toString()).toBe('hello');
  });
});

describe('streaming and hop-by-hop headers', () => {
  test('a streamed upstream answer reaches the client event by event', async () => {
    // Proves no response buffering: event 1 is seen while the upstream still holds events 2 and 3.
    const conn = await open();
    conn.write(get('/sse'));
    await conn.waitForBytes((pending) => pending.includes('data: event 1'));
    expect(sseEventsSent).toBe(1);
    openSseGate();
    const response = await conn.readResponse();
    conn.close();
    expect(response.status).toBe(200);
    expect(headerOf(response, 'content-type')).toStartWith('text/event-stream');
    expect(bodyText(response)).toBe('data: event 1\n\ndata: event 2\n\ndata: event 3\n\n');
    expect(sseEventsSent).toBe(3);
  });

  test('headers named in Connection stay on their hop, both ways, and Keep-Alive is not passed', async () => {
    // Proves RFC 9110 §7.6.1: the client's and the upstream's connection-specific headers are dropped.
    const conn = await open();
    conn.write(get('/hop', 'Connection: x-secret\r\nX-Secret: 1\r\nX-Visible: 1\r\n'));
    const request = jsonOf<Echo>(await conn.readResponse());
    expect(headerIn(request, 'x-secret')).toBeUndefined();
    expect(headerIn(request, 'x-visible')).toBe('1');
    conn.write('GET /hop HTTP/1.1\r\nHost: hop.test\r\n\r\n');
    const response = await conn.readResponse();
    conn.close();
    expect(response.status).toBe(200);
    expect(bodyText(response)).toBe('ok');
    expect(headerOf(response, 'x-kept')).toBe('yes');
    expect(headerOf(response, 'x-up')).toBeUndefined();
    expect(headerOf(response, 'keep-alive')).toBeUndefined();
    expect(headerOf(response, 'connection')?.toLowerCase() ?? '').not.toContain('x-up');
  });
});

/** Sends `bytes` on a fresh connection; expects `status`, a close, and no upstream request. */
async function expectRejected(bytes: string, status: number): Promise<void> {
  const seenBefore = seen.length;
  const conn = await open();
  conn.write(bytes);
  const response = await conn.readResponse();
  expect(response.status).toBe(status);
  expect(await conn.waitClosed()).toBe(true);
  expect(seen.length).toBe(seenBefore);
}

describe('request smuggling and malformed heads', () => {
  test('Content-Length with Transfer-Encoding is refused: 400, closed', async () => {
    // Proves the CL.TE ambiguity (RFC 9112 §6.3) never reaches an upstream.
    await expectRejected(
      'POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n',
      400,
    );
  });

  test('two different Content-Lengths are refused: 400, closed', async () => {
    // Proves a message whose length is ambiguous is rejected, not guessed.
    await expectRejected(
      'POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde',
      400,
    );
  });

  test('whitespace between a header name and its colon is refused: 400, closed', async () => {
    // Proves RFC 9112 §5.1: a server must reject a field name followed by whitespace.
    await expectRejected('GET / HTTP/1.1\r\nHost: web.test\r\nX-Bad : 1\r\n\r\n', 400);
  });

  test('an obs-fold continuation line is refused: 400, closed', async () => {
    // Proves RFC 9112 §5.2: line folding outside message/http is rejected.
    await expectRejected('GET / HTTP/1.1\r\nHost: web.test\r\nX-Fold: a\r\n b\r\n\r\n', 400);
  });

  test('an HTTP/1.1 request without Host is refused: 400, closed', async () => {
    // Proves RFC 9112 §3.2: Host is mandatory in HTTP/1.1.
    await expectRejected('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400);
  });

  test('bare-LF line endings are refused and the connection closed', async () => {
    // Proves a head with LF-only line ends never reaches an upstream (whatever error status).
    const seenBefore = seen.length;
    const conn = await open();
    conn.write('GET / HTTP/1.1\nHost: web.test\n\n');
    const response = await conn.nextResponse();
    if (response) expect(response.status).toBeGreaterThanOrEqual(400);
    expect(await conn.waitClosed()).toBe(true);
    expect(seen.length).toBe(seenBefore);
  });

  test('bare-LF line endings are answered 400', async () => {
    // Proves the status names the fault: a malformed request, not an unsupported version.
    await expectRejected('GET / HTTP/1.1\nHost: web.test\n\n', 400);
  });

  test('a 64 KiB head is refused with 431 and closed; other connections are still served', async () => {
    // Proves the head-size limit answers with the right status and hurts no one else.
    const fields = Array.from({ length: 64 }, (_, i) => `X-Pad-${i}: ${'a'.repeat(1024)}\r\n`);
    await expectRejected(`GET / HTTP/1.1\r\nHost: web.test\r\n${fields.join('')}\r\n`, 431);
    await expectServed();
  });
});

describe("the router's own answers", () => {
  test('a body over the limit with Content-Length gets 413 body_too_large', async () => {
    // Proves the router's body limit (bodyBytesMax 1024) answers before the upstream sees anything.
    const seenBefore = seen.length;
    const conn = await open();
    conn.write(
      'POST /big HTTP/1.1\r\nHost: web.test\r\nAccept: application/json\r\nContent-Length: 4096\r\n\r\n',
    );
    conn.write('x'.repeat(4096));
    const response = await conn.readResponse();
    conn.close();
    expect(response.status).toBe(413);
    expect(headerOf(response, 'content-type')).toStartWith('application/json');
    expect(jsonOf<ErrorBody>(response).error.code).toBe('body_too_large');
    expect(seen.length).toBe(seenBefore);
  });

  test('an unknown host gets 404 no_route in JSON', async () => {
    // Proves the router's own error body and code when no route matches.
    const conn = await open();
    conn.write('GET / HTTP/1.1\r\nHost: nowhere.test\r\nAccept: application/json\r\n\r\n');
    const response = await conn.readResponse();
    conn.close();
    expect(response.status).toBe(404);
    expect(headerOf(response, 'content-type')).toStartWith('application/json');
    expect(jsonOf<ErrorBody>(response).error.code).toBe('no_route');
  });

  test('an upstream that refuses connections gets 502 upstream_unavailable', async () => {
    // Proves a dead upstream is answered by the router, in JSON, on a connection that stays usable.
    const conn = await open();
    conn.write('GET / HTTP/1.1\r\nHost: down.test\r\nAccept: application/json\r\n\r\n');
    const response = await conn.readResponse();
    expect(response.status).toBe(502);
    expect(jsonOf<ErrorBody>(response).error.code).toBe('upstream_unavailable');
    conn.write(get('/after-502'));
    const next = await conn.readResponse();
    conn.close();
    expect(jsonOf<Echo>(next).path).toBe('/after-502');
  });
});

describe('WebSocket and idle connections', () => {
  test('a WebSocket upgrade is proxied to the upstream and a frame is echoed', async () => {
    // Proves the 101 handshake (RFC 6455 §4.2.2) and frames flowing both ways through the router.
    const prng = createPrng(14);
    const key = Buffer.from(Array.from({ length: 16 }, () => prng.int(0, 256))).toString('base64');
    const conn = await open();
    conn.write(
      'GET /ws HTTP/1.1\r\nHost: web.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const handshake = await conn.readResponse();
    expect(handshake.status).toBe(101);
    expect(headerOf(handshake, 'upgrade')?.toLowerCase()).toBe('websocket');
    expect(headerOf(handshake, 'sec-websocket-accept')).toBe(webSocketAccept(key));
    const mask = Uint8Array.from([prng.int(0, 256), 1, 2, 3]);
    conn.write(encodeClientFrame(0x1, Buffer.from('hello'), mask));
    const frame = await conn.readFrame();
    expect(frame.opcode).toBe(0x1);
    expect(frame.fin).toBe(true);
    expect(frame.payload.toString()).toBe('echo:hello');
    // A close frame (status 1000) is answered with a close frame.
    conn.write(encodeClientFrame(0x8, Uint8Array.from([0x03, 0xe8]), mask));
    expect((await conn.readFrame()).opcode).toBe(0x8);
    conn.close();
  });

  test(
    'an idle keep-alive connection is closed by the router',
    async () => {
      // Proves clientIdleSeconds (1 s here) closes idle clients; bounded at 10 s, no tighter timing.
      const conn = await open(idleRouter);
      conn.write(get('/then-idle'));
      expect((await conn.readResponse()).status).toBe(200);
      expect(await conn.waitClosed(idleCloseWaitMsMax)).toBe(true);
    },
    idleCloseWaitMsMax + 5_000,
  );
});

/** One random head: bytes from all 256 values or from an HTTP-like alphabet, then CRLFCRLF. */
function garbageBytes(prng: Prng): Buffer {
  const httpLike = 'GETPOSTHEAD /:?=&-_.HTTP/1.1 \r\n\t\x00\x7fHost: web.test';
  const length = prng.int(1, 300);
  const bytes = Buffer.alloc(length + 4);
  const binary = prng.chance(0.5);
  for (let i = 0; i < length; i++) {
    bytes[i] = binary ? prng.int(0, 256) : httpLike.charCodeAt(prng.int(0, httpLike.length));
  }
  // The blank line ends any head, so the router must decide instead of waiting for more.
  bytes.write('\r\n\r\n', length, 'latin1');
  return bytes;
}

/** Whether the router's answer to a garbage head is acceptable. */
type StatusAllowed = (status: number) => boolean;

const clientError: StatusAllowed = (status) => status >= 400 && status < 500;

/** Undefined when the router closed or answered as `allowed` says, else why not. */
async function garbageOutcome(
  index: number,
  bytes: Buffer,
  allowed: StatusAllowed,
): Promise<string | undefined> {
  const conn = await open();
  conn.write(bytes);
  try {
    const response = await conn.nextResponse();
    if (response === undefined || allowed(response.status)) return undefined;
    return `case ${index}: status ${response.status}`;
  } catch (error) {
    return `case ${index}: ${(error as Error).message}`;
  } finally {
    conn.close();
  }
}

/**
 * Sends the seeded garbage heads, each on a fresh connection, a bounded number at once;
 * expects each closed or answered as `allowed` says, none forwarded, and the router serving.
 */
async function expectGarbageRefused(allowed: StatusAllowed): Promise<void> {
  const prng = createPrng(garbageSeed);
  const cases = Array.from({ length: garbageCasesMax }, () => garbageBytes(prng));
  const seenBefore = seen.length;
  const problems: string[] = [];
  for (let start = 0; start < cases.length; start += garbageConcurrencyMax) {
    const batch = cases.slice(start, start + garbageConcurrencyMax);
    const outcomes = await Promise.all(
      batch.map((bytes, i) => garbageOutcome(start + i, bytes, allowed)),
    );
    for (const outcome of outcomes) if (outcome) problems.push(outcome);
  }
  // On failure the seed and case numbers replay it: WIRE_GARBAGE_SEED=<seed>.
  expect({ seed: garbageSeed, problems }).toEqual({ seed: garbageSeed, problems: [] });
  expect(seen.length).toBe(seenBefore);
  await expectServed();
}

describe('garbage', () => {
  test(`${garbageCasesMax} seeded random heads get only 4xx or a close; the router keeps serving`, async () => {
    // Proves the front survives arbitrary bytes: a client error or a close, nothing forwarded.
    await expectGarbageRefused(clientError);
  });
});
