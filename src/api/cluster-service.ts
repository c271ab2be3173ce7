/**
 * The narrow contract between the HTTP API and the rest of the node. The API never touches
 * Raft, the state database or the secret keyring directly: the node runtime wires a real
 * implementation of `ClusterService` over them, and tests use `TestClusterService` (a real
 * single-node local log and state database). Keeping it narrow is what lets the API be
 * written, tested and changed independently of the state machine.
 *
 * Errors are BerthError values with a stable `code`; the API maps codes to HTTP statuses in
 * one place (errors.ts). Codes the API gives a meaning to:
 *   - `not_leader`: no leader is known (an election is running). Writes and read barriers
 *     that get it are held and retried for a bounded time, so it must only be thrown when
 *     the command was NOT appended anywhere (retrying is then safe).
 *   - `proposal_dropped`: the leader refused the proposal (queue full); 503 + Retry-After.
 *   - `timeout`: the outcome is unknown (the command may still commit); never retried.
 *   - `*_not_found`, `invalid_message`, `conflict`: the usual 404/400/409.
 */
import type { CommittedLog, LogEntry } from '../log/committed-log.ts';
import type { JobSpec } from './job-spec.ts';

/** A value or a promise of it: reads are local and usually synchronous (SQLite). */
export type Awaitable<T> = T | Promise<T>;

/** Token roles, strongest first: admin > deploy > read-only. */
export type Role = 'admin' | 'deploy' | 'read-only';

/** Who a bearer token belongs to. */
export interface TokenPrincipal {
  id: string;
  role: Role;
}

/** Commands the API proposes. The service turns each into one replicated log entry. */
export type ClusterCommand =
  | { type: 'job.register'; job: JobSpec }
  | { type: 'job.stop'; name: string }
  /** Plaintext in; the service encrypts it so the log carries ciphertext only. */
  | { type: 'secret.put'; name: string; value: string }
  | { type: 'secret.delete'; name: string }
  /** The token's SHA-256 hex only; the plaintext never leaves the API handler. */
  | { type: 'token.create'; id: string; name: string; role: Role; hashHex: string }
  | { type: 'token.revoke'; id: string };

/** What a committed command returns: the log index it committed at. */
export interface ProposeAck {
  index: number;
}

