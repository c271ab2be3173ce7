import { describe, expect, test } from 'bun:test';
import { selfSignedCert } from '../../test/support/openssl-cert.ts';
import { jobRegistered, openTestState } from '../state/testing.ts';
import { certificateViews, renewAtMs } from './cert-status.ts';

const dayMs = 86_400_000;
const sealed = { keyCiphertext: 'AAAA', keyNonce: 'BBBB', keyId: 'k1' };

function tlsJob(name: string, hosts: string[], certificate?: object) {
  return jobRegistered(name, {
    spec: {
      routes: [
        {
          hosts,
          paths: ['/'],
          port: 'http',
          tls: true,
          redirectHttp: true,
          ...(certificate ? { certificate } : {}),
        },
      ],
    },
  });
}

describe('certificateViews', () => {
  test('renewal is due when a third of the lifetime is left', () => {
    // Proves the Let's Encrypt rule: a 90-day certificate renews 30 days before expiry.
    expect(renewAtMs(0, 90 * dayMs)).toBe(60 * dayMs);
  });

  test('each host shows ordering, failed, valid, renewing or expired from committed state', () => {
    // Proves the status a operator sees for every stage of an ACME host's life.
    const state = openTestState();
    state.submit(
      'job_registered',
      tlsJob('shop', ['a.example.com', 'b.example.com', 'c.example.com']),
    );
    state.submit('cert_order_failed', {
      host: 'b.example.com',
      error: 'acme_rate_limited: too many orders',
      attempts: 3,
      nextAttemptAtMs: 50_000,
      atMs: 1_000,
    });
    state.submit('certificate_issued', {
      host: 'c.example.com',
      certPem: 'PEM',
      ...sealed,
      issuer: 'Pebble',
      serial: '0a',
      notBeforeMs: 0,
      notAfterMs: 90 * dayMs,
      atMs: 1_000,
    });
    const at = (nowMs: number) =>
      Object.fromEntries(
        certificateViews(state.db, nowMs, () => null).map((v) => [v.host, v.status]),
      );
    expect(at(10 * dayMs)).toEqual({
      'a.example.com': 'pending',
      'b.example.com': 'failed',
      'c.example.com': 'valid',
    });
    expect(at(61 * dayMs)['c.example.com']).toBe('renewing');
    expect(at(91 * dayMs)['c.example.com']).toBe('expired');
    const failed = certificateViews(state.db, 0, () => null).find(
      (v) => v.host === 'b.example.com',
    );
    expect(failed).toMatchObject({
      lastError: 'acme_rate_limited: too many orders',
      attempts: 3,
      nextAttemptAtMs: 50_000,
    });
  });

  test('custom certificates are read from their secret; a node without the keyring says unknown', () => {
    // Proves custom hosts show the certificate's own issuer and expiry, and degrade cleanly.
    const state = openTestState();
    const cert = selfSignedCert(['own.example.com']);
    state.submit(
      'job_registered',
      tlsJob('own', ['own.example.com'], {
        certificatePemSecret: 'CRT',
        privateKeyPemSecret: 'KEY',
      }),
    );
    const [view] = certificateViews(state.db, Date.now(), (name) =>
      name === 'CRT' ? cert.certPem : null,
    );
    expect(view).toMatchObject({
      host: 'own.example.com',
      source: 'custom',
      status: 'valid',
      renewAtMs: null,
    });
    expect(view?.issuer).toContain('own.example.com');
    const [blind] = certificateViews(state.db, Date.now(), () => {
      throw new Error('no keyring');
    });
    expect(blind?.status).toBe('unknown');
  });
});
