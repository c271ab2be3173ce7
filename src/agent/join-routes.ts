/**
 * Cluster membership over the API:
 *
 *   GET  /v1/cluster/ca           public: the CA certificate (a joiner checks its
 *                                 fingerprint against the one in its join token)
 *   POST /v1/cluster/join         join-token authenticated: sign the node's CSR, record
 *                                 the token as used, register the node, add it as a
 *                                 Raft learner; voters also receive the CA key and keyring
 *   POST /v1/cluster/join-tokens  admin: mint a single-use, short-lived join token
 *   POST /v1/cluster/renew        signed by the node's current key: a new certificate
 *                                 (rotation.ts)
 *
 * A join reaches the leader through forwarding (forward.ts). Every refusal happens before
 * anything is proposed, except a token raced by two joiners, which apply settles: the
 * second `join_token_used` is recorded as rejected and that joiner gets 409.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { authenticate, requireRole } from '../api/auth.ts';
import type { ApiEnv } from '../api/env.ts';
import { errorResponse } from '../api/errors.ts';
import { BerthError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { signCsr } from '../pki/index.ts';
import type { RaftHost } from '../raft/raft-host.ts';
import type { Keyring } from '../secrets/keyring.ts';
import { generateTokenId } from '../secrets/tokens.ts';
import * as q from '../state/queries.ts';
import { hostOf, nodeCertValidityDays } from './init.ts';
import {
  createJoinToken,
  type JoinRole,
  joinTokenTtlMsDefault,
  joinTokenTtlMsMax,
  parseJoinToken,
} from './join-token.ts';
import type { RaftClusterService } from './raft-cluster-service.ts';
import { RenewRequestSchema, renewCertificate } from './rotation.ts';
import type { StateHost } from './state-host.ts';
import { answerTaskSecrets, TaskSecretsRequestSchema } from './task-secrets.ts';

const HostPort = z
  .string()
  .min(3)
  .max(253)
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port');

export const JoinRequestSchema = z.strictObject({
  token: z.string().min(1).max(256),
  nodeName: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, 'letters, digits, . _ -'),
  csrPem: z.string().min(1).max(16_384),
  peerAddress: HostPort,
  apiAddress: HostPort,
  labels: z.record(z.string().min(1).max(63), z.string().max(255)).default({}),
  /** What the node offers allocations (measured by the joiner). */
  resources: z
    .strictObject({
      cpuMhz: z.number().int().min(0).max(10_000_000),
      memoryMb: z.number().int().min(0).max(100_000_000),
    })
    .default({ cpuMhz: 0, memoryMb: 0 }),
});

export type JoinRequest = z.infer<typeof JoinRequestSchema>;

export interface JoinResponse {
  nodeId: number;
  clusterName: string;
  role: JoinRole;
  certPem: string;
  caPem: string;
  /** Voters sign later joiners' CSRs and open secrets: they get the CA key and keyring. */
  caKeyPem?: string;
  keyring?: { activeKeyId: string; keys: { id: string; key: string; createdAtMs: number }[] };
  peers: { id: number; address: string }[];
}

const JoinTokenRequestSchema = z.strictObject({
  role: z.enum(['voter', 'worker']),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(joinTokenTtlMsMax / 1000)
    .default(joinTokenTtlMsDefault / 1000),
});

export interface JoinRoutesOptions {
  clusterName: string;
  ca: { certPem: string; keyPem: string | undefined; fingerprint: string };
  raft: RaftHost;
  state: StateHost;
  service: RaftClusterService;
  keyring: Keyring | undefined;
  logger: Logger;
}

async function jsonBody<T>(
  request: { json(): Promise<unknown> },
  schema: z.ZodType<T>,
): Promise<T> {
  let raw: unknown;
  try {
    raw = await request.json();
  } catch {
    throw new BerthError('bad_json', 'the body is not valid JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new BerthError(
      'invalid_body',
      issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; '),
      { issues },
    );
  }
  return parsed.data;
}

/** The next node id: above every id the cluster has ever used (ids are never reused). */
export function nextNodeId(state: StateHost, raft: RaftHost): number {
  const conf = raft.status().conf;
  const ids = [
    ...q.listNodes(state.db).map((n) => Number(n.id)),
    ...conf.voters,
    ...conf.learners,
    ...(conf.retired ?? []),
  ].filter((n) => Number.isInteger(n));
  return Math.max(0, ...ids) + 1;
}

