/**
 * Read helpers for certificates: what routers serve, what the certificates actor is
 * ordering, the HTTP-01 answers, and which hosts want TLS. Keys stay sealed here; only a
 * node holding the keyring opens them (src/secrets/vault.ts).
 */
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { SealedSecret } from '../secrets/vault.ts';
import { acmeChallenges, certificates, certOrders } from '../storage/state-schema.ts';
import { listJobs, type StateReader } from './queries.ts';

/** The name a certificate's key is sealed under (the AAD binds the ciphertext to it). */
export function certificateKeySecretName(host: string): string {
  return `certificate:${host}`;
}

export interface CertificateRow {
  host: string;
  /** Leaf first, then the chain, in PEM. */
  certPem: string;
  key: SealedSecret;
  issuer: string;
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
  issuedAtMs: number;
  source: 'acme';
}

export interface CertOrderRow {
  host: string;
  status: 'pending' | 'failed';
  orderUrl: string | null;
  key: SealedSecret | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAtMs: number;
  renewRequested: boolean;
  updatedAtMs: number;
}

type CertificateRecord = typeof certificates.$inferSelect;
type OrderRecord = typeof certOrders.$inferSelect;

function certificateRow(r: CertificateRecord): CertificateRow {
  return {
    host: r.host,
    certPem: r.certPem,
    key: { ciphertext: r.keyCiphertext, nonce: r.keyNonce, keyId: r.keyId },
    issuer: r.issuer,
    serial: r.serial,
    notBeforeMs: r.notBeforeMs,
    notAfterMs: r.notAfterMs,
    issuedAtMs: r.issuedAtMs,
    source: 'acme',
  };
}

function orderRow(r: OrderRecord): CertOrderRow {
  const sealed =
    r.keyCiphertext !== null && r.keyNonce !== null && r.keyId !== null
      ? { ciphertext: r.keyCiphertext, nonce: r.keyNonce, keyId: r.keyId }
      : null;
  return {
    host: r.host,
    status: r.status,
    orderUrl: r.orderUrl,
    key: sealed,
    attempts: r.attempts,
    lastError: r.lastError,
    nextAttemptAtMs: r.nextAttemptAtMs,
    renewRequested: r.renewRequested,
    updatedAtMs: r.updatedAtMs,
  };
}

export function listCertificates(db: StateReader): CertificateRow[] {
  return db.select().from(certificates).orderBy(asc(certificates.host)).all().map(certificateRow);
}

export function getCertificate(db: StateReader, host: string): CertificateRow | undefined {
  const row = db.select().from(certificates).where(eq(certificates.host, host)).get();
  return row && certificateRow(row);
}

export function listCertOrders(db: StateReader): CertOrderRow[] {
  return db.select().from(certOrders).orderBy(asc(certOrders.host)).all().map(orderRow);
}

export function getCertOrder(db: StateReader, host: string): CertOrderRow | undefined {
  const row = db.select().from(certOrders).where(eq(certOrders.host, host)).get();
  return row && orderRow(row);
}

export function listAcmeChallenges(
  db: StateReader,
): { token: string; keyAuthorization: string; host: string }[] {
  return db
    .select({
      token: acmeChallenges.token,
      keyAuthorization: acmeChallenges.keyAuthorization,
      host: acmeChallenges.host,
    })
    .from(acmeChallenges)
    .orderBy(asc(acmeChallenges.token))
    .all();
}

/** The key authorization to answer for `token`, if an order is waiting on it. */
export function getAcmeChallenge(db: StateReader, token: string): string | undefined {
  return db
    .select({ keyAuthorization: acmeChallenges.keyAuthorization })
    .from(acmeChallenges)
    .where(eq(acmeChallenges.token, token))
    .get()?.keyAuthorization;
}

export interface TlsHost {
  host: string;
  /** The first running job (by name) whose tls route serves the host. */
  jobId: string;
  /** Set when a route names a custom certificate: no ACME order for this host. */
  custom?: { certificatePemSecret: string; privateKeyPemSecret: string };
}

/** The stored route fields this file reads; parsed, since they come from disk. */
const StoredTlsRoutes = z.array(
  z.object({
    hosts: z.array(z.string()),
    tls: z.boolean(),
    certificate: z
      .object({ certificatePemSecret: z.string(), privateKeyPemSecret: z.string() })
      .optional(),
  }),
);

/**
 * Every host of every `tls: true` route of every running job, once each, by host name.
 * A host served by several jobs takes the first job's view; a custom certificate on any
 * of its routes wins over ACME. A job whose stored routes do not parse is skipped (the
 * router reports it).
 */
export function listTlsHosts(db: StateReader): TlsHost[] {
  const byHost = new Map<string, TlsHost>();
  for (const job of listJobs(db)) {
    if (job.status !== 'running') continue;
    const parsed = StoredTlsRoutes.safeParse(job.spec.routes ?? []);
    if (!parsed.success) continue;
    for (const route of parsed.data) {
      if (!route.tls) continue;
      for (const host of route.hosts) {
        const seen = byHost.get(host);
        if (!seen) {
          byHost.set(host, {
            host,
            jobId: job.id,
            ...(route.certificate ? { custom: route.certificate } : {}),
          });
        } else if (!seen.custom && route.certificate) {
          seen.custom = route.certificate;
        }
      }
    }
  }
  return [...byHost.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}
