/**
 * Who is on the other end of a TLS connection. The TLS stack has already checked the
 * chain against the cluster CA; this decides whether the verified certificate names a
 * node we should talk to on this connection. The answer comes from the certificate
 * only — never from anything the peer sends afterwards.
 */
import type { PeerCertificate } from 'node:tls';
import type { NodeId } from '../../actors/leader-election/types.ts';
import { parseNodeCommonName } from '../pki/names.ts';

export type PeerRefusal =
  | 'untrusted_certificate'
  | 'bad_peer_name'
  | 'wrong_cluster'
  | 'unexpected_peer'
  | 'wrong_dial_direction';

export type PeerIdentity = { ok: true; nodeId: NodeId } | { ok: false; reason: PeerRefusal };

export interface IdentifyInput {
  /** True only when the chain verified against the cluster CA. */
  authorized: boolean;
  /** The peer's certificate as Bun reports it (empty object when none was sent). */
  certificate: Partial<PeerCertificate> | null | undefined;
  clusterName: string;
  selfId: NodeId;
  direction: 'inbound' | 'outbound';
  /** For outbound connections: the node we meant to reach. */
  expectedPeer: NodeId | undefined;
}

/**
 * Accepts a connection when the certificate is trusted, its CN is
 * `node-<id>.<our cluster>`, and the id fits the connection: the peer we dialled, or,
 * inbound, a node with a lower id than ours (the lower id always dials, so each pair
 * shares one connection; this also refuses our own id).
 */
export function identifyPeer(input: IdentifyInput): PeerIdentity {
  if (!input.authorized) return { ok: false, reason: 'untrusted_certificate' };
  const commonName = input.certificate?.subject?.CN;
  // A subject with several CNs arrives as an array; that is not a node certificate.
  if (typeof commonName !== 'string') return { ok: false, reason: 'bad_peer_name' };
  const parsed = parseNodeCommonName(commonName);
  if (!parsed) return { ok: false, reason: 'bad_peer_name' };
  if (parsed.clusterName !== input.clusterName) return { ok: false, reason: 'wrong_cluster' };
  if (input.direction === 'outbound') {
    if (parsed.nodeId !== input.expectedPeer) return { ok: false, reason: 'unexpected_peer' };
  } else if (parsed.nodeId >= input.selfId) {
    return { ok: false, reason: 'wrong_dial_direction' };
  }
  return { ok: true, nodeId: parsed.nodeId };
}
