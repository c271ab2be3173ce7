/**
 * The certificates a router serves, with their private keys opened, and how a node
 * without the keyring gets them.
 *
 * Keys are sealed at rest (ACME keys in the certificate rows, custom ones as ordinary
 * secrets). A node holding the keyring (a voter) opens them itself. A worker holds no
 * keyring, yet its router terminates TLS for every routed host, so it asks the leader:
 * `POST /v1/cluster/tls-keys`, signed with the node's own key over `tls-keys:<atMs>` like
 * task secrets (task-secrets.ts). The leader answers any node of this cluster (each one
 * routes every host) and the worker keeps the answer in memory only.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { ApiEnv } from '../api/env.ts';
import { errorResponse } from '../api/errors.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { normalizeSniHost, type TlsCertificate } from '../router/tls-certificates.ts';
import type { Keyring } from '../secrets/keyring.ts';
import { openSecretText } from '../secrets/vault.ts';
import * as q from '../state/queries.ts';
import {
  certificateKeySecretName,
  listCertificates,
  listTlsHosts,
  type TlsHost,
} from '../state/queries-certs.ts';
import { signAsNode, verifyNodeSignature } from './node-auth.ts';

/** A certificate that could not be opened; the router serves the others. */
export interface TlsKeyProblem {
  code: string;
  hosts: string[];
  detail: string;
}

/** What the router of a node should serve, in the order it should prefer them. */
export interface TlsCollection {
  certificates: TlsCertificate[];
  problems: TlsKeyProblem[];
}

/** The leader's answer to a worker: the collection, and the applied index it was read at. */
export interface TlsKeysAnswer extends TlsCollection {
  appliedIndex: number;
}

/**
 * Every certificate the routers should serve, keys opened: custom certificates (routes
 * naming `certificate:` secrets) first, so they win over an ACME certificate left for the
 * same host, then ACME certificates of hosts that still have a `tls` route.
 */
export function collectTlsCertificates(db: q.StateReader, keyring: Keyring): TlsCollection {
  const tlsHosts = listTlsHosts(db);
  const problems: TlsKeyProblem[] = [];
  const certificates = collectCustom(db, keyring, tlsHosts, problems);
  const acmeHosts = new Set(tlsHosts.filter((h) => !h.custom).map((h) => normalizeSniHost(h.host)));
  for (const row of listCertificates(db)) {
    if (!acmeHosts.has(normalizeSniHost(row.host))) continue;
    try {
      const keyPem = openSecretText(keyring, certificateKeySecretName(row.host), row.key);
      certificates.push({ hosts: [row.host], certPem: row.certPem, keyPem });
    } catch (error) {
      problems.push(problemOf(error, [row.host]));
    }
  }
  return { certificates, problems };
}

/** Custom certificates, one per (certificate secret, key secret) pair, with all its hosts. */
function collectCustom(
  db: q.StateReader,
  keyring: Keyring,
  tlsHosts: readonly TlsHost[],
  problems: TlsKeyProblem[],
): TlsCertificate[] {
  const groups = new Map<string, { certSecret: string; keySecret: string; hosts: string[] }>();
  for (const { host, custom } of tlsHosts) {
    if (!custom) continue;
    const key = `${custom.certificatePemSecret}\u0000${custom.privateKeyPemSecret}`;
    const group = groups.get(key) ?? {
      certSecret: custom.certificatePemSecret,
      keySecret: custom.privateKeyPemSecret,
      hosts: [],
    };
    group.hosts.push(host);
    groups.set(key, group);
  }
  const out: TlsCertificate[] = [];
  for (const group of groups.values()) {
    try {
      const certPem = openNamedSecret(db, keyring, group.certSecret);
      const keyPem = openNamedSecret(db, keyring, group.keySecret);
      out.push({ hosts: group.hosts, certPem, keyPem });
    } catch (error) {
      problems.push(problemOf(error, group.hosts));
    }
  }
  return out;
}

function openNamedSecret(db: q.StateReader, keyring: Keyring, name: string): string {
  const sealed = q.getSealedSecret(db, name);
  if (!sealed) {
    throw new BerthError(
      'secret_not_found',
      `secret ${name} does not exist; set it with berth secret set`,
    );
  }
  return openSecretText(keyring, name, sealed);
}