export interface ClusterStatus {
  nodeId: string;
  /** 'leader', 'follower', 'candidate', 'learner', …: whatever the consensus layer reports. */
  role: string;
  leaderId: string | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

export interface NodeView {
  id: string;
  name: string;
  address: string;
  status: string;
  voter: boolean;
  updatedAtMs: number;
}

export interface JobView {
  name: string;
  version: number;
  status: 'running' | 'stopped';
  spec: JobSpec;
  /** Log index of the entry that last changed the job. */
  index: number;
  updatedAtMs: number;
  /** Maintenance mode (job_maintenance); absent when the service does not know it. */
  maintenance?: JobMaintenanceView;
}

/** Whether a job's routes answer 503 with `message` instead of proxying. */
export interface JobMaintenanceView {
  enabled: boolean;
  /** What routers answer with; null when maintenance is off. */
  message: string | null;
}

export interface JobVersionView {
  name: string;
  version: number;
  spec: JobSpec;
  index: number;
  registeredAtMs: number;
}

export interface AllocationView {
  id: string;
  job: string;
  jobVersion: number;
  node: string;
  status: string;
  /** Why it is in that status (the supervisor's last detail), when known. */
  detail?: string;
  /** What the scheduler wants: `run` or `stop`. */
  desired?: string;
  /** Host ports by label. */
  ports?: Record<string, number>;
  updatedAtMs: number;
}

export interface DeploymentView {
  id: string;
  job: string;
  jobVersion: number;
  status: string;
  /** Why it ended that way (e.g. which allocation failed), when known. */
  detail?: string;
  /** Canaries promoted: the rollout goes past them (absent when the service does not know). */
  promoted?: boolean;
  updatedAtMs: number;
}

/** A scheduler dry run for one job. */
export interface JobPlanView {
  job: string;
  /** The version it would become (current + 1), or the current one when nothing changed. */
  version: number;
  changed: boolean;
  place: { name: string; node: string }[];
  stop: { id: string; node: string; reason: string }[];
  inPlaceUpdate: { id: string; node: string }[];
  destructiveUpdate: { stop: string; place: { name: string; node: string } }[];
  /** Why some allocations could not be placed, when capacity or constraints lack. */
  blocked?: { reason: string; unplaced: number };
}

/** Secret metadata: never the value. */
export interface SecretMetaView {
  name: string;
  version: number;
  updatedAtMs: number;
}

/** Token metadata: never the plaintext, never the hash. */
export interface TokenView {
  id: string;
  name: string;
  role: Role;
  createdAtMs: number;
}

export interface RaftPeerView {
  id: number;
  address: string;
  voter: boolean;
  leader: boolean;
  /** On the leader: the member's acknowledged log index; null elsewhere or when unknown. */
  matchIndex?: number | null;
  /** On the leader: how many entries the member is behind; null elsewhere or when unknown. */
  lagEntries?: number | null;
}

/** One entry of the event stream. `topic` is what `?topic=` filters on. */
export interface ClusterEvent {
  index: number;
  topic: string;
  type: string;
  data: unknown;
}

/** Common list bound: the API never asks for more than limits.apiListItemsMax rows. */
export interface ListQuery {
  limit: number;
}

export interface AllocationQuery extends ListQuery {
  job?: string;
  node?: string;
}

export interface DeploymentQuery extends ListQuery {
  job?: string;
}

/** One line of an allocation's output, as the driver captured it. */
export interface AllocationLogLine {
  stream: 'stdout' | 'stderr';
  line: string;
  /** Wall-clock ms when the line was captured (the owning node's clock). */
  atMs: number;
}

export interface AllocationLogQuery {
  /** The last N lines only (applied after `sinceMs`). */
  tail?: number;
  /** Only lines with `atMs >= sinceMs` (inclusive: follow relies on it to lose no line). */
  sinceMs?: number;
}

/** An allocation's recent output, oldest first, and the node that holds it. */
export interface AllocationLogs {
  lines: AllocationLogLine[];
  node: string;
}

/** One TLS host and its certificate, as `berth cert ls` shows it. */
export interface CertificateView {
  host: string;
  /** The job whose route serves the host. */
  job: string;
  /** `acme`: ordered by the cluster; `custom`: from the route's secrets. */
  source: 'acme' | 'custom';
  /**
   * `valid`; `renewing` (valid, a renewal is due or in progress); `pending` (no certificate
   * yet, no order placed yet); `ordering` (no certificate yet, an order is placed at the
   * ACME server); `failed` (the last order failed, see lastError); `expired`;
   * `unknown` (a custom certificate this node cannot open: workers hold no keyring).
   */
  status: 'valid' | 'renewing' | 'pending' | 'ordering' | 'failed' | 'expired' | 'unknown';
  issuer: string | null;
  serial: string | null;
  notBeforeMs: number | null;
  notAfterMs: number | null;
  /** When the certificates actor renews it (a third of the lifetime left); null for custom. */
  renewAtMs: number | null;
  lastError: string | null;
  attempts: number;
  /** When a failed order is retried (backoff). */
  nextAttemptAtMs: number | null;
}

export interface ClusterService {
  status(): Awaitable<ClusterStatus>;
  /**
   * Resolves once this node's state reflects every write committed before the call
   * (Raft ReadIndex on a follower, a leadership check on the leader). Rejects `not_leader`
   * when no leader is known.
   */
  readBarrier(): Promise<void>;
  /**
   * Proposes a command; a follower forwards it to the leader. Resolves once it is
   * committed AND applied to the state this node reads, so a read after it sees the write.
   */
  propose(command: ClusterCommand): Promise<ProposeAck>;

