/**
 * Node certificate rotation. A node renews its certificate when less than a third of its
 * lifetime is left (Swarm renews at a random 50–80 %; a fixed two-thirds point is simpler
 * to reason about, and a year-long certificate leaves four months of margin).
 *
 * Renewal proves possession rather than trusting a connection: the node sends its current
 * certificate, a CSR for a fresh key, and a signature over the CSR made with its CURRENT
 * key. The leader checks the certificate chains to the cluster CA and is still valid, the
 * signature verifies with that certificate's public key, and the node is still registered,
 * then signs the CSR for the same node id and role.
 */
import { existsSync } from 'node:fs';
import { X509Certificate } from '@peculiar/x509';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import {
  certificateInfo,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  needsRotation,
  signCsr,
  verifyChain,
} from '../pki/index.ts';
import { ecdsaP256, ecdsaSha256, importSigningKeyPem } from '../pki/keys.ts';
import * as q from '../state/queries.ts';
import { type DataPaths, readTls, writeTls } from './data-dir.ts';
import { hostOf, nodeCertValidityDays } from './init.ts';
import type { StateHost } from './state-host.ts';

export const RenewRequestSchema = z.strictObject({
  certPem: z.string().min(1).max(16_384),
  csrPem: z.string().min(1).max(16_384),
  /** Base64 ECDSA P-256/SHA-256 signature over the CSR's UTF-8 bytes, by the current key. */
  signature: z.string().min(1).max(512),
});

export type RenewRequest = z.infer<typeof RenewRequestSchema>;

const encoder = new TextEncoder();

/** Signs `csrPem` with the node's current private key. */
export async function signRenewal(currentKeyPem: string, csrPem: string): Promise<string> {
  const key = await importSigningKeyPem(currentKeyPem);
  const sig = await crypto.subtle.sign(ecdsaSha256, key, encoder.encode(csrPem));
  return Buffer.from(sig).toString('base64');
}

function refuse(message: string): BerthError {
  return new BerthError('renewal_refused', message);
}

/** The leader's side: checks the request and signs a new certificate. */
export async function renewCertificate(
  req: RenewRequest,
  ca: { clusterName: string; certPem: string; keyPem: string },
  state: StateHost,
  nowMs: number = Date.now(),
): Promise<string> {
  const chain = await verifyChain(req.certPem, ca.certPem, nowMs);
  if (!chain.ok) throw refuse(`the current certificate is not valid: ${chain.message}`);
  const node = chain.info.node;
  if (!node || node.clusterName !== ca.clusterName || !node.role)
    throw refuse('not a node certificate of this cluster');
  const publicKey = await new X509Certificate(req.certPem).publicKey.export(
    ecdsaP256,
    ['verify'],
    crypto,
  );
  const signatureOk = await crypto.subtle.verify(
    ecdsaSha256,
    publicKey,
    Buffer.from(req.signature, 'base64'),
    encoder.encode(req.csrPem),
  );
  if (!signatureOk) throw refuse('the renewal is not signed by the current key');
  const record = q.getNode(state.db, String(node.nodeId));
  if (!record) throw refuse(`node ${node.nodeId} is not registered (removed?)`);
  const hosts = [hostOf(record.address), hostOf(record.apiAddress)];
  const ips = hosts.filter((h) => /^[0-9.]+$/.test(h) || h.includes(':'));
  return signCsr(ca, req.csrPem, {
    nodeId: node.nodeId,
    role: node.role,
    validityDays: nodeCertValidityDays,
    dnsNames: ['localhost', ...hosts.filter((h) => !ips.includes(h))],
    ipAddresses: ips,
    nowMs,
  });
}

/**
 * The node's side: when the certificate is due, asks the cluster (through `send`, which
 * reaches the leader) for a new one and writes it with its new key. Returns the new
 * credentials, or undefined when nothing was due.
 */
export async function rotateIfDue(
  paths: DataPaths,
  send: (req: RenewRequest) => Promise<{ certPem: string }>,
  nowMs: number = Date.now(),
): Promise<{ certPem: string; keyPem: string; caPem: string } | undefined> {
  if (!existsSync(paths.nodeCert)) return undefined;
  const tls = readTls(paths);
  if (!needsRotation(certificateInfo(tls.certPem), nowMs)) return undefined;
  const keys = await generateKeyPair();
  // The CSR's subject is ignored: the signer names the node from the current certificate.
  const csrPem = await createCsr('node', keys);
  const signature = await signRenewal(tls.keyPem, csrPem);
  const { certPem } = await send({ certPem: tls.certPem, csrPem, signature });
  const keyPem = await exportPrivateKeyPem(keys.privateKey);
  writeTls(paths, { ...tls, certPem, keyPem });
  return { certPem, keyPem, caPem: tls.caPem };
}
