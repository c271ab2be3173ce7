/**
 * The raw upstream client against scripted upstreams on 127.0.0.1: framing, keep-alive
 * reuse, stale connections, backpressure both ways, and failures.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { Socket } from 'bun';
import { limits } from '../core/limits.ts';
import { UpstreamConnPool } from './upstream-conn-pool.ts';
import {
  getHead,
  okResponse,
  RecordingExchange,
  replyBytes,
  type ScriptedUpstream,
  scriptedUpstream,
} from './upstream-conn-testing.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function upstream(script: Parameters<typeof scriptedUpstream>[0]): ScriptedUpstream {
  const server = scriptedUpstream(script);
  cleanups.push(() => server.stop());
  return server;
}

function poolFor(server: { url: string }): UpstreamConnPool {
  const pool = UpstreamConnPool.forUrl(server.url)!;
  cleanups.push(() => pool.close());
  return pool;
}

/** Sends one exchange and waits for its outcome. */
async function exchange(pool: UpstreamConnPool, sent: RecordingExchange) {
  expect(pool.send(sent)).toBeDefined();
  return sent.outcome;
}

async function waitUntil(condition: () => boolean, attemptsMax = 200): Promise<boolean> {
  for (let i = 0; i < attemptsMax && !condition(); i++) await Bun.sleep(5);
  return condition();
}

