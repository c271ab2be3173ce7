/**
 * Custom certificates (Kamal's `ssl: { certificate_pem, private_key_pem }`): a tls route
 * may name two secrets holding a certificate chain and its key instead of having one
 * ordered. They are checked when the job is registered, on the leader that holds the
 * keyring, so a typo or a mismatched pair is refused with a clear error and nothing is
 * stored — instead of every router failing to load it later.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { BerthError } from '../core/errors.ts';
import type { Job } from '../spec/normalize.ts';

/** Reads a secret's plaintext; null when there is no such secret. */
export type SecretReader = (name: string) => string | null;

export interface CustomCertificate {
  hosts: string[];
  certPem: string;
  keyPem: string;
}

/**
 * Checks every custom certificate the job's routes name: both secrets exist, the chain
 * parses, the key parses and belongs to the leaf, the leaf is valid now and names every
 * host of its route. Throws BerthError with a stable code naming the route and host.
 */
export function checkCustomCertificates(
  job: Pick<Job, 'name' | 'routes'>,
  readSecret: SecretReader,
  nowMs: number,
): void {
  job.routes.forEach((route, index) => {
    if (!route.certificate) return;
    const where = `${job.name}: routes[${index}].certificate`;
    const certPem = readRequired(readSecret, route.certificate.certificatePemSecret, where);
    const keyPem = readRequired(readSecret, route.certificate.privateKeyPemSecret, where);
    checkPair({ hosts: route.hosts, certPem, keyPem }, where, nowMs);
  });
}

function readRequired(readSecret: SecretReader, name: string, where: string): string {
  const value = readSecret(name);
  if (value === null) {
    throw new BerthError(
      'certificate_secret_missing',
      `${where}: no secret named ${JSON.stringify(name)}; set it first with \`berth secret set ${name}\``,
      { secret: name },
    );
  }
  return value;
}

/** The leaf of a PEM chain, or a `certificate_invalid` error. */
export function parseLeaf(certPem: string, where: string): X509Certificate {
  try {
    return new X509Certificate(certPem);
  } catch (error) {
    throw new BerthError(
      'certificate_invalid',
      `${where}: the certificate is not a PEM X.509 certificate (${(error as Error).message})`,
    );
  }
}

/** Checks one certificate/key pair for `hosts` at `nowMs`. */
export function checkPair(cert: CustomCertificate, where: string, nowMs: number): void {
  const leaf = parseLeaf(cert.certPem, where);
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(cert.keyPem);
  } catch (error) {
    throw new BerthError(
      'certificate_invalid',
      `${where}: the private key is not a PEM private key (${(error as Error).message})`,
    );
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new BerthError(
      'certificate_key_mismatch',
      `${where}: the private key does not belong to the certificate (subject ${leaf.subject.replace(/\n/g, ', ')})`,
    );
  }
  const notAfterMs = Date.parse(leaf.validTo);
  if (!(notAfterMs > nowMs)) {
    throw new BerthError(
      'certificate_expired',
      `${where}: the certificate expired on ${leaf.validTo}`,
    );
  }
  for (const host of cert.hosts) {
    if (leaf.checkHost(host) === undefined) {
      throw new BerthError(
        'certificate_host_mismatch',
        `${where}: the certificate does not cover ${host} (it names ${leaf.subjectAltName ?? leaf.subject})`,
        { host },
      );
    }
  }
}