function problemOf(error: unknown, hosts: string[]): TlsKeyProblem {
  if (!(error instanceof BerthError)) throw error;
  return { code: error.code, hosts, detail: error.message };
}

/**
 * A cheap fingerprint of everything `collectTlsCertificates` reads, without opening a
 * key: TLS hosts, their custom secrets' versions, and each ACME row's serial and key
 * nonce (a fresh nonce per seal). When it is unchanged the served set is too.
 */
export function tlsInputSignature(db: q.StateReader): string {
  const versions = new Map(q.listSecrets(db).map((s) => [s.name, s.version]));
  const parts: string[] = [];
  for (const { host, custom } of listTlsHosts(db)) {
    parts.push(
      custom
        ? `${host}|${custom.certificatePemSecret}@${versions.get(custom.certificatePemSecret)}|${custom.privateKeyPemSecret}@${versions.get(custom.privateKeyPemSecret)}`
        : host,
    );
  }
  for (const row of listCertificates(db))
    parts.push(`acme ${row.host}|${row.serial}|${row.key.nonce}`);
  return parts.join('\n');
}

export const TlsKeysRequestSchema = z.strictObject({
  atMs: z.number().int().nonnegative(),
  certPem: z.string().min(1).max(16_384),
  signature: z.string().min(1).max(512),
});

export type TlsKeysRequest = z.infer<typeof TlsKeysRequestSchema>;

export function tlsKeysPayload(atMs: number): string {
  return `tls-keys:${atMs}`;
}

/** A worker's request, signed with its node key. */
export async function signTlsKeysRequest(
  node: { certPem: string; keyPem: string },
  atMs: number = Date.now(),
): Promise<TlsKeysRequest> {
  return {
    atMs,
    certPem: node.certPem,
    signature: await signAsNode(node.keyPem, tlsKeysPayload(atMs)),
  };
}

/** The leader's side: checks the request is fresh and signed by a node of this cluster. */
export async function answerTlsKeys(
  req: TlsKeysRequest,
  ca: { clusterName: string; certPem: string },
  state: { db: q.StateReader; appliedIndex(): number },
  keyring: Keyring | undefined,
  nowMs: number = Date.now(),
): Promise<TlsKeysAnswer> {
  if (Math.abs(nowMs - req.atMs) > limits.routerTlsKeysSkewMsMax) {
    throw new BerthError(
      'forbidden',
      'the request is too old or from a skewed clock; check the node’s time',
    );
  }
  await verifyNodeSignature(
    { certPem: req.certPem, payload: tlsKeysPayload(req.atMs), signature: req.signature },
    ca,
    'forbidden',
    nowMs,
  );
  if (!keyring) throw new BerthError('no_keyring', 'the leader holds no keyring');
  // Read the index first: the collection is then at least this fresh.
  const appliedIndex = state.appliedIndex();
  return { appliedIndex, ...collectTlsCertificates(state.db, keyring) };
}

export interface TlsKeysRoutesOptions {
  clusterName: string;
  caPem: string;
  state: { db: q.StateReader; appliedIndex(): number };
  keyring: Keyring | undefined;
  isLeader: () => boolean;
  logger: Logger;
}

/** `POST /v1/cluster/tls-keys`; mount it beside the join routes (before the token-checked API). */
export function tlsKeysRoutes(options: TlsKeysRoutesOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.post('/v1/cluster/tls-keys', async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new BerthError('bad_json', 'the body is not valid JSON');
    }
    const parsed = TlsKeysRequestSchema.safeParse(raw);
    if (!parsed.success) throw new BerthError('invalid_body', z.prettifyError(parsed.error));
    if (!options.isLeader())
      throw new BerthError('not_leader', 'TLS keys are served by the leader');
    const ca = { clusterName: options.clusterName, certPem: options.caPem };
    return c.json(await answerTlsKeys(parsed.data, ca, options.state, options.keyring));
  });
  app.onError((error, c) => errorResponse(c, error, options.logger));
  return app;
}
