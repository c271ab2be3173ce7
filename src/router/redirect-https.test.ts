import { expect, test } from 'bun:test';
import { httpsRedirectLocation, redirectResponse } from './redirect-https.ts';

const tlsRoute = { tls: true, redirectHttp: true };
const covering = (hosts: string[], port = 443) => ({
  port,
  covers: (h: string) => hosts.includes(h),
});

test('a tls route redirects once its host has a certificate, keeping path and query', () => {
  // Proves the 308 target: same host (port dropped, lower case), path and query, https.
  expect(
    httpsRedirectLocation(tlsRoute, 'App.Test:80', '/a/b?q=1&r=%20', covering(['app.test'])),
  ).toBe('https://app.test/a/b?q=1&r=%20');
});

test('without a certificate for the host the site keeps serving over HTTP', () => {
  // Proves a new site is not redirected to an HTTPS it cannot serve yet.
  expect(
    httpsRedirectLocation(tlsRoute, 'app.test', '/', covering(['other.test'])),
  ).toBeUndefined();
  expect(httpsRedirectLocation(tlsRoute, 'app.test', '/', undefined)).toBeUndefined();
});

test('a custom HTTPS port is named in the location; 443 is not', () => {
  // Proves the port rule of the location.
  expect(httpsRedirectLocation(tlsRoute, 'app.test', '/x', covering(['app.test'], 8443))).toBe(
    'https://app.test:8443/x',
  );
});

test('routes without tls, or with redirect_http off, are never redirected', () => {
  // Proves both opt-outs win even with a certificate in place.
  const https = covering(['app.test']);
  expect(
    httpsRedirectLocation({ tls: false, redirectHttp: true }, 'app.test', '/', https),
  ).toBeUndefined();
  expect(
    httpsRedirectLocation({ tls: true, redirectHttp: false }, 'app.test', '/', https),
  ).toBeUndefined();
  expect(httpsRedirectLocation(tlsRoute, '', '/', https)).toBeUndefined();
});

test('the redirect answer is a 308 with the location and no caching', () => {
  // Proves the method-preserving status and that turning redirects off later is not cached.
  const response = redirectResponse('https://app.test/');
  expect(response.status).toBe(308);
  expect(response.headers.get('location')).toBe('https://app.test/');
  expect(response.headers.get('cache-control')).toBe('no-store');
});
