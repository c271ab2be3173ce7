import { describe, expect, test } from 'bun:test';
import { stateCommands } from '../../actors/state/commands.ts';
import { limits } from '../core/limits.ts';
import { listRejectedEntries } from './queries.ts';
import {
  getAcmeChallenge,
  getCertificate,
  getCertOrder,
  listAcmeChallenges,
  listCertificates,
  listTlsHosts,
} from './queries-certs.ts';
import { jobRegistered, openTestState } from './testing.ts';

const sealed = { keyCiphertext: 'AAAA', keyNonce: 'BBBB', keyId: 'k1' };
const dayMs = 86_400_000;

function issued(host: string, serial: string, atMs: number) {
  return {
    host,
    certPem: `PEM-${serial}`,
    ...sealed,
    issuer: 'Pebble Intermediate CA',
    serial,
    notBeforeMs: atMs,
    notAfterMs: atMs + 90 * dayMs,
    atMs,
  };
}

describe('certificate commands', () => {
  test('an order runs from started through challenges to issued, leaving only the certificate', () => {
    // Proves the happy path: order row pending with URL and key, answers served, then the
    // certificate replaces both (order row and the host's answers are gone).
    const state = openTestState();
    state.submit('cert_order_started', {
      host: 'a.example.com',
      orderUrl: 'https://acme.test/order/1',
      ...sealed,
      atMs: 1_000,
    });
    expect(getCertOrder(state.db, 'a.example.com')).toMatchObject({
      status: 'pending',
      orderUrl: 'https://acme.test/order/1',
      key: { ciphertext: 'AAAA', nonce: 'BBBB', keyId: 'k1' },
      attempts: 0,
    });
    state.submit('acme_challenge_set', {
      token: 'tok-1',
      keyAuthorization: 'tok-1.thumb',
      host: 'a.example.com',
      atMs: 1_001,
    });
    state.submit('acme_challenge_set', {
      token: 'tok-2',
      keyAuthorization: 'tok-2.thumb',
      host: 'b.example.com',
      atMs: 1_002,
    });
    expect(getAcmeChallenge(state.db, 'tok-1')).toBe('tok-1.thumb');
    state.submit('certificate_issued', issued('a.example.com', '01', 2_000));
    expect(getCertificate(state.db, 'a.example.com')).toMatchObject({
      certPem: 'PEM-01',
      serial: '01',
      notAfterMs: 2_000 + 90 * dayMs,
      issuedAtMs: 2_000,
    });
    expect(getCertOrder(state.db, 'a.example.com')).toBeUndefined();
    expect(listAcmeChallenges(state.db).map((c) => c.token)).toEqual(['tok-2']);
    expect(listRejectedEntries(state.db)).toEqual([]);
  });

  test('a failure drops the order URL and key, keeps the backoff, and a renewal replaces the certificate', () => {
    // Proves failed orders cannot be resumed (a new order follows the backoff) and that a
    // second certificate_issued replaces the first: one certificate per host.
    const state = openTestState();
    state.submit('cert_order_started', {
      host: 'a.example.com',
      orderUrl: 'https://acme.test/order/1',
      ...sealed,
      atMs: 1_000,
    });
    state.submit('cert_order_failed', {
      host: 'a.example.com',
      error: 'acme_order_invalid: challenge failed',
      attempts: 2,
      nextAttemptAtMs: 9_000,
      atMs: 1_500,
    });
    expect(getCertOrder(state.db, 'a.example.com')).toMatchObject({
      status: 'failed',
      orderUrl: null,
      key: null,
      attempts: 2,
      lastError: 'acme_order_invalid: challenge failed',
      nextAttemptAtMs: 9_000,
    });
    state.submit('certificate_issued', issued('a.example.com', '01', 10_000));
    state.submit('certificate_issued', issued('a.example.com', '02', 20_000));
    expect(listCertificates(state.db).map((c) => c.serial)).toEqual(['02']);
  });

  test('a renewal request needs a certificate and marks the order for the planner', () => {
    // Proves cert_renew_requested is rejected for an unknown host and otherwise opens an
    // order row due now (attempts 0, no wait), kept when an order starts, cleared on issue.
    const state = openTestState();
    state.submit('cert_renew_requested', { host: 'a.example.com', atMs: 1_000 });
    expect(listRejectedEntries(state.db).map((r) => r.code)).toEqual(['certificate_unknown']);
    state.submit('certificate_issued', issued('a.example.com', '01', 2_000));
    state.submit('cert_renew_requested', { host: 'a.example.com', atMs: 3_000 });
    expect(getCertOrder(state.db, 'a.example.com')).toMatchObject({
      status: 'failed',
      attempts: 0,
      nextAttemptAtMs: 0,
      renewRequested: true,
      lastError: null,
    });
    state.submit('cert_order_started', {
      host: 'a.example.com',
      orderUrl: 'https://acme.test/order/7',
      ...sealed,
      atMs: 3_100,
    });
    expect(getCertOrder(state.db, 'a.example.com')?.renewRequested).toBe(true);
    state.submit('certificate_issued', issued('a.example.com', '02', 4_000));
    expect(getCertOrder(state.db, 'a.example.com')).toBeUndefined();
  });

  test('a certificate that expires before it starts is rejected and nothing is stored', () => {
    // Proves the apply-time check on validity bounds.
    const state = openTestState();
    state.submit('certificate_issued', {
      ...issued('a.example.com', '01', 5_000),
      notAfterMs: 5_000,
    });
    expect(listCertificates(state.db)).toEqual([]);
    expect(listRejectedEntries(state.db).map((r) => r.code)).toEqual(['certificate_invalid']);
  });

  test('the challenge table is bounded', () => {
    // Proves acme_challenges_full past the limit, while replacing an existing token still works.
    const state = openTestState();
    for (let i = 0; i < limits.stateAcmeChallengesMax; i++) {
      state.log.append('acme_challenge_set', {
        token: `t${i}`,
        keyAuthorization: 'k',
        host: 'a.example.com',
        atMs: 1_000,
      });
    }
    while (state.consumer.drain().status === 'more') {}
    state.submit('acme_challenge_set', {
      token: 'one-too-many',
      keyAuthorization: 'k',
      host: 'a.example.com',
      atMs: 2_000,
    });
    state.submit('acme_challenge_set', {
      token: 't0',
      keyAuthorization: 'k2',
      host: 'a.example.com',
      atMs: 2_001,
    });
    expect(getAcmeChallenge(state.db, 'one-too-many')).toBeUndefined();
    expect(getAcmeChallenge(state.db, 't0')).toBe('k2');
    expect(listRejectedEntries(state.db).map((r) => r.code)).toEqual(['acme_challenges_full']);
  });

  test('garbage payloads never enter the log', () => {
    // Proves the append-time schemas: bad hosts, tokens, URLs and PEM sizes are refused.
    const bad: [string, unknown][] = [
      ['cert_order_started', { host: 'A B', orderUrl: 'https://x/o', ...sealed, atMs: 1 }],
      ['cert_order_started', { host: 'a.example.com', orderUrl: 'not a url', ...sealed, atMs: 1 }],
      ['acme_challenge_set', { token: '../etc', keyAuthorization: 'k', host: 'a.b', atMs: 1 }],
      ['acme_challenge_cleared', { token: '', atMs: 1 }],
      [
        'certificate_issued',
        {
          ...issued('a.example.com', '1', 1),
          certPem: 'x'.repeat(limits.stateCertificatePemLengthMax + 1),
        },
      ],
      [
        'cert_order_failed',
        { host: 'a.example.com', error: 'e', attempts: 0, nextAttemptAtMs: 1, atMs: 1 },
      ],
      ['cert_renew_requested', { host: '-bad-.example.com', atMs: 1 }],
    ];
    for (const [type, data] of bad) {
      const result = stateCommands.parse(type as 'cert_renew_requested', data);
      expect(result.ok).toBe(false);
    }
  });
});

