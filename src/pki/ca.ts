/**
 * The cluster certificate authority: `berth server init` creates it once, and the
 * leader signs each joining node's CSR with it. The CA key never leaves the voters;
 * a node's private key never leaves the node (it sends only a CSR).
 */
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { ecdsaSha256, exportPrivateKeyPem, generateKeyPair } from './keys.ts';
import { ClusterNameSchema, caCommonName } from './names.ts';

/** The cluster CA as stored: PEM certificate and PKCS#8 PEM private key (a secret). */
export interface ClusterCa {
  clusterName: string;
  certPem: string;
  keyPem: string;
}

/**
 * Certificates start this long before their issue time, so a peer whose clock is a
 * little behind the signer's accepts a certificate issued a moment ago.
 */
export const certBackdateMs = 5 * 60_000;

/** One day in ms (validity is given in days). */
export const dayMs = 86_400_000;

const CreateCaOptionsSchema = z.object({
  clusterName: ClusterNameSchema,
  validityDays: z.number().int().min(1).max(limits.caValidityDaysMax),
  /** Issue time in ms since the epoch; defaults to the wall clock. */
  nowMs: z.number().int().nonnegative().optional(),
});
export type CreateCaOptions = z.input<typeof CreateCaOptionsSchema>;

/** Creates a self-signed P-256 CA for `clusterName`; `bad_ca_options` on invalid options. */
export async function createClusterCa(options: CreateCaOptions): Promise<ClusterCa> {
  const parsed = CreateCaOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new BerthError('bad_ca_options', z.prettifyError(parsed.error));
  }
  const { clusterName, validityDays } = parsed.data;
  const nowMs = parsed.data.nowMs ?? Date.now();
  const keys = await generateKeyPair();
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: `CN=${caCommonName(clusterName)}, O=berth`,
      notBefore: new Date(nowMs - certBackdateMs),
      notAfter: new Date(nowMs + validityDays * dayMs),
      signingAlgorithm: ecdsaSha256,
      keys,
      extensions: [
        // pathLen 0: the cluster CA signs node certificates only, never another CA.
        new BasicConstraintsExtension(true, 0, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
        await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return {
    clusterName,
    certPem: cert.toString('pem'),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}

/** A random positive 128-bit serial number, as hex (RFC 5280 §4.1.2.2: at most 20 octets). */
export function randomSerialHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Clear the top bit so the DER INTEGER is positive; set the next so it is never short.
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
