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
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import {
  certificateInfo,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  needsRotation,
  signCsr,
} from '../pki/index.ts';
import * as q from '../state/queries.ts';
import { type DataPaths, readTls, writeTls } from './data-dir.ts';
import { hostOf, nodeCertValidityDays } from './init.ts';
import { signAsNode, verifyNodeSignature } from './node-auth.ts';
import type { StateHost } from './state-host.ts';

export const RenewRequestSchema = z.strictObject({
  certPem: z.string().min(1).max(16_384),
  csrPem: z.string().min(1).max(16_384),
  /** Base64 ECDSA P-256/SHA-256 signature over the CSR's UTF-8 bytes, by the current key. */
  signature: z.string().min(1).max(512),
});

export type RenewRequest = z.infer<typeof RenewRequestSchema>;

/** Signs `csrPem` with the node's current private key. */
export function signRenewal(currentKeyPem: string, csrPem: string): Promise<string> {
  return signAsNode(currentKeyPem, csrPem);
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
  const node = await verifyNodeSignature(
    { certPem: req.certPem, payload: req.csrPem, signature: req.signature },
    ca,
    'renewal_refused',
    nowMs,
  );
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
