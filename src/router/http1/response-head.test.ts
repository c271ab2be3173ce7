import { describe, expect, test } from 'bun:test';
import { replyContentLength, replyHead, responseHead, statusLine } from './response-head.ts';

const keep = { keepAlive: true, http10: false };

describe('replyHead', () => {
  test('keeps the upstream header names as sent and its own Content-Length', () => {
    // Proves a fixed-length reply passes through without a second Content-Length.
    const head = replyHead(
      200,
      { 'Content-Type': 'text/html', 'Content-Length': '5' },
      { framing: { kind: 'length', lengthBytes: 5 }, ...keep },
    );
    expect(head).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n');
  });

  test('adds Content-Length for a body read whole from a chunked upstream', () => {
    // Proves a body whose length the upstream never said gets one on the client's hop.
    const head = replyHead(
      200,
      { etag: '"x"' },
      { framing: { kind: 'length', lengthBytes: 3 }, ...keep },
    );
    expect(head).toBe('HTTP/1.1 200 OK\r\netag: "x"\r\ncontent-length: 3\r\n\r\n');
  });

  test('re-frames a stream as chunked and drops a Content-Length it cannot keep', () => {
    // Proves chunked framing never travels beside a Content-Length (RFC 9112 §6.3).
    const head = replyHead(
      200,
      [
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        ['CONTENT-LENGTH', '9'],
      ],
      { framing: { kind: 'chunked' }, ...keep },
    );
    expect(head).toBe(
      'HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ntransfer-encoding: chunked\r\n\r\n',
    );
  });

  test('says close, or keep-alive to an HTTP/1.0 client, and nothing for 204', () => {
    // Proves the Connection line follows the client's hop and bodiless statuses get no framing.
    const closing = replyHead(
      502,
      {},
      { framing: { kind: 'length', lengthBytes: 0 }, keepAlive: false, http10: false },
    );
    expect(closing).toBe(
      'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
    );
    const old = replyHead(
      200,
      {},
      { framing: { kind: 'length', lengthBytes: 2 }, keepAlive: true, http10: true },
    );
    expect(old).toContain('connection: keep-alive\r\n');
    expect(replyHead(204, {}, { framing: { kind: 'none' }, ...keep })).toBe(
      'HTTP/1.1 204 No Content\r\n\r\n',
    );
  });

  test('an unknown status still gets a status line', () => {
    // Proves any 3-digit status an upstream sends can be written back.
    expect(statusLine(599)).toBe('HTTP/1.1 599 Unknown\r\n');
  });
});

describe('responseHead', () => {
  test('drops hop-by-hop and framing headers of a Response and frames it itself', () => {
    // Proves fetch's answers cannot smuggle their own Transfer-Encoding or Connection through.
    const response = new Response('abc', {
      status: 404,
      headers: {
        'content-type': 'text/plain',
        connection: 'keep-alive',
        'transfer-encoding': 'chunked',
      },
    });
    const head = responseHead(response, { framing: { kind: 'chunked' }, ...keep });
    expect(head).toBe(
      'HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n',
    );
  });
});

describe('replyContentLength', () => {
  test('finds Content-Length in any letter case, in both header shapes', () => {
    // Proves a streamed reply with a length is written raw, not re-chunked.
    expect(replyContentLength({ 'Content-Length': '12' })).toBe(12);
    expect(replyContentLength([['content-LENGTH', '7']])).toBe(7);
    expect(replyContentLength({ etag: 'x' })).toBeUndefined();
  });
});
