/**
 * Node-to-cluster requests authenticated by the node's own key. A node sends its
 * certificate and a signature, made with the certificate's private key, over the exact
 * payload it asks about; the receiver checks the certificate chains to the cluster CA,
 * is valid now, names a node of this cluster, and that the signature verifies. Used for
 * certificate renewal and for fetching the secrets of a task the node runs.
 */
import { X509Certificate } from '@peculiar/x509';
import { BerthError } from '../core/errors.ts';
import { verifyChain } from '../pki/index.ts';
import { ecdsaP256, ecdsaSha256, importSigningKeyPem } from '../pki/keys.ts';

const encoder = new TextEncoder();

/** Signs `payload` with a PEM private key; base64 signature. */
export async function signAsNode(keyPem: string, payload: string): Promise<string> {
  const key = await importSigningKeyPem(keyPem);
  const sig = await crypto.subtle.sign(ecdsaSha256, key, encoder.encode(payload));
  return Buffer.from(sig).toString('base64');
}

/**
 * The node a signed request comes from, or a BerthError with `code` (the caller's
 * refusal code, e.g. `renewal_refused`).
 */
export async function verifyNodeSignature(
  request: { certPem: string; payload: string; signature: string },
  ca: { clusterName: string; certPem: string },
  code: string,
  nowMs: number = Date.now(),
): Promise<{ nodeId: number; role: 'voter' | 'worker' }> {
  const chain = await verifyChain(request.certPem, ca.certPem, nowMs);
  if (!chain.ok) throw new BerthError(code, `the node certificate is not valid: ${chain.message}`);
  const node = chain.info.node;
  if (!node || node.clusterName !== ca.clusterName || !node.role) {
    throw new BerthError(code, 'not a node certificate of this cluster');
  }
  const publicKey = await new X509Certificate(request.certPem).publicKey.export(
    ecdsaP256,
    ['verify'],
    crypto,
  );
  const ok = await crypto.subtle.verify(
    ecdsaSha256,
    publicKey,
    Buffer.from(request.signature, 'base64'),
    encoder.encode(request.payload),
  );
  if (!ok) throw new BerthError(code, 'the request is not signed by the certificate’s key');
  return { nodeId: node.nodeId, role: node.role };
}
