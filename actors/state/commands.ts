/**
 * The replicated commands of Berth's cluster state (DESIGN.md §2), modelled on Nomad's FSM
 * messages: each command carries everything apply needs, including the wall-clock time the
 * leader stamped into it (`atMs`), so apply never reads the clock or randomness and every
 * node computes the same state.
 *
 * Log tags are append-only. The state actor owns tags 100–199 so that the node-wide
 * registry can merge these definitions with other actors' without a clash; a new command
 * takes the next free tag and a retired one keeps its tag forever.
 *
 * Schemas are the append-time gate: a payload that fails them never enters the log
 * (`invalid_message`). Rules that depend on the current state (an unknown allocation, a
 * used join token) are decided at apply and recorded as rejected no-ops instead.
 */
import { z } from 'zod';
import { limits } from '../../src/core/limits.ts';
import {
  type DefinitionsOf,
  defineMessageKinds,
  type PayloadOf,
  replicated,
  type TypedEntry,
} from '../../src/mailbox/message-kinds.ts';

/** An identifier or name: non-empty, bounded, no control characters. */
export const Id = z
  .string()
  .min(1)
  .max(limits.stateIdLengthMax)
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

/** The leader's wall-clock time when it proposed the command, in ms since the epoch. */
const AtMs = z.number().int().nonnegative();
const Detail = z.string().max(limits.stateDetailLengthMax);
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase SHA-256 hex digest');
const Base64 = z
  .string()
  .max(limits.stateSecretCiphertextLengthMax)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

export const NodeRole = z.enum(['voter', 'worker']);
export const NodeStatus = z.enum(['up', 'down', 'draining']);
export const TokenRole = z.enum(['admin', 'deploy', 'read-only']);
export const AllocationStatus = z.enum([
  'pending',
  'running',
  'healthy',
  'unhealthy',
  'failed',
  'complete',
  'lost',
]);
export const DeploymentStatus = z.enum(['running', 'paused', 'successful', 'failed', 'cancelled']);
export const EvaluationStatus = z.enum(['pending', 'blocked', 'complete', 'failed', 'cancelled']);
export const EvaluationTrigger = z.enum([
  'job-register',
  'job-deregister',
  'node-update',
  'alloc-failure',
  'deployment-watcher',
  'periodic',
]);

export const Resources = z.object({
  cpuMhz: z.number().int().nonnegative(),
  memoryMb: z.number().int().nonnegative(),
});

const Labels = z
  .record(z.string().min(1).max(limits.stateIdLengthMax), z.string().max(limits.stateIdLengthMax))
  .refine((labels) => Object.keys(labels).length <= limits.stateNodeLabelsMax, {
    message: `at most ${limits.stateNodeLabelsMax} labels`,
  });

export const NodeRegistered = z.object({
  id: Id,
  name: Id,
  /** host:port peers use for Raft and the mesh. */
  address: Id,
  /** host:port of the node's HTTP API. */
  apiAddress: Id,
  role: NodeRole,
  labels: Labels,
  resources: Resources,
  atMs: AtMs,
});

export const NodeStatusChanged = z.object({ id: Id, status: NodeStatus, atMs: AtMs });
export const NodeRemoved = z.object({ id: Id, atMs: AtMs });

/**
 * A job submission. The spec is opaque JSON until the scheduler issue defines it. The
 * version is not in the payload: apply assigns previous + 1, so concurrent submissions
 * cannot collide. `expectedVersion` is an optional check-and-set (Nomad's EnforceIndex):
 * when present and not the current version, the submission is rejected at apply.
 */
export const JobRegistered = z.object({
  id: Id,
  spec: z.record(z.string(), z.unknown()),
  expectedVersion: z.number().int().nonnegative().optional(),
  atMs: AtMs,
});

export const JobStopped = z.object({ id: Id, atMs: AtMs });

/** One allocation the plan places: the row the state machine creates. */
export const AllocationPlacement = z.object({
  id: Id,
  /** Task group within the job. */
  group: Id,
  /** Human name, e.g. `web.web[0]`. */
  name: Id,
  nodeId: Id,
  resources: Resources,
  /** Host ports reserved for the allocation, by label. */
  ports: z.record(z.string().min(1), z.number().int().min(1).max(65_535)).default({}),
});

