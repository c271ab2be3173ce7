import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { CertificateView } from '../../src/api/cluster-service.ts';
import { BerthError } from '../../src/core/errors.ts';
import { type CliHarness, startCliHarness } from './harness.ts';

let h: CliHarness;
const renewed: string[] = [];
const nowMs = Date.now();
const views: CertificateView[] = [
  {
    host: 'shop.example.com',
    job: 'shop',
    source: 'acme',
    status: 'valid',
    issuer: 'Pebble Intermediate CA 1a2b',
    serial: '0a',
    notBeforeMs: nowMs - 86_400_000,
    notAfterMs: nowMs + 59 * 86_400_000,
    renewAtMs: nowMs + 29 * 86_400_000,
    lastError: null,
    attempts: 0,
    nextAttemptAtMs: null,
  },
  {
    host: 'late.example.com',
    job: 'shop',
    source: 'acme',
    status: 'failed',
    issuer: null,
    serial: null,
    notBeforeMs: null,
    notAfterMs: null,
    renewAtMs: null,
    lastError: 'acme_rate_limited: too many new orders',
    attempts: 3,
    nextAttemptAtMs: nowMs + 2 * 3_600_000 + 60_000,
  },
];

beforeAll(async () => {
  h = await startCliHarness();
  Object.assign(h.service, {
    listCertificates: () => views,
    renewCertificate: async (host: string) => {
      if (host !== 'shop.example.com') {
        throw new BerthError('certificate_not_found', `no certificate for ${host} to renew`);
      }
      renewed.push(host);
      return { index: 7 };
    },
  });
});

afterAll(async () => {
  await h.close();
});

describe('berth cert', () => {
  test('ls shows each host with status, issuer, expiry and the last error; --json the API answer', async () => {
    // Proves the table an operator reads and the machine-readable form.
    const ls = await h.run(['cert', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(
      /shop\.example\.com\s+shop\s+acme\s+valid\s+Pebble Intermediate CA 1a2b\s+in 59d/,
    );
    expect(ls.stdout).toContain('acme_rate_limited: too many new orders (retry in 2h)');
    const json = JSON.parse((await h.run(['cert', 'ls', '--json'])).stdout);
    expect(json).toEqual({ items: views });
  });

  test('renew asks for one host; garbage and unknown hosts and weak tokens are refused', async () => {
    // Proves the renewal reaches the API and every refusal exits non-zero with its reason.
    const ok = await h.run(['cert', 'renew', 'shop.example.com'], { token: h.tokens.deploy });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('renewal of shop.example.com requested (log index 7)');
    const bad = await h.run(['cert', 'renew', 'Not A Host']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('[invalid_body]');
    const ghost = await h.run(['cert', 'renew', 'ghost.example.com']);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain('[certificate_not_found]');
    const weak = await h.run(['cert', 'renew', 'shop.example.com'], { token: h.tokens.read });
    expect(weak.code).toBe(4);
    const usage = await h.run(['cert', 'renew']);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toContain('berth cert renew HOST');
    expect(renewed).toEqual(['shop.example.com']);
  });
});
