/**
 * Test and benchmark support: a throwaway cluster CA and node credentials, issued
 * through the real PKI code so tests exercise the certificates production uses.
 */
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { type ClusterCa, createClusterCa } from '../pki/ca.ts';
import { createCsr } from '../pki/csr.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../pki/keys.ts';
import { signCsr } from '../pki/sign.ts';
import type { TlsCredentials } from './tls-transport.ts';

/** Issues a voter certificate for `nodeId` from `ca`. */
export async function issueCredentials(ca: ClusterCa, nodeId: NodeId): Promise<TlsCredentials> {
  const keys = await generateKeyPair();
  const csrPem = await createCsr(`test-${nodeId}`, keys);
  const certPem = await signCsr(ca, csrPem, { nodeId, role: 'voter', validityDays: 2 });
  return { certPem, keyPem: await exportPrivateKeyPem(keys.privateKey), caPem: ca.certPem };
}

/** A fresh CA named `clusterName` and credentials for each id in `nodeIds`. */
export async function issueTestCluster(
  clusterName: string,
  nodeIds: readonly NodeId[],
): Promise<{ ca: ClusterCa; credentials: Map<NodeId, TlsCredentials> }> {
  const ca = await createClusterCa({ clusterName, validityDays: 2 });
  const credentials = new Map<NodeId, TlsCredentials>();
  for (const id of nodeIds) credentials.set(id, await issueCredentials(ca, id));
  return { ca, credentials };
}

/** A small, valid Raft message (a heartbeat) carrying `commit` as a sequence number. */
export function heartbeat(from: NodeId, to: NodeId, commit: number): RaftMessage {
  return { type: 'heartbeat', from, to, term: 1, commit };
}

/** Polls `condition` every few ms until it holds; throws after `timeoutMs` (a hang guard, not a timing assertion). */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}
