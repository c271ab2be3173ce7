/** The request-head parser reads valid heads whole, in pieces, pipelined, and at its limits. */
import { describe, expect, test } from 'bun:test';
import { limits } from '../../core/limits.ts';
import { decodeChunked, newChunkedState } from '../upstream-conn-parse.ts';
import { parseRequestHead, type RequestHead } from './request-head.ts';
import { bytesOf, headMax, headOf, verdictOf } from './request-head-testing.ts';

const validCases: { name: string; text: string; expected: Partial<RequestHead> }[] = [
  {
    name: 'GET in origin-form with a query',
    text: 'GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n',
    expected: {
      method: 'GET',
      target: '/a/b?x=1&y=%20',
      minorVersion: 1,
      host: 'example.com',
      fields: ['host', 'example.com', 'accept', '*/*'],
      contentLength: undefined,
      chunked: false,
      keepAlive: true,
      upgrade: undefined,
      expectContinue: false,
      connectionTokens: [],
    },
  },
  {
    name: 'POST with a Content-Length',
    text: 'POST /submit HTTP/1.1\r\nHost: a.test:8080\r\nContent-Length: 5\r\n\r\n',
    expected: { method: 'POST', contentLength: 5, chunked: false, host: 'a.test:8080' },
  },
  {
    name: 'POST with chunked Transfer-Encoding (case-insensitive)',
    text: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n',
    expected: { chunked: true, contentLength: undefined },
  },
  {
    name: 'HEAD',
    text: 'HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n',
    expected: { method: 'HEAD', target: '/x' },
  },
  {
    name: 'OPTIONS in asterisk-form',
    text: 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
    expected: { method: 'OPTIONS', target: '*' },
  },
  {
    name: 'absolute-form: the authority wins over Host',
    text: 'GET http://Example.com:8080/p?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n',
    expected: { target: '/p?q=1', host: 'Example.com:8080', fields: ['host', 'other.test'] },
  },
  {
    name: 'absolute-form with an upper-case https scheme and no path',
    text: 'GET HTTPS://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n',
    expected: { target: '/', host: 'a.test' },
  },
  {
    name: 'absolute-form with a query but no path',
    text: 'GET http://[::1]:81?x HTTP/1.1\r\nHost: a\r\n\r\n',
    expected: { target: '/?x', host: '[::1]:81' },
  },
  {
    name: 'OPTIONS in absolute-form without a path becomes asterisk (RFC 9112 §3.2.4)',
    text: 'OPTIONS http://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n',
    expected: { target: '*', host: 'a.test' },
  },
  {
    name: 'HTTP/1.0 without Host or keep-alive',
    text: 'GET / HTTP/1.0\r\n\r\n',
    expected: { minorVersion: 0, host: '', keepAlive: false, fields: [] },
  },
  {
    name: 'HTTP/1.0 with Connection: Keep-Alive',
    text: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    expected: { keepAlive: true, connectionTokens: ['keep-alive'] },
  },
  {
    name: 'HTTP/1.1 with Connection: close',
    text: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    expected: { keepAlive: false, connectionTokens: ['close'] },
  },
  {
    name: 'Connection tokens from every Connection field, lower-cased, empty elements skipped',
    text: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, X-Foo,\r\nConnection:  TE \r\n\r\n',
    expected: { keepAlive: true, connectionTokens: ['keep-alive', 'x-foo', 'te'] },
  },
  {
    name: 'upgrade when Connection lists it',
    text: 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n',
    expected: { upgrade: 'websocket', connectionTokens: ['keep-alive', 'upgrade'] },
  },
  {
    name: 'no upgrade when Connection does not list it',
    text: 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n',
    expected: { upgrade: undefined, fields: ['host', 'a', 'upgrade', 'websocket'] },
  },
  {
    name: 'an HTTP/1.0 Upgrade is ignored (RFC 9110 §7.8)',
    text: 'GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
    expected: { upgrade: undefined },
  },
  {
    name: 'Expect: 100-continue, case-insensitive',
    text: 'PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n',
    expected: { expectContinue: true, contentLength: 10 },
  },
  {
    name: 'another expectation is not 100-continue',
    text: 'PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-please\r\n\r\n',
    expected: { expectContinue: false },
  },
  {
    name: 'an HTTP/1.0 Expect is ignored (RFC 9110 §10.1.1)',
    text: 'PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n',
    expected: { expectContinue: false },
  },
  {
    name: 'Content-Length 0, and repeated equal lengths as one value',
    text: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0 , 00\r\n\r\n',
    expected: { contentLength: 0 },
  },
  {
    name: 'names lower-cased, values trimmed of spaces and tabs, empty and obs-text values kept',
    text: 'GET / HTTP/1.1\r\nHOST:a\r\nX-Empty:\r\nX-Latin: \tcaf\xe9 au lait \t\r\nx-a: "q, r"\r\n\r\n',
    expected: {
      fields: ['host', 'a', 'x-empty', '', 'x-latin', 'caf\xe9 au lait', 'x-a', '"q, r"'],
    },
  },
  {
    name: 'up to four empty lines before the request line are skipped',
    text: '\r\n\r\n\r\n\r\nDELETE /item/7 HTTP/1.1\r\nHost: a\r\n\r\n',
    expected: { method: 'DELETE', target: '/item/7' },
  },
  {
    name: 'an extension method token is kept as sent',
    text: 'M-Search~1 / HTTP/1.1\r\nHost: a\r\n\r\n',
    expected: { method: 'M-Search~1' },
  },
];