export function joinRoutes(options: JoinRoutesOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/v1/cluster/ca', (c) =>
    c.json({ caPem: options.ca.certPem, fingerprint: options.ca.fingerprint }),
  );
  app.post('/v1/cluster/join', async (c) =>
    c.json(await handleJoin(options, await jsonBody(c.req, JoinRequestSchema))),
  );
  app.post(
    '/v1/cluster/join-tokens',
    authenticate(options.service),
    requireRole('admin'),
    async (c) => {
      const body = await jsonBody(c.req, JoinTokenRequestSchema);
      const { token, hash } = createJoinToken(body.role, options.ca.fingerprint);
      const expiresAtMs = Date.now() + body.ttlSeconds * 1000;
      await options.service.proposeState('join_token_created', {
        id: generateTokenId(),
        hash,
        role: body.role,
        expiresAtMs,
      });
      return c.json({ token, role: body.role, expiresAtMs }, 201);
    },
  );
  app.post('/v1/cluster/renew', async (c) => {
    const body = await jsonBody(c.req, RenewRequestSchema);
    if (options.raft.status().role !== 'leader')
      throw new BerthError('not_leader', 'renewals are signed by the leader');
    if (!options.ca.keyPem) throw new BerthError('no_ca_key', 'the leader holds no CA key');
    const ca = {
      clusterName: options.clusterName,
      certPem: options.ca.certPem,
      keyPem: options.ca.keyPem,
    };
    return c.json({ certPem: await renewCertificate(body, ca, options.state) });
  });
  app.post('/v1/cluster/task-secrets', async (c) => {
    const body = await jsonBody(c.req, TaskSecretsRequestSchema);
    if (options.raft.status().role !== 'leader')
      throw new BerthError('not_leader', 'task secrets are served by the leader');
    const ca = { clusterName: options.clusterName, certPem: options.ca.certPem };
    return c.json({ env: await answerTaskSecrets(body, ca, options.state, options.keyring) });
  });
  app.onError((error, c) => errorResponse(c, error, options.logger));
  return app;
}

function refuse(message: string): BerthError {
  return new BerthError('join_refused', message);
}

async function handleJoin(options: JoinRoutesOptions, req: JoinRequest): Promise<JoinResponse> {
  const { raft, state, service } = options;
  if (raft.status().role !== 'leader')
    throw new BerthError('not_leader', 'joins are handled by the leader');
  const parsed = parseJoinToken(req.token);
  if (parsed.caFingerprint !== options.ca.fingerprint)
    throw refuse('the token belongs to another cluster');
  const record = q.findJoinTokenByHash(state.db, parsed.hash);
  if (!record) throw refuse('unknown join token; create one with `berth node join-token`');
  if (record.usedAtMs !== null)
    throw refuse('this join token was already used; tokens are single-use');
  if (record.expiresAtMs <= Date.now())
    throw refuse('this join token has expired; create a new one');
  if (!options.ca.keyPem) throw new BerthError('no_ca_key', 'the leader holds no CA key');
  const nodeId = nextNodeId(state, raft);
  const hosts = [hostOf(req.peerAddress), hostOf(req.apiAddress)];
  const ips = hosts.filter((h) => /^[0-9.]+$/.test(h) || h.includes(':'));
  const certPem = await signCsr(
    { clusterName: options.clusterName, certPem: options.ca.certPem, keyPem: options.ca.keyPem },
    req.csrPem,
    {
      nodeId,
      role: record.role,
      validityDays: nodeCertValidityDays,
      dnsNames: ['localhost', ...hosts.filter((h) => !ips.includes(h))],
      ipAddresses: ips,
    },
  );
  // Spending the token first makes a raced second join fail before it registers anything.
  await service.proposeState('join_token_used', { id: record.id, nodeId: String(nodeId) });
  await service.proposeState('node_registered', {
    id: String(nodeId),
    name: req.nodeName,
    address: req.peerAddress,
    apiAddress: req.apiAddress,
    role: record.role,
    labels: req.labels,
    resources: req.resources,
  });
  await addLearnerPatiently(raft, nodeId);
  options.logger.info('node joined', { node: nodeId, role: record.role });
  const peers = q.listNodes(state.db).map((n) => ({ id: Number(n.id), address: n.address }));
  return {
    nodeId,
    clusterName: options.clusterName,
    role: record.role,
    certPem,
    caPem: options.ca.certPem,
    ...(record.role === 'voter' ? voterSecrets(options) : {}),
    peers,
  };
}

/** How long a join waits for another membership change (a promotion) to finish, in ms. */
const membershipWaitMs = 15_000;

/**
 * Adds the node as a learner, waiting while another single-server change is still being
 * applied (a promotion in progress): the token is already spent, so giving up here would
 * strand the joiner.
 */
async function addLearnerPatiently(raft: RaftHost, nodeId: number): Promise<void> {
  const deadline = Date.now() + membershipWaitMs;
  for (;;) {
    try {
      await raft.addLearner(nodeId);
      return;
    } catch (error) {
      const code = (error as BerthError).code;
      if (code !== 'membership_change_pending' || Date.now() >= deadline) throw error;
      await Bun.sleep(100);
    }
  }
}

function voterSecrets(options: JoinRoutesOptions): Pick<JoinResponse, 'caKeyPem' | 'keyring'> {
  return {
    caKeyPem: options.ca.keyPem,
    keyring: options.keyring && {
      activeKeyId: options.keyring.activeKeyId,
      keys: options.keyring.keys.map((k) => ({
        id: k.id,
        key: Buffer.from(k.key).toString('base64'),
        createdAtMs: k.createdAtMs,
      })),
    },
  };
}
