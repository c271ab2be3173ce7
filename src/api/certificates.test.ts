import { describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import type { CertificateView } from './cluster-service.ts';
import { createHarness, errorCode } from './test-harness.ts';

const view: CertificateView = {
  host: 'shop.example.com',
  job: 'shop',
  source: 'acme',
  status: 'valid',
  issuer: 'Pebble Intermediate CA',
  serial: '0a',
  notBeforeMs: 1,
  notAfterMs: 2,
  renewAtMs: 2,
  lastError: null,
  attempts: 0,
  nextAttemptAtMs: null,
};

/** A harness whose service has the optional certificate methods, recording renewals. */
async function withCertificates() {
  const h = await createHarness();
  const renewed: string[] = [];
  Object.assign(h.service, {
    listCertificates: () => [view],
    renewCertificate: async (host: string) => {
      if (host !== view.host)
        throw new BerthError('certificate_not_found', `no certificate for ${host}`);
      renewed.push(host);
      return { index: 42 };
    },
  });
  return { h, renewed };
}

describe('/v1/certificates', () => {
  test('lists certificates for read-only tokens and renews one for deploy tokens', async () => {
    // Proves the happy paths: the list is the service's view; renew answers with the index.
    const { h, renewed } = await withCertificates();
    const list = await h.call('GET', '/v1/certificates', { token: h.tokens.read });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ items: [view] });
    const renew = await h.call('POST', '/v1/certificates/shop.example.com/renew', {
      token: h.tokens.deploy,
    });
    expect(renew.status).toBe(200);
    expect(await renew.json()).toEqual({ index: 42, host: 'shop.example.com' });
    expect(renewed).toEqual(['shop.example.com']);
  });

  test('garbage hosts, unknown hosts and weak tokens are refused; nothing is renewed', async () => {
    // Proves each refusal's status and code, and that none reached the service's renewal.
    const { h, renewed } = await withCertificates();
    const cases: [string, string | null, number, string][] = [
      ['/v1/certificates/Bad_Host!/renew', h.tokens.deploy, 400, 'invalid_body'],
      [`/v1/certificates/${'a'.repeat(300)}/renew`, h.tokens.deploy, 400, 'invalid_body'],
      ['/v1/certificates/-x.example.com/renew', h.tokens.deploy, 400, 'invalid_body'],
      ['/v1/certificates/other.example.com/renew', h.tokens.deploy, 404, 'certificate_not_found'],
      ['/v1/certificates/shop.example.com/renew', h.tokens.read, 403, 'forbidden'],
      ['/v1/certificates/shop.example.com/renew', null, 401, 'unauthenticated'],
    ];
    for (const [path, token, status, code] of cases) {
      const res = await h.call('POST', path, { token });
      expect([path, res.status, await errorCode(res)]).toEqual([path, status, code]);
    }
    const badQuery = await h.call('GET', '/v1/certificates?stale=maybe', { token: h.tokens.read });
    expect(badQuery.status).toBe(400);
    expect(renewed).toEqual([]);
  });

  test('a server without certificates answers 501', async () => {
    // Proves the optional methods' absence is a clear not_implemented, not a crash.
    const h = await createHarness();
    expect((await h.call('GET', '/v1/certificates')).status).toBe(501);
    const res = await h.call('POST', '/v1/certificates/shop.example.com/renew');
    expect([res.status, await errorCode(res)]).toEqual([501, 'not_implemented']);
  });
});
