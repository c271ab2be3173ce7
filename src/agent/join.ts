/**
 * `berth server join <address> --token …`: the joining side. It downloads the cluster CA
 * from any node without trusting the connection, checks the CA's fingerprint against the
 * one inside the join token (so a man in the middle cannot substitute a CA), then sends
 * its CSR over a connection verified against that CA and writes what the leader returns
 * into a new data directory. The node then starts as a Raft learner and receives the log
 * (or a snapshot) from the leader; the leader promotes voter-role nodes when the cluster
 * wants more voters.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../core/errors.ts';
import { certificateInfo, createCsr, exportPrivateKeyPem, generateKeyPair } from '../pki/index.ts';
import { keyringFileName, writeKeyring } from '../secrets/keyring.ts';
import { dataPaths, writeIdentity, writeTls } from './data-dir.ts';
import type { JoinResponse } from './join-routes.ts';
import { parseJoinToken } from './join-token.ts';
import { writeSeedPeers } from './peers-file.ts';
import { detectResources } from './resources.ts';

export interface JoinOptions {
  /** `https://host:port` (or `host:port`) of any node's API. */
  address: string;
  token: string;
  dataDir: string;
  nodeName: string;
  peerAddress: string;
  apiAddress: string;
  labels?: Record<string, string>;
  timeoutMs?: number;
}

export function apiBase(address: string): string {
  return address.startsWith('https://') || address.startsWith('http://')
    ? address.replace(/\/$/, '')
    : `https://${address}`;
}

async function fetchJson(
  url: string,
  init: RequestInit & { tls?: object },
  timeoutMs: number,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) } as RequestInit);
  } catch (error) {
    throw new BerthError('unreachable', `cannot reach ${url}: ${(error as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as {
    error?: { code: string; message: string };
  } | null;
  if (!res.ok) {
    throw new BerthError(
      body?.error?.code ?? `http_${res.status}`,
      body?.error?.message ?? `HTTP ${res.status}`,
    );
  }
  return body;
}

export async function joinCluster(options: JoinOptions): Promise<JoinResponse> {
  const paths = dataPaths(options.dataDir);
  if (existsSync(paths.identity)) {
    throw new BerthError(
      'already_initialized',
      `${options.dataDir} already holds a node; use another --data-dir`,
    );
  }
  const token = parseJoinToken(options.token);
  const base = apiBase(options.address);
  const timeoutMs = options.timeoutMs ?? 15_000;
  // Unverified on purpose: the fingerprint check below is what establishes trust.
  const ca = (await fetchJson(
    `${base}/v1/cluster/ca`,
    { tls: { rejectUnauthorized: false } },
    timeoutMs,
  )) as {
    caPem: string;
  };
  if (certificateInfo(ca.caPem).fingerprintSha256 !== token.caFingerprint) {
    throw new BerthError(
      'ca_mismatch',
      `the CA served by ${base} is not the one this token was made for`,
    );
  }
  const keys = await generateKeyPair();
  const body = JSON.stringify({
    token: options.token,
    nodeName: options.nodeName,
    csrPem: await createCsr(options.nodeName, keys),
    peerAddress: options.peerAddress,
    apiAddress: options.apiAddress,
    labels: options.labels ?? {},
    resources: detectResources(),
  });
  const answer = await joinWithRetry(`${base}/v1/cluster/join`, body, ca.caPem, timeoutMs);
  writeJoinedNode(options, answer, await exportPrivateKeyPem(keys.privateKey));
  return answer;
}

/** Retries while the cluster is electing a leader: nothing was spent, so it is safe. */
async function joinWithRetry(
  url: string,
  body: string,
  caPem: string,
  timeoutMs: number,
): Promise<JoinResponse> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    try {
      return (await fetchJson(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          tls: { ca: caPem },
        },
        timeoutMs,
      )) as JoinResponse;
    } catch (error) {
      const code = (error as BerthError).code;
      if ((code !== 'not_leader' && code !== 'no_leader') || Date.now() >= deadlineMs) throw error;
      await Bun.sleep(250);
    }
  }
}

function writeJoinedNode(options: JoinOptions, answer: JoinResponse, keyPem: string): void {
  const paths = dataPaths(options.dataDir);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  writeTls(paths, {
    caPem: answer.caPem,
    certPem: answer.certPem,
    keyPem,
    caKeyPem: answer.caKeyPem,
  });
  if (answer.keyring) {
    writeKeyring(join(options.dataDir, keyringFileName), {
      activeKeyId: answer.keyring.activeKeyId,
      keys: answer.keyring.keys.map((k) => ({
        id: k.id,
        key: Buffer.from(k.key, 'base64'),
        createdAtMs: k.createdAtMs,
      })),
    });
  }
  writeSeedPeers(paths, answer.peers);
  writeIdentity(paths, {
    version: 1,
    clusterName: answer.clusterName,
    nodeId: answer.nodeId,
    nodeName: options.nodeName,
    role: answer.role,
  });
}
