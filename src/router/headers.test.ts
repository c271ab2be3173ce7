import { describe, expect, test } from 'bun:test';
import { type ClientFacts, toUpstreamRequestHeaders, upstreamRequestHead } from './headers.ts';

const client: ClientFacts = { ip: '127.0.0.1', proto: 'https', host: 'web.test' };

function headLines(headers: Record<string, string>, bodyBytes?: number): string[] {
  const head = upstreamRequestHead('GET', '/a?b=1', new Headers(headers), client, bodyBytes);
  expect(head.endsWith('\r\n\r\n')).toBe(true);
  return head.slice(0, -4).split('\r\n');
}

describe('upstreamRequestHead', () => {
  test('writes the same rewriting as toUpstreamRequestHeaders', () => {
    // Proves the raw client and fetch send upstreams the same headers (one rule, two writers).
    const input = {
      host: 'web.test',
      connection: 'keep-alive, x-hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'secret',
      upgrade: 'h2c',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'spoofed',
      'x-forwarded-port': '8443',
      accept: 'text/html',
      'content-length': '99',
    };
    const lines = headLines(input, 3);
    expect(lines[0]).toBe('GET /a?b=1 HTTP/1.1');
    const raw = Object.fromEntries(
      lines
        .slice(1)
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
    );
    const viaFetch = Object.fromEntries(toUpstreamRequestHeaders(new Headers(input), client));
    // Fetch computes Content-Length itself from the body; the raw head states it.
    viaFetch['content-length'] = '3';
    expect(raw).toEqual(viaFetch);
    expect(raw['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(raw['x-forwarded-port']).toBe('8443');
  });

  test('no body means no Content-Length; an unknown client IP keeps the prior chain', () => {
    // Proves GET heads carry no length and X-Forwarded-For is never emptied.
    const lines = upstreamRequestHead(
      'GET',
      '/',
      new Headers({ host: 'h', 'x-forwarded-for': '198.51.100.1' }),
      { ip: undefined, proto: 'http', host: 'h' },
      undefined,
    ).split('\r\n');
    expect(lines.some((line) => line.startsWith('content-length'))).toBe(false);
    expect(lines).toContain('x-forwarded-for: 198.51.100.1');
  });
});
