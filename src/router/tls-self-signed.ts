/**
 * Self-signed certificates for the router: the fallback certificate the HTTPS listener
 * presents to a client whose SNI names no site we hold a certificate for (so such a
 * client never sees some other customer's certificate), and test certificates.
 */
import {
  BasicConstraintsExtension,
  type Extension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { certBackdateMs, dayMs, randomSerialHex } from '../pki/ca.ts';
import { ecdsaSha256, exportPrivateKeyPem, generateKeyPair } from '../pki/keys.ts';

/** The common name of the fallback certificate; it names no real host on purpose. */
export const fallbackCommonName = 'berth-router-default';

export interface SelfSignedOptions {
  /** DNS names in the subject alternative names; the first is also the CN. */
  hosts: readonly string[];
  /** Lifetime from now, in days. Default 365. */
  validityDays?: number;
  /** Serial as hex; default random. Tests set it to tell certificates apart. */
  serialHex?: string;
  /** Issue time in ms since the epoch; default the wall clock. */
  nowMs?: number;
}

/** A P-256 self-signed certificate and its PKCS#8 key, both PEM. */
export async function selfSignedCertificate(
  options: SelfSignedOptions,
): Promise<{ certPem: string; keyPem: string }> {
  const nowMs = options.nowMs ?? Date.now();
  const keys = await generateKeyPair();
  const commonName = options.hosts[0] ?? fallbackCommonName;
  const extensions: Extension[] = [new BasicConstraintsExtension(false, undefined, true)];
  if (options.hosts.length > 0) {
    const names = options.hosts.map((value) => ({ type: 'dns' as const, value }));
    extensions.push(new SubjectAlternativeNameExtension(names));
  }
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: options.serialHex ?? randomSerialHex(),
      name: `CN=${commonName}, O=berth`,
      notBefore: new Date(nowMs - certBackdateMs),
      notAfter: new Date(nowMs + (options.validityDays ?? 365) * dayMs),
      signingAlgorithm: ecdsaSha256,
      keys,
      extensions,
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** The fallback certificate: self-signed, no subject alternative names. */
export function fallbackCertificate(): Promise<{ certPem: string; keyPem: string }> {
  return selfSignedCertificate({ hosts: [] });
}