export const AllocationStop = z.object({ id: Id, reason: Detail });
/** An in-place update: the allocation keeps running under a newer job version. */
export const AllocationUpdate = z.object({ id: Id, jobVersion: z.number().int().positive() });

export const DeploymentCreate = z.object({ id: Id });

const allocationsMax = limits.statePlanAllocationsMax;

/**
 * The plan applier's committed result (Nomad's ApplyPlanResultsRequest): allocations to
 * place, stop and update in place, for one job version, optionally opening a deployment.
 */
export const PlanCommitted = z
  .object({
    evalId: Id,
    jobId: Id,
    jobVersion: z.number().int().positive(),
    place: z.array(AllocationPlacement).max(allocationsMax),
    stop: z.array(AllocationStop).max(allocationsMax),
    update: z.array(AllocationUpdate).max(allocationsMax),
    deployment: DeploymentCreate.optional(),
    atMs: AtMs,
  })
  .superRefine((plan, ctx) => {
    const ids = [...plan.place, ...plan.stop, ...plan.update].map((a) => a.id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['place'],
        message: `allocation ${duplicate} appears twice in one plan`,
      });
    }
  });

export const AllocationStatusChanged = z.object({
  id: Id,
  status: AllocationStatus,
  detail: Detail.default(''),
  atMs: AtMs,
});

export const DeploymentStatusChanged = z.object({
  id: Id,
  status: DeploymentStatus,
  detail: Detail.default(''),
  atMs: AtMs,
});

export const EvaluationCreated = z.object({
  id: Id,
  jobId: Id,
  triggeredBy: EvaluationTrigger,
  priority: z.number().int().min(1).max(100),
  /** The node whose change triggered it, for node-update evaluations. */
  nodeId: Id.optional(),
  atMs: AtMs,
});

export const EvaluationUpdated = z.object({
  id: Id,
  status: EvaluationStatus,
  detail: Detail.default(''),
  atMs: AtMs,
});

/** A secret sealed by src/secrets/vault.ts: ciphertext only ever enters the log. */
export const SecretSet = z.object({
  name: Id,
  ciphertext: Base64.min(1),
  nonce: Base64.min(1),
  keyId: Id,
  atMs: AtMs,
});

export const SecretRemoved = z.object({ name: Id, atMs: AtMs });

/** An API token; the log carries its SHA-256 hash, never the token. */
export const TokenCreated = z.object({
  id: Id,
  name: Id,
  role: TokenRole,
  hash: Sha256Hex,
  expiresAtMs: z.number().int().nonnegative().optional(),
  atMs: AtMs,
});

export const TokenRevoked = z.object({ id: Id, atMs: AtMs });

/** A single-use join token for a new node; hash only. */
export const JoinTokenCreated = z.object({
  id: Id,
  hash: Sha256Hex,
  role: NodeRole,
  expiresAtMs: z.number().int().nonnegative(),
  atMs: AtMs,
});

export const JoinTokenUsed = z.object({ id: Id, nodeId: Id, atMs: AtMs });

/**
 * Canary promotion (`berth promote`, or the watcher under `auto_promote`): the rollout
 * of the deployment's version may go past its canaries. Rejected at apply for an unknown
 * or finished deployment; promoting twice is a harmless repeat.
 */
export const DeploymentPromoted = z.object({ id: Id, atMs: AtMs });

/** What a job in maintenance answers with when the operator gives no message. */
export const defaultMaintenanceMessage = 'This service is down for maintenance.';

/**
 * Maintenance mode for a job (kamal-proxy's `stop --message`): while enabled, every router
 * answers the job's routes with 503 and the message instead of proxying. `message` is only
 * meaningful when enabling; apply stores the default when it is absent. Rejected at apply
 * for an unknown job.
 */
export const JobMaintenance = z.object({
  id: Id,
  enabled: z.boolean(),
  message: z.string().min(1).max(limits.stateMaintenanceMessageLengthMax).optional(),
  atMs: AtMs,
});

/** A host name a certificate is for (validated again by the spec; bounded here). */
const CertHost = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
    'must be a host name',
  );
