/**
 * How identities are spelled in certificates. A node certificate's subject CN is
 * `node-<id>.<cluster>`; the transport takes a peer's node id from this CN of its
 * verified certificate, never from anything the peer writes on the wire.
 */
import { z } from 'zod';

/** A cluster name: one lowercase DNS label, so `node-3.<cluster>` is a valid DNS name. */
export const ClusterNameSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a lowercase DNS label (a-z, 0-9, -)');

/** The roles a node certificate can carry (recorded in the subject OU). */
export const NodeRoleSchema = z.enum(['voter', 'worker']);
export type NodeRole = z.infer<typeof NodeRoleSchema>;

const nodeCommonNamePattern = /^node-([1-9][0-9]{0,14})\.([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/;

/** The subject CN of node `nodeId` in `clusterName`. */
export function nodeCommonName(nodeId: number, clusterName: string): string {
  return `node-${nodeId}.${clusterName}`;
}

/** Reads a node CN back; null when `commonName` is not of the form `node-<id>.<cluster>`. */
export function parseNodeCommonName(
  commonName: string,
): { nodeId: number; clusterName: string } | null {
  const match = nodeCommonNamePattern.exec(commonName);
  if (!match) return null;
  const nodeId = Number(match[1]);
  if (!Number.isSafeInteger(nodeId)) return null;
  return { nodeId, clusterName: match[2] as string };
}

/** The subject CN of the cluster CA. */
export function caCommonName(clusterName: string): string {
  return `berth-ca.${clusterName}`;
}
