import { describe, expect, test } from 'bun:test';
import {
  type CertificateSettings,
  type CertificateView,
  type OrderView,
  type PlanInput,
  planCertificates,
} from './index.ts';
import { backoffMs, renewDueAtMs } from './settings.ts';

const dayMs = 86_400_000;
const settings: CertificateSettings = {
  ordersInFlightMax: 2,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  retryAfterMsMax: 3_600_000,
  renewRemainingFraction: 1 / 3,
};

/** A 90-day certificate issued at `fromMs`. */
function cert(host: string, fromMs = 0): CertificateView {
  return { host, notBeforeMs: fromMs, notAfterMs: fromMs + 90 * dayMs };
}

function order(host: string, over: Partial<OrderView> = {}): OrderView {
  return {
    host,
    status: 'pending',
    orderUrl: null,
    key: null,
    attempts: 0,
    nextAttemptAtMs: 0,
    renewRequested: false,
    ...over,
  };
}

function plan(over: Partial<PlanInput>) {
  return planCertificates({
    tlsHosts: [],
    certificates: [],
    orders: [],
    inFlight: new Set(),
    nowMs: 0,
    settings,
    ...over,
  });
}

function actionOf(over: Partial<PlanInput>, host = 'a.example.com') {
  return plan({ tlsHosts: [{ host }], ...over }).actions.find((a) => a.host === host);
}

describe('renewal', () => {
  test('due exactly when a third of the lifetime is left, not a millisecond before', () => {
    // Proves the 1/3 rule: a 90-day cert is due at day 60 (to float rounding), not before.
    const certificates = [cert('a.example.com')];
    const dueAtMs = renewDueAtMs(0, 90 * dayMs, settings);
    expect(Math.abs(dueAtMs - 60 * dayMs)).toBeLessThanOrEqual(1);
    expect(actionOf({ certificates, nowMs: dueAtMs - 1 })).toEqual({
      kind: 'nothing',
      host: 'a.example.com',
      reason: 'valid',
    });
    expect(actionOf({ certificates, nowMs: dueAtMs })).toEqual({
      kind: 'renew',
      host: 'a.example.com',
      reason: 'expiring',
    });
  });

  test('an operator request renews a fresh certificate at once', () => {
    // Proves renewRequested overrides the 1/3 rule.
    const action = actionOf({
      certificates: [cert('a.example.com')],
      orders: [order('a.example.com', { renewRequested: true })],
      nowMs: dayMs,
    });
    expect(action).toEqual({ kind: 'renew', host: 'a.example.com', reason: 'requested' });
  });

  test('the plan wakes at the renewal instant of the soonest valid certificate', () => {
    // Proves nextWakeAtMs lets the host skip re-planning until something is due.
    const result = plan({
      tlsHosts: [{ host: 'a.example.com' }, { host: 'b.example.com' }],
      certificates: [cert('a.example.com', 10 * dayMs), cert('b.example.com', 0)],
      nowMs: dayMs,
    });
    expect(result.nextWakeAtMs).toBe(renewDueAtMs(0, 90 * dayMs, settings));
  });
});

