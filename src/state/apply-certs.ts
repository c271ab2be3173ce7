/**
 * Applying certificate commands (inside the consumer's transaction): ACME orders, their
 * HTTP-01 answers and the certificates routers serve. Keys arrive sealed; nothing here
 * sees a private key in the clear.
 */
import { count, eq } from 'drizzle-orm';
import type { StateEntry } from '../../actors/state/commands.ts';
import type { Verdict } from '../../actors/state/rules.ts';
import { limits } from '../core/limits.ts';
import type { StateTx } from '../mailbox/log-consumer.ts';
import { acmeChallenges, certificates, certOrders } from '../storage/state-schema.ts';

const accepted: Verdict = { ok: true };

type OrderRow = typeof certOrders.$inferInsert;

/** An order row with nothing placed at the ACME server: the next attempt orders anew. */
const noOrderPlaced = {
  status: 'failed',
  orderUrl: null,
  keyCiphertext: null,
  keyNonce: null,
  keyId: null,
} as const;

function orderOf(tx: StateTx, host: string): typeof certOrders.$inferSelect | undefined {
  return tx.select().from(certOrders).where(eq(certOrders.host, host)).get();
}

function upsertOrder(tx: StateTx, row: OrderRow): void {
  const { host, ...set } = row;
  tx.insert(certOrders).values(row).onConflictDoUpdate({ target: certOrders.host, set }).run();
}

/** An order now exists at the ACME server: pending, with its URL and sealed key. */
export function applyCertOrderStarted(
  tx: StateTx,
  entry: StateEntry<'cert_order_started'>,
): Verdict {
  const { host, orderUrl, keyCiphertext, keyNonce, keyId, atMs } = entry.data;
  const current = orderOf(tx, host);
  upsertOrder(tx, {
    host,
    status: 'pending',
    orderUrl,
    keyCiphertext,
    keyNonce,
    keyId,
    attempts: current?.attempts ?? 0,
    lastError: current?.lastError ?? null,
    nextAttemptAtMs: current?.nextAttemptAtMs ?? 0,
    renewRequested: current?.renewRequested ?? false,
    updatedAtMs: atMs,
  });
  return accepted;
}

/** Stores an HTTP-01 answer; the table is bounded so a runaway leader cannot fill it. */
export function applyAcmeChallengeSet(
  tx: StateTx,
  entry: StateEntry<'acme_challenge_set'>,
): Verdict {
  const { token, keyAuthorization, host, atMs } = entry.data;
  const existing = tx
    .select({ token: acmeChallenges.token })
    .from(acmeChallenges)
    .where(eq(acmeChallenges.token, token))
    .get();
  const stored = tx.select({ n: count() }).from(acmeChallenges).get()?.n ?? 0;
  if (!existing && stored >= limits.stateAcmeChallengesMax) {
    return {
      ok: false,
      code: 'acme_challenges_full',
      reason: `at most ${limits.stateAcmeChallengesMax} ACME challenges at once`,
    };
  }
  const row = { keyAuthorization, host, createdAtMs: atMs };
  tx.insert(acmeChallenges)
    .values({ token, ...row })
    .onConflictDoUpdate({ target: acmeChallenges.token, set: row })
    .run();
  return accepted;
}

/** Removes an answer; clearing one that is gone already is a harmless repeat. */
export function applyAcmeChallengeCleared(
  tx: StateTx,
  entry: StateEntry<'acme_challenge_cleared'>,
): Verdict {
  tx.delete(acmeChallenges).where(eq(acmeChallenges.token, entry.data.token)).run();
  return accepted;
}

/** Replaces the host's certificate and ends its order: order row and answers go. */
export function applyCertificateIssued(
  tx: StateTx,
  entry: StateEntry<'certificate_issued'>,
): Verdict {
  const { host, certPem, keyCiphertext, keyNonce, keyId, issuer, serial } = entry.data;
  const { notBeforeMs, notAfterMs, atMs } = entry.data;
  if (notAfterMs <= notBeforeMs) {
    return {
      ok: false,
      code: 'certificate_invalid',
      reason: `certificate for ${host} expires before it starts`,
    };
  }
  const row = {
    certPem,
    keyCiphertext,
    keyNonce,
    keyId,
    issuer,
    serial,
    notBeforeMs,
    notAfterMs,
    issuedAtMs: atMs,
    modifyIndex: entry.index,
  };
  tx.insert(certificates)
    .values({ host, ...row })
    .onConflictDoUpdate({ target: certificates.host, set: row })
    .run();
  tx.delete(certOrders).where(eq(certOrders.host, host)).run();
  tx.delete(acmeChallenges).where(eq(acmeChallenges.host, host)).run();
  return accepted;
}

/** A failed order: its URL and key are dropped (the next attempt orders anew) after backoff. */
export function applyCertOrderFailed(tx: StateTx, entry: StateEntry<'cert_order_failed'>): Verdict {
  const { host, error, attempts, nextAttemptAtMs, atMs } = entry.data;
  const current = orderOf(tx, host);
  upsertOrder(tx, {
    host,
    ...noOrderPlaced,
    attempts,
    lastError: error,
    nextAttemptAtMs,
    renewRequested: current?.renewRequested ?? false,
    updatedAtMs: atMs,
  });
  tx.delete(acmeChallenges).where(eq(acmeChallenges.host, host)).run();
  return accepted;
}

/**
 * The operator's forced renewal. Needs a certificate to renew; with no order row yet one
 * is opened as `failed` with no attempts and no wait, which the planner reads as "order
 * now" (the same gate a failure's backoff uses).
 */
export function applyCertRenewRequested(
  tx: StateTx,
  entry: StateEntry<'cert_renew_requested'>,
): Verdict {
  const { host, atMs } = entry.data;
  const cert = tx
    .select({ host: certificates.host })
    .from(certificates)
    .where(eq(certificates.host, host))
    .get();
  if (!cert) {
    return { ok: false, code: 'certificate_unknown', reason: `no certificate for ${host}` };
  }
  const current = orderOf(tx, host);
  if (current) {
    upsertOrder(tx, { ...current, renewRequested: true, updatedAtMs: atMs });
    return accepted;
  }
  upsertOrder(tx, {
    host,
    ...noOrderPlaced,
    attempts: 0,
    lastError: null,
    nextAttemptAtMs: 0,
    renewRequested: true,
    updatedAtMs: atMs,
  });
  return accepted;
}
