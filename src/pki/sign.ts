/**
 * Signing node certificates from CSRs. Everything in the request except its public key
 * is untrusted input: the subject, SANs and role come from the caller (the leader, after
 * it checked the join token), and the CSR's signature must verify so we know the
 * requester holds the matching private key.
 */
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequest,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type ClusterCa, certBackdateMs, dayMs, randomSerialHex } from './ca.ts';
import { ecdsaSha256, importSigningKeyPem } from './keys.ts';
import { NodeRoleSchema, nodeCommonName } from './names.ts';

/** The address every node certificate also names, so local tools can reach the node. */
export const loopbackIp = '127.0.0.1';

const DnsNameSchema = z
  .string()
  .max(253)
  .regex(/^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/, 'a DNS name');

const SignCsrOptionsSchema = z.object({
  nodeId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  role: NodeRoleSchema,
  validityDays: z.number().int().min(1).max(limits.nodeCertValidityDaysMax),
  dnsNames: z.array(DnsNameSchema).max(limits.certSanEntriesMax).default([]),
  ipAddresses: z
    .array(z.union([z.ipv4(), z.ipv6()]))
    .max(limits.certSanEntriesMax)
    .default([]),
  /** Issue time in ms since the epoch; defaults to the wall clock. */
  nowMs: z.number().int().nonnegative().optional(),
});
export type SignCsrOptions = z.input<typeof SignCsrOptionsSchema>;

/**
 * Signs `csrPem` with the cluster CA and returns the node certificate as PEM. The
 * certificate's CN is `node-<nodeId>.<cluster>`, its OU the role; its SANs are the CN,
 * `dnsNames`, `ipAddresses` and 127.0.0.1; its EKU allows both server and client auth,
 * because every peer connection is mutual TLS. Errors: `bad_sign_options`, `bad_csr`,
 * `csr_key_unsupported`, `csr_signature_invalid`, `bad_ca`, `bad_private_key`.
 */
export async function signCsr(
  ca: ClusterCa,
  csrPem: string,
  options: SignCsrOptions,
): Promise<string> {
  const parsed = SignCsrOptionsSchema.safeParse(options);
  if (!parsed.success) throw new BerthError('bad_sign_options', z.prettifyError(parsed.error));
  const { nodeId, role, validityDays, dnsNames, ipAddresses } = parsed.data;
  const nowMs = parsed.data.nowMs ?? Date.now();
  const csr = await parseVerifiedCsr(csrPem);
  const caCert = parseCaCertificate(ca.certPem);
  const signingKey = await importSigningKeyPem(ca.keyPem);
  const commonName = nodeCommonName(nodeId, ca.clusterName);
  const sanEntries = [
    ...uniq([commonName, ...dnsNames]).map((value) => ({ type: 'dns' as const, value })),
    ...uniq([loopbackIp, ...ipAddresses]).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: `CN=${commonName}, OU=${role}, O=berth`,
      issuer: caCert.subjectName,
      notBefore: new Date(nowMs - certBackdateMs),
      notAfter: new Date(Math.min(nowMs + validityDays * dayMs, caCert.notAfter.getTime())),
      publicKey: csr.publicKey,
      signingKey,
      signingAlgorithm: ecdsaSha256,
      extensions: [
        new BasicConstraintsExtension(false, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
        new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth]),
        new SubjectAlternativeNameExtension(sanEntries),
        await SubjectKeyIdentifierExtension.create(csr.publicKey, false, crypto),
        await AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return cert.toString('pem');
}

/** Parses a PEM CSR, insists on a P-256 key, and checks its self-signature. */
async function parseVerifiedCsr(csrPem: string): Promise<Pkcs10CertificateRequest> {
  if (typeof csrPem !== 'string' || csrPem.length > limits.csrBytesMax) {
    throw new BerthError('bad_csr', `a CSR is a PEM string of at most ${limits.csrBytesMax} bytes`);
  }
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new Pkcs10CertificateRequest(csrPem);
  } catch (cause) {
    throw new BerthError('bad_csr', 'not a PEM PKCS#10 certificate request', {
      cause: String(cause),
    });
  }
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new BerthError('csr_key_unsupported', 'the CSR key must be ECDSA P-256', {
      algorithm: algorithm.name,
    });
  }
  let valid = false;
  try {
    valid = await csr.verify(crypto);
  } catch {
    valid = false;
  }
  if (!valid) throw new BerthError('csr_signature_invalid', 'the CSR signature does not verify');
  return csr;
}

function parseCaCertificate(certPem: string): X509Certificate {
  try {
    return new X509Certificate(certPem);
  } catch (cause) {
    throw new BerthError('bad_ca', 'the CA certificate is not a PEM X.509 certificate', {
      cause: String(cause),
    });
  }
}

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}