describe('UpstreamConnPool and UpstreamConnection', () => {
  test('sequential requests reuse one keep-alive connection', async () => {
    // Proves keep-alive reuse: two answers, one TCP connection, and the pool's counts.
    const server = upstream(() => ({ chunks: [okResponse('hello', { 'x-a': '1' })] }));
    const pool = poolFor(server);
    for (const target of ['/one', '/two']) {
      const outcome = await exchange(pool, new RecordingExchange(getHead(target)));
      if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
      expect(outcome.reply.status).toBe(200);
      expect(outcome.reply.headers).toEqual({ 'x-a': '1', 'content-length': '5' });
      expect((await replyBytes(outcome.reply)).toString()).toBe('hello');
    }
    expect(server.connections()).toBe(1);
    expect(server.requests.map((r) => [r.target, r.indexOnConnection])).toEqual([
      ['/one', 1],
      ['/two', 2],
    ]);
    expect(pool.stats()).toEqual({ open: 1, idle: 1 });
  });

  test('closing the pool closes its idle connections at once', async () => {
    // Proves a drained upstream leaves no keep-alive sockets behind (UpstreamPool forgets it).
    const server = upstream(() => ({ chunks: [okResponse('ok')] }));
    const pool = poolFor(server);
    await exchange(pool, new RecordingExchange(getHead('/')));
    expect(server.openConnections()).toBe(1);
    pool.close();
    expect(pool.stats()).toEqual({ open: 0, idle: 0 });
    expect(await waitUntil(() => server.openConnections() === 0)).toBe(true);
  });

  test('a chunked answer split over several writes streams, then the connection is reused', async () => {
    // Proves chunked decoding across reads, one bodyEnded, and reuse after a streamed body.
    const server = upstream((request, socket) => {
      if (request.target === '/after') return { chunks: [okResponse('again')] };
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel');
      setTimeout(() => socket.write('lo\r\n6\r\n world\r\n'), 20);
      setTimeout(() => socket.write('0\r\n\r\n'), 40);
      return {};
    });
    const pool = poolFor(server);
    const sent = new RecordingExchange(getHead('/chunks'));
    const outcome = await exchange(pool, sent);
    if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
    expect(outcome.reply.body).toBeInstanceOf(ReadableStream);
    expect((await replyBytes(outcome.reply)).toString()).toBe('hello world');
    expect(sent.bodyEnds).toBe(1);
    const after = await exchange(pool, new RecordingExchange(getHead('/after')));
    expect(after.ok && (await replyBytes(after.reply)).toString()).toBe('again');
    expect(server.connections()).toBe(1);
  });

  test('cancelling a finished stream after its connection moved on leaves the next exchange alone', async () => {
    // Proves a late cancel from an old reader cannot cut the connection now carrying another request.
    const server = upstream((request, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n');
      const rest = request.target === '/a' ? '0\r\n\r\n' : '3\r\ntwo\r\n0\r\n\r\n';
      setTimeout(() => socket.write(rest), 20);
      return {};
    });
    const pool = poolFor(server);
    const first = new RecordingExchange(getHead('/a'));
    const a = await exchange(pool, first);
    if (!a.ok) throw new Error(`failed: ${a.kind}`);
    expect(await waitUntil(() => first.bodyEnds === 1 && pool.stats().idle === 1)).toBe(true);
    const second = new RecordingExchange(getHead('/b'));
    const b = await exchange(pool, second);
    if (!b.ok) throw new Error(`failed: ${b.kind}`);
    await (a.reply.body as ReadableStream<Uint8Array>).cancel();
    expect((await replyBytes(b.reply)).toString()).toBe('onetwo');
    expect([first.bodyEnds, second.bodyEnds]).toEqual([1, 1]);
    expect(server.connections()).toBe(1);
  });

  test('a stream that fills its queue with its last bytes leaves the connection reading', async () => {
    // Proves a connection whose final read paused the socket (queue full, nobody reading
    // yet) is resumed when it goes back to the pool: the next request on it is answered
    // instead of hanging until its timeout.
    const queueBytes = limits.routerResponseQueueBytesMax;
    const server = upstream((request, socket) => {
      if (request.target === '/after') return { chunks: [okResponse('again')] };
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      // The whole body, its end included, in one write after the head: one read fills the
      // queue exactly and ends the body.
      const body = Buffer.alloc(queueBytes, 0x62);
      const framed = Buffer.concat([
        Buffer.from(`${queueBytes.toString(16)}\r\n`),
        body,
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
      setTimeout(() => socket.write(framed), 30);
      return {};
    });
    const pool = poolFor(server);
    const first = new RecordingExchange(getHead('/fill'));
    const a = await exchange(pool, first);
    if (!a.ok) throw new Error(`failed: ${a.kind}`);
    expect(await waitUntil(() => first.bodyEnds === 1 && pool.stats().idle === 1)).toBe(true);
    const second = new RecordingExchange(getHead('/after'));
    expect(pool.send(second)).toBeDefined();
    const b = await Promise.race([second.outcome, Bun.sleep(2_000).then(() => undefined)]);
    expect(b?.ok).toBe(true);
    if (!b?.ok) return;
    expect((await replyBytes(b.reply)).toString()).toBe('again');
    expect((await replyBytes(a.reply)).length).toBe(queueBytes);
    expect(server.connections()).toBe(1);
  });

  test('a chunked answer that arrives whole is handed over as bytes', async () => {
    // Proves the no-stream fast path for complete chunked bodies (trailers dropped).
    const server = upstream(() => ({
      chunks: [
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n',
      ],
    }));
    const sent = new RecordingExchange(getHead('/'));
    const outcome = await exchange(poolFor(server), sent);
    if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
    expect(outcome.reply.body).toBeInstanceOf(Uint8Array);
    expect((await replyBytes(outcome.reply)).toString()).toBe('abc');
    expect(sent.bodyEnds).toBe(0);
  });

  test('HEAD, 204 and 304 answers have no body and keep the connection', async () => {
    // Proves bodiless framing: Content-Length on HEAD/304 is not waited for, and reuse follows.
    const server = upstream((request) => {
      if (request.method === 'HEAD') {
        return {
          chunks: ['HTTP/1.1 200 OK\r\ncontent-length: 1024\r\ncontent-type: text/html\r\n\r\n'],
        };
      }
      if (request.target === '/204')
        return { chunks: ['HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n'] };
      return { chunks: ['HTTP/1.1 304 Not Modified\r\netag: "e"\r\ncontent-length: 99\r\n\r\n'] };
    });
    const pool = poolFor(server);
    const headOutcome = await exchange(
      pool,
      new RecordingExchange(getHead('/', 'HEAD'), { isHead: true }),
    );
    if (!headOutcome.ok) throw new Error(`failed: ${headOutcome.kind}`);
    expect(headOutcome.reply.body).toBeNull();
    expect(headOutcome.reply.headers).toEqual({
      'content-length': '1024',
      'content-type': 'text/html',
    });
    for (const [target, status] of [
      ['/204', 204],
      ['/304', 304],
    ] as const) {
      const outcome = await exchange(pool, new RecordingExchange(getHead(target)));
      if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
      expect(outcome.reply.status).toBe(status);
      expect(outcome.reply.body).toBeNull();
    }
    expect(server.connections()).toBe(1);
  });

  test('interim 1xx answers are skipped', async () => {
    // Proves 100 Continue and 103 Early Hints never reach the client as the answer.
    const server = upstream(() => ({
      chunks: [
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n',
        okResponse('done'),
      ],
    }));
    const outcome = await exchange(poolFor(server), new RecordingExchange(getHead('/')));
    if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
    expect(outcome.reply.status).toBe(200);
    expect((await replyBytes(outcome.reply)).toString()).toBe('done');
  });

  test('a body delimited by close streams until the upstream closes; no reuse', async () => {
    // Proves read-until-close bodies (HTTP/1.0 style) and that such a connection is not pooled.
    const server = upstream((_request, socket) => {
      socket.write('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
      setTimeout(() => socket.end('part two'), 20);
      return {};
    });
    const pool = poolFor(server);
    const outcome = await exchange(pool, new RecordingExchange(getHead('/')));
    if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
    expect((await replyBytes(outcome.reply)).toString()).toBe('part one, part two');
    expect(await waitUntil(() => pool.stats().open === 0)).toBe(true);
  });

  test('a reused connection closed by the upstream before answering is retry safe only for replayable requests', async () => {
    // Proves the stale keep-alive signal: no answer byte on a reused connection, idempotent or unsent.
    const server = upstream((request) =>
      request.indexOnConnection === 1 ? { chunks: [okResponse('first')] } : { close: true },
    );
    const pool = poolFor(server);
    await exchange(pool, new RecordingExchange(getHead('/warm')));
    const get = await exchange(pool, new RecordingExchange(getHead('/again')));
    expect(get).toEqual({ ok: false, kind: 'reset', retrySafe: true });
    await exchange(pool, new RecordingExchange(getHead('/warm')));
    const post = await exchange(
      pool,
      new RecordingExchange('POST /p HTTP/1.1\r\nhost: t\r\ncontent-length: 1\r\n\r\n', {
        body: new Uint8Array([0x61]),
        replayable: false,
      }),
    );
    expect(post).toEqual({ ok: false, kind: 'reset', retrySafe: false });
  });

  test('idle connections the upstream closes are dropped from the pool, not reused', async () => {
    // Proves an idle close (upstream keep-alive timeout) is noticed before the next request.
    const server = upstream(() => ({ chunks: [okResponse('ok')] }));
    const pool = poolFor(server);
    await exchange(pool, new RecordingExchange(getHead('/one')));
    expect(pool.stats().idle).toBe(1);
    server.closeAll();
    expect(await waitUntil(() => pool.stats().open === 0)).toBe(true);
    const outcome = await exchange(pool, new RecordingExchange(getHead('/two')));
    expect(outcome.ok).toBe(true);
    expect(server.connections()).toBe(2);
  });

  test('a refused connection fails as connect; garbage fails as reset', async () => {
    // Proves the failure kinds the proxy's retry and ejection rules depend on.
    const refused = UpstreamConnPool.forUrl('http://127.0.0.1:1')!;
    const outcome = await exchange(refused, new RecordingExchange(getHead('/')));
    expect(outcome).toEqual({ ok: false, kind: 'connect', retrySafe: false });
    expect(refused.stats().open).toBe(0);
    const server = upstream(() => ({ chunks: ['SSH-2.0-OpenSSH\r\n\r\n'] }));
    const garbage = await exchange(poolFor(server), new RecordingExchange(getHead('/')));
    expect(garbage).toEqual({ ok: false, kind: 'reset', retrySafe: false });
  });

  test('an oversized response head is refused', async () => {
    // Proves the head is bounded by routerResponseHeadBytesMax, not by the upstream.
    const server = upstream((_request, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(limits.routerResponseHeadBytesMax)}`);
      return {};
    });
    const outcome = await exchange(poolFor(server), new RecordingExchange(getHead('/')));
    expect(outcome).toEqual({ ok: false, kind: 'reset', retrySafe: false });
  });

  test('a request body larger than the socket buffer is written whole', async () => {
    // Proves request-side backpressure: partial writes continue on drain, bytes intact.
    const server = upstream((request) => ({
      chunks: [okResponse(`${request.body.length} ${Bun.hash(request.body)}`)],
    }));
    const body = new Uint8Array(1_000_000).map((_, i) => i % 251);
    const head = `POST /upload HTTP/1.1\r\nhost: t\r\ncontent-length: ${body.length}\r\n\r\n`;
    const outcome = await exchange(poolFor(server), new RecordingExchange(head, { body }));
    if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
    expect((await replyBytes(outcome.reply)).toString()).toBe(`${body.length} ${Bun.hash(body)}`);
  });

  test('a response larger than the socket buffers pauses the upstream until the client reads', async () => {
    // Proves response backpressure: unread, the upstream is held back; read, every byte arrives.
    const totalBytes = 32 * 1024 * 1024;
    // Byte p of the body is p % 251, whatever the write boundaries.
    const period = 251;
    const pattern = new Uint8Array(period * 256).map((_, i) => i % period);
    let acceptedBytes = 0;
    const pump = (socket: Socket<undefined>) => {
      while (acceptedBytes < totalBytes) {
        const offset = acceptedBytes % period;
        const length = Math.min(pattern.length - offset, totalBytes - acceptedBytes);
        const written = socket.write(pattern, offset, length);
        if (written <= 0) return;
        acceptedBytes += written;
        if (written < length) return;
      }
    };
    const listener = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        data(socket) {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${totalBytes}\r\n\r\n`);
          pump(socket);
        },
        drain: pump,
      },
    });
    cleanups.push(() => listener.stop(true));
    const pool = poolFor({ url: `http://127.0.0.1:${listener.port}` });
    const sent = new RecordingExchange(getHead('/big'));
    const outcome = await exchange(pool, sent);
    if (!outcome.ok) throw new Error(`failed: ${outcome.kind}`);
    await Bun.sleep(300);
    expect(acceptedBytes).toBeLessThan(totalBytes / 2);
    const received = await replyBytes(outcome.reply);
    expect(received.length).toBe(totalBytes);
    let mismatches = 0;
    for (let p = 0; p < totalBytes; p += 4_093) if (received[p] !== p % period) mismatches += 1;
    expect(mismatches).toBe(0);
    expect(received[totalBytes - 1]).toBe((totalBytes - 1) % period);
    expect(sent.bodyEnds).toBe(1);
    expect(pool.stats()).toEqual({ open: 1, idle: 1 });
  });

  test('the connection cap leaves a send to the caller; a closed pool sends nothing', async () => {
    // Proves send() returns undefined at connsMax instead of queueing without bound.
    const server = upstream(() => ({}));
    const pool = UpstreamConnPool.forUrl(server.url, { connsMax: 4, idleConnsMax: 2 })!;
    cleanups.push(() => pool.close());
    const held: RecordingExchange[] = [];
    for (let i = 0; i < 4; i++) {
      const sent = new RecordingExchange(getHead(`/${i}`));
      expect(pool.send(sent)).toBeDefined();
      held.push(sent);
    }
    expect(pool.send(new RecordingExchange(getHead('/over')))).toBeUndefined();
    expect(pool.stats()).toEqual({ open: 4, idle: 0 });
    pool.close();
    expect(pool.send(new RecordingExchange(getHead('/closed')))).toBeUndefined();
    server.stop();
    const outcomes = await Promise.all(held.map((sent) => sent.outcome));
    expect(outcomes.every((outcome) => !outcome.ok)).toBe(true);
  });

  test('idle connections beyond idleConnsMax are closed when released', async () => {
    // Proves the idle list is bounded: extra connections close instead of piling up.
    let answer: Array<() => void> = [];
    const server = upstream((_request, socket) => {
      answer.push(() => socket.write(okResponse('ok')));
      return {};
    });
    const pool = UpstreamConnPool.forUrl(server.url, { connsMax: 4, idleConnsMax: 2 })!;
    cleanups.push(() => pool.close());
    const sent = Array.from({ length: 4 }, (_, i) => new RecordingExchange(getHead(`/${i}`)));
    for (const exchangeSent of sent) pool.send(exchangeSent);
    expect(await waitUntil(() => answer.length === 4)).toBe(true);
    for (const respond of answer) respond();
    answer = [];
    await Promise.all(sent.map((exchangeSent) => exchangeSent.outcome));
    expect(await waitUntil(() => pool.stats().open === 2)).toBe(true);
    expect(pool.stats()).toEqual({ open: 2, idle: 2 });
  });
});
