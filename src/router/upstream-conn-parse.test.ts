import { describe, expect, test } from 'bun:test';
import {
  type ChunkedState,
  decodeChunked,
  type HeadParseResult,
  newChunkedState,
  parseResponseHead,
  type ResponseHead,
} from './upstream-conn-parse.ts';

/** Headers as pairs, whichever form the parser chose. */
function pairsOf(headers: ResponseHead['headers']): [string, string][] {
  return Array.isArray(headers) ? headers : Object.entries(headers);
}

function head(text: string, requestWasHead = false): ResponseHead {
  const parsed: HeadParseResult = parseResponseHead(text, requestWasHead);
  if (!parsed.ok) throw new Error(`expected a head, got: ${parsed.reason}`);
  return parsed.head;
}

function decodeAll(input: Uint8Array, pieceBytes: number): { body: string; state: ChunkedState } {
  const state = newChunkedState();
  const out: Uint8Array[] = [];
  for (let at = 0; at < input.length && state.phase !== 'done'; at += pieceBytes) {
    const piece = input.subarray(at, Math.min(input.length, at + pieceBytes));
    expect(decodeChunked(state, piece, 0, out)).toBeGreaterThanOrEqual(0);
  }
  return { body: Buffer.concat(out).toString('latin1'), state };
}

describe('parseResponseHead', () => {
  test('keeps end-to-end headers as an object and drops hop-by-hop ones', () => {
    // Proves RFC 9110 §7.6.1: fixed hop-by-hop names and names listed in Connection stay on their hop.
    const parsed = head(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Secret\r\n' +
        'Keep-Alive: timeout=5\r\nX-Secret: s\r\nServer:  up \r\nContent-Length: 5',
    );
    expect(parsed.status).toBe(200);
    expect(pairsOf(parsed.headers)).toEqual([
      ['Content-Type', 'text/plain'],
      ['Server', 'up'],
      ['Content-Length', '5'],
    ]);
    // Without Connection-named headers the object form is kept (it is cheapest for Bun).
    expect(head('HTTP/1.1 200 OK\r\nServer: up\r\nConnection: close').headers).toEqual({
      Server: 'up',
    });
    expect(parsed.framing).toEqual({ kind: 'length', lengthBytes: 5 });
    expect(parsed.keepAlive).toBe(true);
  });

  test('a repeated header name turns the headers into pairs so none is lost', () => {
    // Proves Set-Cookie (which cannot be folded) survives parsing in order.
    const parsed = head('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-A: 1\r\nSet-Cookie: b=2');
    expect(parsed.headers).toEqual([
      ['Set-Cookie', 'a=1'],
      ['X-A', '1'],
      ['Set-Cookie', 'b=2'],
    ]);
  });

  test('body framing follows RFC 9112 §6.3 in order', () => {
    // Proves HEAD/1xx/204/304 carry no body, TE wins over CL, and no length means read-until-close.
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 10', true).framing).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 204 No Content\r\nContent-Length: 10').framing.kind).toBe('none');
    expect(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 10').framing.kind).toBe('none');
    expect(head('HTTP/1.1 103 Early Hints\r\nLink: </a>').framing.kind).toBe('none');
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked').framing.kind).toBe('chunked');
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip').framing.kind).toBe('close');
    expect(head('HTTP/1.1 200 OK\r\nX-A: 1').framing.kind).toBe('close');
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 0').framing.kind).toBe('none');
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 7, 7').framing).toEqual({
      kind: 'length',
      lengthBytes: 7,
    });
  });

  test('Transfer-Encoding with Content-Length drops the length and the connection', () => {
    // Proves the smuggling guard of RFC 9112 §6.1: the length is ignored and the connection not reused.
    const parsed = head(
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nX-A: 1',
    );
    expect(parsed.framing.kind).toBe('chunked');
    expect(parsed.keepAlive).toBe(false);
    expect(pairsOf(parsed.headers)).toEqual([['X-A', '1']]);
  });

  test('keep-alive needs HTTP/1.1 without Connection: close and a delimited body', () => {
    // Proves when a connection may carry another request after this answer.
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 1').keepAlive).toBe(true);
    expect(head('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1').keepAlive).toBe(false);
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 1').keepAlive).toBe(false);
    expect(head('HTTP/1.1 200 OK').keepAlive).toBe(false);
  });

  test('malformed heads are refused', () => {
    // Proves bad status lines, obs-fold, whitespace before the colon and conflicting lengths fail.
    const bad = [
      'HTTP/2 200 OK',
      'HTTP/1.1 20 OK',
      'ICY 200 OK',
      'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded',
      'HTTP/1.1 200 OK\r\nContent-Length : 5',
      'HTTP/1.1 200 OK\r\nno colon here',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6',
      'HTTP/1.1 200 OK\r\nContent-Length: -1',
    ];
    for (const text of bad) expect(parseResponseHead(text, false).ok).toBe(false);
  });
});

describe('decodeChunked', () => {
  const encoded = Buffer.from(
    '5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT',
    'latin1',
  );

  test('decodes the same body whatever the read boundaries, and stops at its end', () => {
    // Proves extensions and trailers are skipped and bytes after the body are left alone.
    for (const pieceBytes of [1, 2, 3, 7, 64]) {
      const { body, state } = decodeAll(encoded.subarray(0, encoded.length - 4), pieceBytes);
      expect(body).toBe('hello world');
      expect(state.phase).toBe('done');
    }
    const state = newChunkedState();
    const out: Uint8Array[] = [];
    const end = decodeChunked(state, encoded, 0, out);
    expect(encoded.subarray(end).toString()).toBe('NEXT');
  });

  test('malformed chunked bodies are refused', () => {
    // Proves a bad size line, a missing CRLF after data, and a bare LF are errors.
    for (const text of ['zz\r\nhello\r\n', '5\r\nhelloXX', '5\nhello\r\n']) {
      const out: Uint8Array[] = [];
      expect(decodeChunked(newChunkedState(), Buffer.from(text), 0, out)).toBe(-1);
    }
  });

  test('an endless chunk-size line is cut off by the line limit', () => {
    // Proves the decoder's memory is bounded by routerChunkLineBytesMax, not by the upstream.
    const state = newChunkedState();
    const out: Uint8Array[] = [];
    let result = 0;
    for (let i = 0; i < 10 && result >= 0; i++) {
      result = decodeChunked(state, Buffer.alloc(1_000, 0x31), 0, out);
    }
    expect(result).toBe(-1);
  });
});
