/**
 * `berth server init`: creates a cluster in a data directory. It makes the cluster CA
 * (ECDSA P-256), the first node's key and certificate, the secrets keyring and an admin
 * token, records node 1 as the only voter in Raft's storage, and leaves the commands the
 * first leader must propose (register the node, record the admin token's hash) in
 * `bootstrap.json`. Nothing secret is logged; the admin token is returned once.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { BerthError } from '../core/errors.ts';
import {
  certificateInfo,
  createClusterCa,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  signCsr,
} from '../pki/index.ts';
import { SqliteRaftStorage } from '../raft/sqlite-storage.ts';
import { loadOrCreateKeyring } from '../secrets/keyring.ts';
import { generateToken, generateTokenId, hashToken } from '../secrets/tokens.ts';
import { dataPaths, writeBootstrap, writeIdentity, writeTls } from './data-dir.ts';
import { detectResources } from './resources.ts';

/** Node certificates last a year and rotate when a third of that is left. */
export const nodeCertValidityDays = 365;
/** The cluster CA lasts ten years. */
export const caValidityDays = 3650;

export interface InitOptions {
  dataDir: string;
  clusterName: string;
  nodeName: string;
  /** host:port peers dial for Raft. */
  peerAddress: string;
  /** host:port of the HTTPS API. */
  apiAddress: string;
  labels?: Record<string, string>;
  nowMs?: number;
}

export interface InitResult {
  nodeId: number;
  adminToken: string;
  caPem: string;
  caFingerprint: string;
}

/** A node key, a CSR and the certificate the CA signs for it. */
export async function issueNodeCredentials(
  ca: { clusterName: string; certPem: string; keyPem: string },
  node: { nodeId: number; nodeName: string; role: 'voter' | 'worker'; hosts: string[] },
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const csr = await createCsr(node.nodeName, keys);
  const ips = node.hosts.filter((h) => /^[0-9.]+$/.test(h) || h.includes(':'));
  const names = node.hosts.filter((h) => !ips.includes(h));
  const certPem = await signCsr(ca, csr, {
    nodeId: node.nodeId,
    role: node.role,
    validityDays: nodeCertValidityDays,
    dnsNames: [...new Set(['localhost', ...names])],
    ipAddresses: ips,
  });
  return { certPem, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** Host part of `host:port` (IPv6 in brackets allowed). */
export function hostOf(address: string): string {
  const m = /^\[(.+)\]:\d+$/.exec(address) ?? /^(.+):\d+$/.exec(address);
  if (!m?.[1]) throw new BerthError('bad_address', `"${address}" is not host:port`);
  return m[1];
}

export async function initCluster(options: InitOptions): Promise<InitResult> {
  const paths = dataPaths(options.dataDir);
  if (existsSync(paths.identity)) {
    throw new BerthError(
      'already_initialized',
      `${options.dataDir} already holds a node; start it with \`berth agent --data-dir ${options.dataDir}\``,
    );
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const nowMs = options.nowMs ?? Date.now();
  const ca = await createClusterCa({
    clusterName: options.clusterName,
    validityDays: caValidityDays,
  });
  const nodeId = 1;
  const hosts = [hostOf(options.peerAddress), hostOf(options.apiAddress)];
  const creds = await issueNodeCredentials(ca, {
    nodeId,
    nodeName: options.nodeName,
    role: 'voter',
    hosts,
  });
  writeTls(paths, { caPem: ca.certPem, caKeyPem: ca.keyPem, ...creds });
  loadOrCreateKeyring(options.dataDir, nowMs);

  const adminToken = generateToken();
  writeBootstrap(paths, {
    version: 1,
    commands: [
      {
        type: 'node_registered',
        data: {
          id: String(nodeId),
          name: options.nodeName,
          address: options.peerAddress,
          apiAddress: options.apiAddress,
          role: 'voter',
          labels: options.labels ?? {},
          resources: detectResources(),
        },
      },
      {
        type: 'token_created',
        data: {
          id: generateTokenId(),
          name: 'bootstrap-admin',
          role: 'admin',
          hash: hashToken(adminToken),
        },
      },
    ],
  });
  const storage = SqliteRaftStorage.open(paths.raftDb);
  storage.setConf({ voters: [nodeId], learners: [] });
  storage.close();
  writeIdentity(paths, {
    version: 1,
    clusterName: options.clusterName,
    nodeId,
    nodeName: options.nodeName,
    role: 'voter',
  });
  return {
    nodeId,
    adminToken,
    caPem: ca.certPem,
    caFingerprint: certificateInfo(ca.certPem).fingerprintSha256,
  };
}
