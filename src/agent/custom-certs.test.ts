import { describe, expect, test } from 'bun:test';
import { selfSignedCert } from '../../test/support/openssl-cert.ts';
import { BerthError } from '../core/errors.ts';
import { checkCustomCertificates } from './custom-certs.ts';

const good = selfSignedCert(['shop.example.com', 'www.shop.example.com']);
const other = selfSignedCert(['other.example.com']);

function job(hosts: string[]) {
  return {
    name: 'shop',
    routes: [
      {
        hosts,
        paths: ['/'],
        port: 'http',
        tls: true,
        redirectHttp: true,
        certificate: { certificatePemSecret: 'CRT', privateKeyPemSecret: 'KEY' },
      },
    ],
  };
}

function codeOf(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof BerthError) return error.code;
    throw error;
  }
  return 'ok';
}

describe('checkCustomCertificates', () => {
  const now = Date.now();
  const secrets = (values: Record<string, string>) => (name: string) => values[name] ?? null;

  test('a matching pair covering every host passes', () => {
    // Proves the accepted case: both secrets present, key matches, SANs cover the hosts.
    const read = secrets({ CRT: good.certPem, KEY: good.keyPem });
    expect(
      codeOf(() =>
        checkCustomCertificates(job(['shop.example.com', 'www.shop.example.com']), read, now),
      ),
    ).toBe('ok');
  });

  test('bad pairs and missing secrets are refused with stable codes', () => {
    // Proves each refusal names its cause: a key of another certificate, a host the
    // certificate does not name, garbage PEM, a missing secret, an expired certificate.
    const hosts = ['shop.example.com'];
    expect(
      codeOf(() =>
        checkCustomCertificates(job(hosts), secrets({ CRT: good.certPem, KEY: other.keyPem }), now),
      ),
    ).toBe('certificate_key_mismatch');
    expect(
      codeOf(() =>
        checkCustomCertificates(
          job(['api.example.com']),
          secrets({ CRT: good.certPem, KEY: good.keyPem }),
          now,
        ),
      ),
    ).toBe('certificate_host_mismatch');
    expect(
      codeOf(() =>
        checkCustomCertificates(job(hosts), secrets({ CRT: 'garbage', KEY: good.keyPem }), now),
      ),
    ).toBe('certificate_invalid');
    expect(
      codeOf(() =>
        checkCustomCertificates(job(hosts), secrets({ CRT: good.certPem, KEY: 'nope' }), now),
      ),
    ).toBe('certificate_invalid');
    expect(
      codeOf(() => checkCustomCertificates(job(hosts), secrets({ CRT: good.certPem }), now)),
    ).toBe('certificate_secret_missing');
    expect(
      codeOf(() =>
        checkCustomCertificates(
          job(hosts),
          secrets({ CRT: good.certPem, KEY: good.keyPem }),
          now + 10 * 86_400_000,
        ),
      ),
    ).toBe('certificate_expired');
  });

  test('routes without a custom certificate are not read', () => {
    // Proves ACME routes never touch secrets at registration.
    const read = () => {
      throw new Error('must not read');
    };
    const plain = {
      name: 'web',
      routes: [
        { hosts: ['a.example.com'], paths: ['/'], port: 'http', tls: true, redirectHttp: true },
      ],
    };
    expect(codeOf(() => checkCustomCertificates(plain, read, now))).toBe('ok');
  });
});