describe('parseRequestHead: valid heads', () => {
  for (const { name, text, expected } of validCases) {
    test(name, () => {
      // Proves the parsed head carries exactly these facts for this request.
      expect(headOf(text)).toMatchObject(expected);
    });
  }

  test('parses at an offset into a plain Uint8Array view', () => {
    // Proves `start` and non-Buffer views (with their own byteOffset) are honoured.
    const text = 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n';
    const backing = new Uint8Array(10 + text.length + 5);
    backing.set(bytesOf(text), 10);
    const view = new Uint8Array(backing.buffer, 3, backing.length - 3);
    const result = parseRequestHead(view, 7, headMax);
    expect(result).toMatchObject({ kind: 'ok', headBytes: text.length, head: { target: '/x' } });
  });
});

describe('parseRequestHead: incremental input', () => {
  const heads = [
    'GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n',
    '\r\n\r\nPOST http://a.test/up HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET / HTTP/1.0\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\nX-Tab:\tv\t\r\n\r\n',
  ];
  for (const text of heads) {
    test(`every split of ${JSON.stringify(text.slice(0, 24))}… is incomplete until the end`, () => {
      // Proves a head arriving in pieces is never judged early and parses as if whole.
      const whole = bytesOf(text);
      const expected = parseRequestHead(whole, 0, headMax);
      expect(expected.kind).toBe('ok');
      for (let length = 0; length < whole.length; length++) {
        expect(parseRequestHead(whole.subarray(0, length), 0, headMax)).toEqual({
          kind: 'incomplete',
        });
      }
      expect(parseRequestHead(Buffer.from(whole), 0, headMax)).toEqual(expected);
    });
  }

  test('pipelined heads: headBytes finds the second one', () => {
    // Proves headBytes is exactly the consumed length, so the next request starts there.
    const first = 'GET /one HTTP/1.1\r\nHost: a\r\n\r\n';
    const second = '\r\nGET /two HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n';
    const buffer = bytesOf(first + second);
    const one = parseRequestHead(buffer, 0, headMax);
    if (one.kind !== 'ok') throw new Error('first head not parsed');
    expect(one.headBytes).toBe(first.length);
    const two = parseRequestHead(buffer, one.headBytes, headMax);
    expect(two).toMatchObject({
      kind: 'ok',
      headBytes: second.length,
      head: { target: '/two', host: 'b', keepAlive: false },
    });
  });

  test('a chunked body between two pipelined heads is decoded with decodeChunked', () => {
    // Proves the head parser and the shared chunked decoder compose: body, then the next head.
    const text =
      'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\nhello\r\n0\r\n\r\n' +
      'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
    const buffer = bytesOf(text);
    const one = parseRequestHead(buffer, 0, headMax);
    if (one.kind !== 'ok') throw new Error('first head not parsed');
    expect(one.head.chunked).toBe(true);
    const state = newChunkedState();
    const body: Uint8Array[] = [];
    const bodyEnd = decodeChunked(state, buffer, one.headBytes, body);
    expect(state.phase).toBe('done');
    expect(Buffer.concat(body).toString('latin1')).toBe('hello');
    expect(parseRequestHead(buffer, bodyEnd, headMax)).toMatchObject({
      kind: 'ok',
      head: { target: '/next' },
    });
  });

  test('bytes that can never form a request are refused before the head ends', () => {
    // Proves a non-HTTP client (TLS hello, LF-only client, endless target) is answered at once.
    const tlsHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    expect(parseRequestHead(tlsHello, 0, headMax)).toMatchObject({ status: 400 });
    expect(verdictOf('GET / HTTP/1.1\nHost: a\n')).toBe('400 bad_request_line');
    expect(verdictOf('GET / HTTP/1.1\r\nHost: a\n\n')).toBe('400 bad_header');
    expect(verdictOf('GET / HTTP/2.0\r\nHost: a\r\n')).toBe('505 unsupported_version');
    expect(verdictOf(`GET /${'a'.repeat(limits.routerRequestTargetBytesMax)}`)).toBe(
      '414 target_too_long',
    );
    expect(verdictOf('GET /ok HTTP/1.1\r\nHost: a\r\n')).toBe('incomplete');
  });

  test('a head over the limit is refused as soon as the bytes exceed it', () => {
    // Proves the 431 decision does not wait for a terminator that may never come.
    const start = 'GET / HTTP/1.1\r\nX-Pad: ';
    expect(verdictOf(`${start}${'p'.repeat(100 - start.length)}`, 100)).toBe('incomplete');
    expect(verdictOf(`${start}${'p'.repeat(101 - start.length)}`, 100)).toBe('431 head_too_large');
  });
});

