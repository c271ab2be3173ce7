import { describe, expect, test } from 'bun:test';
import { MetricsRegistry } from '../metrics/registry.ts';
import { openTestState } from '../state/testing.ts';
import { registerCertificateMetrics } from './acme-duty.ts';

describe('certificate metrics', () => {
  test('each certificate exports its expiry and issue time, read from state at scrape', () => {
    // Proves the gauges follow committed state: a renewal moves the expiry at the next scrape.
    const state = openTestState();
    const metrics = new MetricsRegistry();
    registerCertificateMetrics(metrics, state as never);
    const issue = (serial: string, atMs: number) =>
      state.submit('certificate_issued', {
        host: 'shop.example.com',
        certPem: 'PEM',
        keyCiphertext: 'AAAA',
        keyNonce: 'BBBB',
        keyId: 'k1',
        issuer: 'Pebble',
        serial,
        notBeforeMs: atMs,
        notAfterMs: atMs + 90 * 86_400_000,
        atMs,
      });
    issue('01', 1_000_000);
    expect(metrics.expose()).toContain(
      `berth_certificate_expiry_timestamp_seconds{host="shop.example.com"} ${1_000 + 90 * 86_400}`,
    );
    issue('02', 2_000_000);
    const text = metrics.expose();
    expect(text).toContain(
      `berth_certificate_expiry_timestamp_seconds{host="shop.example.com"} ${2_000 + 90 * 86_400}`,
    );
    expect(text).toContain(
      'berth_certificate_issued_timestamp_seconds{host="shop.example.com"} 2000',
    );
  });
});