const Pem = z.string().min(1).max(limits.stateCertificatePemLengthMax);
/** An ACME token (RFC 8555 §8.3: base64url, at least 128 bits of entropy). */
const AcmeToken = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
/** A certificate's private key, sealed like a secret (src/secrets/vault.ts). */
const SealedKey = { keyCiphertext: Base64.min(1), keyNonce: Base64.min(1), keyId: Id };

/**
 * The certificates actor placed an ACME order for `host` and generated its key. Committed
 * before any challenge is answered, so a new leader resumes this very order (same URL,
 * same key) instead of placing a second one.
 */
export const CertOrderStarted = z.object({
  host: CertHost,
  orderUrl: z.url().max(2_048),
  ...SealedKey,
  atMs: AtMs,
});

/** An HTTP-01 answer every router serves at /.well-known/acme-challenge/<token>. */
export const AcmeChallengeSet = z.object({
  token: AcmeToken,
  keyAuthorization: z.string().min(1).max(512),
  host: CertHost,
  atMs: AtMs,
});

export const AcmeChallengeCleared = z.object({ token: AcmeToken, atMs: AtMs });

/** A certificate for `host`: the chain in PEM, its key sealed. Replaces the previous one. */
export const CertificateIssued = z.object({
  host: CertHost,
  certPem: Pem,
  ...SealedKey,
  issuer: Detail,
  serial: z.string().min(1).max(128),
  notBeforeMs: z.number().int().nonnegative(),
  notAfterMs: z.number().int().nonnegative(),
  atMs: AtMs,
});

/** An order failed; the next attempt waits until `nextAttemptAtMs` (backoff). */
export const CertOrderFailed = z.object({
  host: CertHost,
  error: Detail,
  attempts: z.number().int().positive(),
  nextAttemptAtMs: z.number().int().nonnegative(),
  atMs: AtMs,
});

/** The operator asked for a renewal now (`berth cert renew <host>`). */
export const CertRenewRequested = z.object({ host: CertHost, atMs: AtMs });

/**
 * The state actor's command definitions. Merge them into the node-wide registry (tags
 * 100–199 are the state actor's); `stateCommands` is the registry of these alone.
 */
export const stateCommandDefinitions = {
  node_registered: replicated(100, NodeRegistered),
  node_status: replicated(101, NodeStatusChanged),
  node_removed: replicated(102, NodeRemoved),
  job_registered: replicated(103, JobRegistered),
  job_stopped: replicated(104, JobStopped),
  plan_committed: replicated(105, PlanCommitted),
  allocation_status: replicated(106, AllocationStatusChanged),
  deployment_status: replicated(107, DeploymentStatusChanged),
  evaluation_created: replicated(108, EvaluationCreated),
  evaluation_updated: replicated(109, EvaluationUpdated),
  secret_set: replicated(110, SecretSet),
  secret_removed: replicated(111, SecretRemoved),
  token_created: replicated(112, TokenCreated),
  token_revoked: replicated(113, TokenRevoked),
  join_token_created: replicated(114, JoinTokenCreated),
  join_token_used: replicated(115, JoinTokenUsed),
  deployment_promoted: replicated(116, DeploymentPromoted),
  job_maintenance: replicated(117, JobMaintenance),
  cert_order_started: replicated(118, CertOrderStarted),
  acme_challenge_set: replicated(119, AcmeChallengeSet),
  acme_challenge_cleared: replicated(120, AcmeChallengeCleared),
  certificate_issued: replicated(121, CertificateIssued),
  cert_order_failed: replicated(122, CertOrderFailed),
  cert_renew_requested: replicated(123, CertRenewRequested),
};

export const stateCommands = defineMessageKinds(stateCommandDefinitions);

export type StateKinds = DefinitionsOf<typeof stateCommands>;
export type StateCommandType = keyof typeof stateCommandDefinitions;
/** Every state command type, in tag order. */
export const stateCommandTypes = Object.keys(stateCommandDefinitions) as StateCommandType[];
/** The validated payload of one command type. */
export type StateCommand<T extends StateCommandType> = PayloadOf<StateKinds, T>;
/** A committed state entry as apply receives it. */
export type StateEntry<T extends StateCommandType = StateCommandType> = TypedEntry<StateKinds, T>;