  listNodes(query: ListQuery): Awaitable<NodeView[]>;
  listJobs(query: ListQuery): Awaitable<JobView[]>;
  getJob(name: string): Awaitable<JobView | null>;
  /** Versions of one job, newest first. */
  jobHistory(name: string, query: ListQuery): Awaitable<JobVersionView[]>;
  listAllocations(query: AllocationQuery): Awaitable<AllocationView[]>;
  listDeployments(query: DeploymentQuery): Awaitable<DeploymentView[]>;
  listSecrets(query: ListQuery): Awaitable<SecretMetaView[]>;
  /** The decrypted value, or null when there is no such secret. */
  readSecret(name: string): Awaitable<string | null>;
  listTokens(query: ListQuery): Awaitable<TokenView[]>;
  getToken(id: string): Awaitable<TokenView | null>;
  /** The token whose SHA-256 hex digest is `hashHex`, or null. */
  findToken(hashHex: string): Awaitable<TokenPrincipal | null>;

  raftPeers(): Awaitable<RaftPeerView[]>;
  /** Rejects `peer_not_found`, `already_leader`, `not_leader`, … */
  transferLeadership(to: number): Promise<void>;
  /** Proposes removing a peer from the voters; rejects `peer_not_found`, `conflict`, … */
  removePeer(id: number): Promise<ProposeAck>;
  /**
   * Marks a node draining (its allocations are migrated, no new ones placed) or, with
   * `enable: false`, eligible again. Optional: answers 501 when absent. Rejects
   * `node_not_found`.
   */
  drainNode?(id: string, enable: boolean): Promise<ProposeAck>;
  /**
   * A dry run: what the scheduler would do if `job` were registered now, committing
   * nothing. Optional: answers 501 when absent.
   */
  planJob?(job: JobSpec): Promise<JobPlanView>;
  /**
   * The recent output of one allocation, fetched from the node that runs it (each node keeps
   * a bounded ring of lines per allocation). Logs are as sensitive as whatever the app
   * prints: Berth never writes secrets into them, but the app may. Optional: the logs routes
   * answer 501 when absent. Rejects `allocation_not_found` and `node_unreachable`.
   */
  allocationLogs?(allocId: string, query: AllocationLogQuery): Promise<AllocationLogs>;
  /**
   * Promotes the canaries of the job's active (running or paused) deployment for its
   * current version: proposes `deployment_promoted` and resolves once applied, with the
   * deployment as it now reads. Promoting twice is harmless. Optional: the promote route
   * answers 501 when absent. Rejects `job_not_found`, `deployment_not_found`, `not_leader`
   * (only when nothing was appended).
   */
  promoteDeployment?(jobName: string): Promise<{ index: number; deployment: DeploymentView }>;
  /**
   * Puts a job in maintenance (every router answers its routes with 503 and the message;
   * the default message when none is given) or, with `enabled: false`, takes it out:
   * proposes `job_maintenance` and resolves once applied, with the state as it now reads.
   * Optional: the maintenance route answers 501 when absent. Rejects `job_not_found`,
   * `not_leader` (only when nothing was appended).
   */
  setJobMaintenance?(
    jobName: string,
    enabled: boolean,
    message?: string,
  ): Promise<{ index: number; maintenance: JobMaintenanceView }>;

  /**
   * Every host of a `tls: true` route with its certificate's state: issuer, validity,
   * when renewal is due, the last ordering error. Optional: the route answers 501.
   */
  listCertificates?(): Awaitable<CertificateView[]>;
  /**
   * Asks the certificates actor to renew the host's certificate now (proposes
   * `cert_renew_requested`). Optional: answers 501. Rejects `certificate_not_found`.
   */
  renewCertificate?(host: string): Promise<ProposeAck>;

  /**
   * A SHA-256 over every replicated state table at this node's applied index, read in one
   * synchronous step so the two agree. Nodes at the same index with different digests
   * have diverged. Optional: the route answers 501.
   */
  stateDigest?(): Awaitable<{ appliedIndex: number; digest: string }>;

  /** The committed log the event stream reads from (durable: streams resume by index). */
  readonly events: CommittedLog;
  /**
   * The event a committed entry becomes, or null to hide it. Must never put secret values,
   * token hashes or other credentials into `data` (see `defaultEventOf`).
   */
  toEvent(entry: LogEntry): ClusterEvent | null;
}
