/**
 * The certificates actor's settings and its two timing rules: when a certificate is due
 * for renewal and how long a host waits after a failed order. Pure; the values come from
 * src/core/limits.ts unless a caller (a test, the agent's config) overrides them.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';

export interface CertificateSettings {
  /** Orders driven at once by the leader; more due hosts wait for a slot. */
  ordersInFlightMax: number;
  /** Delay after the first failed order of a host, in ms; doubles per failure. */
  backoffBaseMs: number;
  /** Cap on the doubling delay, in ms (a larger Retry-After still wins). */
  backoffCapMs: number;
  /** Longest Retry-After honoured, in ms, so a garbage header cannot park a host forever. */
  retryAfterMsMax: number;
  /**
   * A certificate is renewed once at most this share of its lifetime is left (1/3: with
   * 90-day certificates, 30 days before expiry, as Let's Encrypt advises).
   */
  renewRemainingFraction: number;
}

export const defaultCertificateSettings: CertificateSettings = {
  ordersInFlightMax: limits.acmeOrdersInFlightMax,
  backoffBaseMs: limits.acmeBackoffBaseMs,
  backoffCapMs: limits.acmeBackoffCapMs,
  retryAfterMsMax: limits.acmeRetryAfterMsMax,
  renewRemainingFraction: limits.certRenewRemainingFraction,
};

/** Asserts that settings are coherent (a caller's override is a programmer's choice). */
export function assertSettings(settings: CertificateSettings): void {
  assert(settings.ordersInFlightMax >= 1, 'at least one order must be allowed in flight');
  assert(settings.backoffBaseMs >= 0, 'backoff base must not be negative');
  assert(settings.backoffBaseMs <= settings.backoffCapMs, 'backoff base above cap');
  assert(settings.retryAfterMsMax >= 0, 'Retry-After bound must not be negative');
  assert(
    settings.renewRemainingFraction > 0 && settings.renewRemainingFraction <= 1,
    'the renewal share of a lifetime is in (0, 1]',
  );
}

/**
 * The instant a certificate becomes due for renewal: when at most a renewRemainingFraction
 * share of its lifetime (notAfter − notBefore) is left. The same arithmetic as the
 * certificate view (src/agent/cert-status.ts), so `berth cert ls` and the leader agree to
 * the millisecond.
 */
export function renewDueAtMs(
  notBeforeMs: number,
  notAfterMs: number,
  settings: CertificateSettings,
): number {
  const lifetimeMs = Math.max(0, notAfterMs - notBeforeMs);
  return notAfterMs - Math.floor(lifetimeMs * settings.renewRemainingFraction);
}

/**
 * The wait after the `attempts`-th consecutive failure: min(cap, base·2^(attempts−1)),
 * or the server's Retry-After (bounded by retryAfterMsMax) when that is longer.
 */
export function backoffMs(
  attempts: number,
  settings: CertificateSettings,
  retryAfterMs?: number,
): number {
  assert(Number.isInteger(attempts) && attempts >= 1, 'attempts counts from 1');
  // 2^52 already exceeds any cap; clamping the exponent keeps the arithmetic exact.
  const exponent = Math.min(attempts - 1, 52);
  const doubledMs = Math.min(settings.backoffCapMs, settings.backoffBaseMs * 2 ** exponent);
  const serverMs = Math.min(Math.max(0, retryAfterMs ?? 0), settings.retryAfterMsMax);
  return Math.max(doubledMs, serverMs);
}
