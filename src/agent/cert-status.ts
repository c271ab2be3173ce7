/**
 * The certificate view behind `GET /v1/certificates` and `berth cert ls`: every TLS host
 * with the state of its certificate, from committed state only.
 */
import type { CertificateView } from '../api/cluster-service.ts';
import { limits } from '../core/limits.ts';
import type { StateReader } from '../state/queries.ts';
import { getCertificate, getCertOrder, listTlsHosts } from '../state/queries-certs.ts';
import { parseLeaf } from './custom-certs.ts';

/** When a certificate valid from notBefore to notAfter is due for renewal. */
export function renewAtMs(notBeforeMs: number, notAfterMs: number): number {
  return notAfterMs - Math.floor((notAfterMs - notBeforeMs) * limits.certRenewRemainingFraction);
}

/**
 * `readSecret` opens a custom certificate's secret (null when this node cannot: workers
 * hold no keyring, or it is gone).
 */
export function certificateViews(
  db: StateReader,
  nowMs: number,
  readSecret: (name: string) => string | null,
): CertificateView[] {
  return listTlsHosts(db).map((tls): CertificateView => {
    if (tls.custom)
      return customView(tls.host, tls.jobId, tls.custom.certificatePemSecret, nowMs, readSecret);
    const cert = getCertificate(db, tls.host);
    const order = getCertOrder(db, tls.host);
    const renewAt = cert ? renewAtMs(cert.notBeforeMs, cert.notAfterMs) : null;
    let status: CertificateView['status'];
    if (cert && cert.notAfterMs <= nowMs) status = 'expired';
    else if (cert) status = order || (renewAt !== null && renewAt <= nowMs) ? 'renewing' : 'valid';
    else if (order?.status === 'pending') status = 'ordering';
    else status = order?.status === 'failed' && order.attempts > 0 ? 'failed' : 'pending';
    return {
      host: tls.host,
      job: tls.jobId,
      source: 'acme',
      status,
      issuer: cert?.issuer ?? null,
      serial: cert?.serial ?? null,
      notBeforeMs: cert?.notBeforeMs ?? null,
      notAfterMs: cert?.notAfterMs ?? null,
      renewAtMs: renewAt,
      lastError: order?.lastError ?? null,
      attempts: order?.attempts ?? 0,
      nextAttemptAtMs:
        order?.status === 'failed' && order.attempts > 0 ? order.nextAttemptAtMs : null,
    };
  });
}

function customView(
  host: string,
  job: string,
  certSecret: string,
  nowMs: number,
  readSecret: (name: string) => string | null,
): CertificateView {
  const base: CertificateView = {
    host,
    job,
    source: 'custom',
    status: 'unknown',
    issuer: null,
    serial: null,
    notBeforeMs: null,
    notAfterMs: null,
    renewAtMs: null,
    lastError: null,
    attempts: 0,
    nextAttemptAtMs: null,
  };
  let pem: string | null;
  try {
    pem = readSecret(certSecret);
  } catch {
    return base;
  }
  if (pem === null) return { ...base, lastError: `secret ${certSecret} is gone` };
  try {
    const leaf = parseLeaf(pem, host);
    const notAfterMs = Date.parse(leaf.validTo);
    return {
      ...base,
      status: notAfterMs <= nowMs ? 'expired' : 'valid',
      issuer: leaf.issuer.replace(/\n/g, ', '),
      serial: leaf.serialNumber,
      notBeforeMs: Date.parse(leaf.validFrom),
      notAfterMs,
    };
  } catch (error) {
    return { ...base, lastError: (error as Error).message };
  }
}
