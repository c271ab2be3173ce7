/**
 * Reading certificates back: who they name, when they expire, whether the cluster CA
 * issued them, and when to rotate them.
 */
import { BasicConstraintsExtension, X509Certificate } from '@peculiar/x509';
import { BerthError } from '../core/errors.ts';
import { type NodeRole, NodeRoleSchema, parseNodeCommonName } from './names.ts';

/** What callers need to know about a certificate. Times are ms since the epoch. */
export interface CertificateInfo {
  /** The subject DN, e.g. `CN=node-3.prod, OU=voter, O=berth`. */
  subject: string;
  issuer: string;
  serialNumber: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** SHA-256 of the DER encoding, lowercase hex without separators. */
  fingerprintSha256: string;
  /** Node id and cluster from a `node-<id>.<cluster>` CN; null for other subjects (the CA). */
  node: { nodeId: number; clusterName: string; role: NodeRole | null } | null;
}

/** Parses a PEM certificate; `bad_certificate` when it is not one. */
export function certificateInfo(certPem: string): CertificateInfo {
  return infoOf(parseCertificate(certPem));
}

/** Why a certificate was not accepted; stable codes for callers to branch on. */
export type VerifyFailureCode =
  | 'bad_certificate'
  | 'bad_ca'
  | 'not_a_ca'
  | 'issuer_mismatch'
  | 'signature_invalid'
  | 'not_yet_valid'
  | 'expired';

export type VerifyResult =
  | { ok: true; info: CertificateInfo }
  | { ok: false; code: VerifyFailureCode; message: string };

/**
 * Checks that `caPem` (a CA certificate) issued `certPem` and that both are valid at
 * `nowMs` (default: the wall clock). Returns a value: an untrusted certificate is an
 * expected outcome, not an exception.
 */
export async function verifyChain(
  certPem: string,
  caPem: string,
  nowMs: number = Date.now(),
): Promise<VerifyResult> {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = parseCertificate(certPem);
  } catch (error) {
    return { ok: false, code: 'bad_certificate', message: (error as Error).message };
  }
  try {
    ca = parseCertificate(caPem);
  } catch (error) {
    return { ok: false, code: 'bad_ca', message: (error as Error).message };
  }
  const constraints = ca.getExtension(BasicConstraintsExtension);
  if (!constraints?.ca) return fail('not_a_ca', 'the issuer certificate is not a CA');
  if (cert.issuer !== ca.subject) {
    return fail('issuer_mismatch', `issued by "${cert.issuer}", not by "${ca.subject}"`);
  }
  let signatureOk = false;
  try {
    signatureOk = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto);
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return fail('signature_invalid', 'the CA did not sign this certificate');
  for (const [name, c] of [['certificate', cert] as const, ['CA', ca] as const]) {
    if (nowMs < c.notBefore.getTime()) return fail('not_yet_valid', `the ${name} is not yet valid`);
    if (nowMs > c.notAfter.getTime()) return fail('expired', `the ${name} has expired`);
  }
  return { ok: true, info: infoOf(cert) };
}

/**
 * True when less than a third of the certificate's lifetime is left at `nowMs`, i.e.
 * after two thirds have passed. Docker Swarm renews at a random point between 50 % and
 * 80 % of the lifetime; two thirds sits inside that window and leaves a third of the
 * lifetime (30 days of a 90-day certificate) to retry a failed renewal. The caller adds
 * its own jitter so 500 nodes issued together do not all renew on the same tick.
 */
export function needsRotation(
  info: Pick<CertificateInfo, 'notBeforeMs' | 'notAfterMs'>,
  nowMs: number,
): boolean {
  const lifetimeMs = info.notAfterMs - info.notBeforeMs;
  const remainingMs = info.notAfterMs - nowMs;
  return remainingMs * 3 < lifetimeMs;
}

function fail(code: VerifyFailureCode, message: string): VerifyResult {
  return { ok: false, code, message };
}

function parseCertificate(certPem: string): X509Certificate {
  try {
    if (typeof certPem !== 'string') throw new Error('not a string');
    return new X509Certificate(certPem);
  } catch (cause) {
    throw new BerthError('bad_certificate', 'not a PEM X.509 certificate', {
      cause: String(cause),
    });
  }
}

function infoOf(cert: X509Certificate): CertificateInfo {
  const commonName = cert.subjectName.getField('CN')[0] ?? '';
  const parsed = parseNodeCommonName(commonName);
  const role = NodeRoleSchema.safeParse(cert.subjectName.getField('OU')[0]);
  const hasher = new Bun.CryptoHasher('sha256');
  hasher.update(new Uint8Array(cert.rawData));
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBeforeMs: cert.notBefore.getTime(),
    notAfterMs: cert.notAfter.getTime(),
    fingerprintSha256: hasher.digest('hex'),
    node: parsed ? { ...parsed, role: role.success ? role.data : null } : null,
  };
}