describe('parseRequestHead: limits', () => {
  test('the head limit counts the whole head, leading empty lines included', () => {
    // Proves a head of exactly headBytesMax passes and one byte more is 431.
    const text = '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n';
    expect(verdictOf(text, text.length)).toBe('ok');
    expect(verdictOf(text, text.length - 1)).toBe('431 head_too_large');
  });

  test('the field count limit', () => {
    // Proves routerRequestHeadersMax fields pass and one more is 431 too_many_headers.
    const fields = (count: number) => 'X-F: v\r\n'.repeat(count - 1);
    const max = limits.routerRequestHeadersMax;
    expect(verdictOf(`GET / HTTP/1.1\r\nHost: a\r\n${fields(max)}\r\n`)).toBe('ok');
    expect(verdictOf(`GET / HTTP/1.1\r\nHost: a\r\n${fields(max + 1)}\r\n`)).toBe(
      '431 too_many_headers',
    );
  });

  test('the target length limit', () => {
    // Proves a target of routerRequestTargetBytesMax bytes passes and one byte more is 414.
    const path = (bytes: number) => `/${'t'.repeat(bytes - 1)}`;
    const max = limits.routerRequestTargetBytesMax;
    expect(verdictOf(`GET ${path(max)} HTTP/1.1\r\nHost: a\r\n\r\n`)).toBe('ok');
    expect(verdictOf(`GET ${path(max + 1)} HTTP/1.1\r\nHost: a\r\n\r\n`)).toBe(
      '414 target_too_long',
    );
  });
});