describe('listTlsHosts', () => {
  test('lists tls hosts of running jobs once each, with custom certificates winning', () => {
    // Proves stopped jobs and plain routes are left out, hosts are deduplicated and sorted,
    // and a route naming a custom certificate marks its host as custom.
    const state = openTestState();
    const route = (hosts: string[], tls: boolean, certificate?: object) => ({
      hosts,
      paths: ['/'],
      port: 'http',
      tls,
      redirectHttp: true,
      ...(certificate ? { certificate } : {}),
    });
    state.submit(
      'job_registered',
      jobRegistered('web', {
        spec: {
          routes: [
            route(['b.example.com', 'a.example.com'], true),
            route(['plain.example.com'], false),
          ],
        },
      }),
    );
    state.submit(
      'job_registered',
      jobRegistered('xtra', {
        spec: {
          routes: [
            route(['b.example.com'], true, {
              certificatePemSecret: 'CRT',
              privateKeyPemSecret: 'KEY',
            }),
          ],
        },
      }),
    );
    state.submit(
      'job_registered',
      jobRegistered('old', { spec: { routes: [route(['old.example.com'], true)] } }),
    );
    state.submit('job_stopped', { id: 'old', atMs: 3_000 });
    expect(listTlsHosts(state.db)).toEqual([
      { host: 'a.example.com', jobId: 'web' },
      {
        host: 'b.example.com',
        jobId: 'web',
        custom: { certificatePemSecret: 'CRT', privateKeyPemSecret: 'KEY' },
      },
    ]);
  });
});