describe('backoff', () => {
  test('doubles per failure from the base and stops at the cap', () => {
    // Proves min(cap, base·2^(attempts−1)).
    expect([1, 2, 3, 4, 6, 7, 8, 100].map((n) => backoffMs(n, settings))).toEqual([
      1_000, 2_000, 4_000, 8_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  test('a longer Retry-After wins, a shorter one does not, and it is bounded', () => {
    // Proves rate limits are honoured without letting a server park a host forever.
    expect(backoffMs(1, settings, 30_000)).toBe(30_000);
    expect(backoffMs(3, settings, 500)).toBe(4_000);
    expect(backoffMs(1, settings, 10 * 3_600_000)).toBe(3_600_000);
  });

  test('a failed order waits until its next attempt, then retries as a new order', () => {
    // Proves wait-backoff before nextAttemptAtMs and order-new (retry) from that instant.
    const orders = [
      order('a.example.com', { status: 'failed', attempts: 2, nextAttemptAtMs: 5_000 }),
    ];
    expect(actionOf({ orders, nowMs: 4_999 })).toEqual({
      kind: 'wait-backoff',
      host: 'a.example.com',
      untilMs: 5_000,
    });
    expect(plan({ tlsHosts: [{ host: 'a.example.com' }], orders, nowMs: 10 }).nextWakeAtMs).toBe(
      5_000,
    );
    expect(actionOf({ orders, nowMs: 5_000 })).toEqual({
      kind: 'order-new',
      host: 'a.example.com',
      reason: 'retry',
    });
  });

  test('a failed renewal waits too, even when the operator asked', () => {
    // Proves backoff protects rate limits for renewals as well.
    const action = actionOf({
      certificates: [cert('a.example.com')],
      orders: [
        order('a.example.com', {
          status: 'failed',
          attempts: 1,
          nextAttemptAtMs: 70 * dayMs,
          renewRequested: true,
        }),
      ],
      nowMs: 65 * dayMs,
    });
    expect(action?.kind).toBe('wait-backoff');
  });
});

describe('new orders and resumption', () => {
  test('a host without certificate or order gets a new order', () => {
    // Proves the simplest path: wanted, nothing recorded → order-new (missing).
    expect(actionOf({})).toEqual({ kind: 'order-new', host: 'a.example.com', reason: 'missing' });
  });

  test('a committed order with URL and key is resumed, never re-ordered', () => {
    // Proves a new leader continues the recorded order instead of creating a second one.
    const orders = [
      order('a.example.com', { orderUrl: 'https://acme/order/1', key: { sealed: true } }),
    ];
    expect(actionOf({ orders })).toEqual({
      kind: 'resume',
      host: 'a.example.com',
      orderUrl: 'https://acme/order/1',
    });
  });

  test('a pending row without a committed key is a new order', () => {
    // Proves resume needs both the URL and the key; a bare renew request orders afresh.
    const orders = [order('a.example.com', { orderUrl: 'https://acme/order/1', key: null })];
    expect(actionOf({ orders })?.kind).toBe('order-new');
  });

  test('a host in flight in this process is left alone', () => {
    // Proves the host never starts a second flow for the same name.
    const orders = [order('a.example.com', { orderUrl: 'https://acme/order/1', key: {} })];
    expect(actionOf({ orders, inFlight: new Set(['a.example.com']) })).toEqual({
      kind: 'nothing',
      host: 'a.example.com',
      reason: 'in-flight',
    });
  });
});

describe('custom certificates and hosts', () => {
  test('a host with an operator certificate is skipped, also when another route names it', () => {
    // Proves custom certificates are never replaced by ACME ones.
    const result = plan({
      tlsHosts: [
        { host: 'a.example.com' },
        { host: 'a.example.com', custom: { certificatePemSecret: 'C', privateKeyPemSecret: 'K' } },
        { host: 'b.example.com', custom: { certificatePemSecret: 'C', privateKeyPemSecret: 'K' } },
      ],
    });
    expect(result.actions).toEqual([
      { kind: 'nothing', host: 'a.example.com', reason: 'custom' },
      { kind: 'nothing', host: 'b.example.com', reason: 'custom' },
    ]);
  });

  test('orders of hosts nobody routes any more get no action', () => {
    // Proves the plan covers wanted hosts only, each once, sorted.
    const result = plan({
      tlsHosts: [{ host: 'b.example.com' }, { host: 'a.example.com' }, { host: 'b.example.com' }],
      orders: [order('gone.example.com', { orderUrl: 'https://acme/order/9', key: {} })],
    });
    expect(result.actions.map((a) => a.host)).toEqual(['a.example.com', 'b.example.com']);
  });
});

describe('concurrency bound', () => {
  test('at most ordersInFlightMax flows: resumes first, then missing, then renewals', () => {
    // Proves the bound and its priority order; the rest are queued.
    const result = plan({
      tlsHosts: ['a', 'b', 'c', 'd'].map((h) => ({ host: `${h}.example.com` })),
      certificates: [cert('a.example.com'), cert('b.example.com')],
      orders: [order('d.example.com', { orderUrl: 'https://acme/order/4', key: {} })],
      nowMs: 80 * dayMs,
    });
    expect(result.actions.map((a) => `${a.host}:${a.kind}`)).toEqual([
      'a.example.com:nothing',
      'b.example.com:nothing',
      'c.example.com:order-new',
      'd.example.com:resume',
    ]);
    expect(result.actions[0]).toEqual({ kind: 'nothing', host: 'a.example.com', reason: 'queued' });
  });

  test('flows already running use up slots', () => {
    // Proves in-flight flows count against the bound.
    const result = plan({
      tlsHosts: ['a', 'b', 'c'].map((h) => ({ host: `${h}.example.com` })),
      inFlight: new Set(['a.example.com', 'z.example.com']),
    });
    expect(result.actions.map((a) => (a.kind === 'nothing' ? a.reason : a.kind))).toEqual([
      'in-flight',
      'queued',
      'queued',
    ]);
  });

  test('expiring certificates renew soonest expiry first', () => {
    // Proves the renewal order among equals is by notAfter.
    const result = plan({
      tlsHosts: ['a', 'b', 'c'].map((h) => ({ host: `${h}.example.com` })),
      certificates: [
        cert('a.example.com', 3 * dayMs),
        cert('b.example.com', 2 * dayMs),
        cert('c.example.com', 1 * dayMs),
      ],
      nowMs: 85 * dayMs,
    });
    expect(result.actions.map((a) => a.kind)).toEqual(['nothing', 'renew', 'renew']);
  });
});
