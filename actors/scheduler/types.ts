/**
 * The scheduler's own input and output types (Nomad's structs, reduced). They are plain
 * data so a snapshot can be built from the state database (src/state/queries.ts) or by
 * hand in a test, and so the scheduler does not depend on the job-spec parser.
 */
import type { Prng } from '../../src/core/prng.ts';

export interface SchedResources {
  cpuMhz: number;
  memoryMb: number;
}

export type ConstraintOperator = '=' | '!=' | 'in' | 'not_in' | 'regex';

/**
 * A placement constraint. `attribute` is `node.id`, `node.name`, `node.role`, or a node
 * label (`label.<key>` or the bare key). For `in` / `not_in`, `value` is a list or a
 * comma-separated string.
 */
export interface SchedConstraint {
  attribute: string;
  operator: ConstraintOperator;
  value: string | readonly string[];
}

export interface SchedPort {
  label: string;
  /** A fixed host port; without it the scheduler picks one from the dynamic range. */
  static?: number;
}

/** What the container runs; a change to any of it needs a new container (destructive). */
export interface SchedTask {
  image: string;
  command?: readonly string[];
  env?: Readonly<Record<string, string>>;
}

export type JobType = 'service' | 'batch' | 'system';

export interface SchedJob {
  id: string;
  version: number;
  type: JobType;
  count: number;
  resources: SchedResources;
  ports: readonly SchedPort[];
  /** Volume names; an allocation is pinned to a node that holds all of them. */
  volumes: readonly string[];
  constraints: readonly SchedConstraint[];
  /** Penalise nodes that already hold this job's allocations (default true in specs). */
  spread: boolean;
  update: { maxParallel: number; canary: number };
  status: 'running' | 'stopped';
  /** Image, command and env; absent means "unknown", which compares as unchanged. */
  task?: SchedTask;
  /** When and how often a failed allocation is replaced; absent means at once, always. */
  reschedule?: ReschedulePolicy;
}

/**
 * Nomad's `reschedule` block, normalised (src/spec/normalize.ts `Job.reschedule`). The
 * delay doubles with each earlier reschedule of the same slot, up to `maxDelayMs`.
 */
export interface ReschedulePolicy {
  /** Reschedules allowed within `intervalMs` (ignored when `unlimited`). */
  attempts: number;
  /** The window attempts are counted over; 0 means the slot's whole history. */
  intervalMs: number;
  delayMs: number;
  maxDelayMs: number;
  unlimited: boolean;
}

export type NodeStatus = 'up' | 'down' | 'draining';

export interface SchedNode {
  id: string;
  name: string;
  role: string;
  status: NodeStatus;
  labels: Readonly<Record<string, string>>;
  resources: SchedResources;
  volumes: readonly string[];
  /** Host ports taken by something other than Berth's allocations. */
  reservedPorts?: readonly number[];
}

export type ClientStatus =
  | 'pending'
  | 'running'
  | 'healthy'
  | 'unhealthy'
  | 'failed'
  | 'complete'
  | 'lost';

export interface SchedAllocation {
  id: string;
  jobId: string;
  jobVersion: number;
  nodeId: string;
  name: string;
  index: number;
  resources: SchedResources;
  ports: Readonly<Record<string, number>>;
  desiredStatus: 'run' | 'stop';
  clientStatus: ClientStatus;
  /**
   * The state row's `modifiedAtMs`: for a failed allocation still desired to run, when it
   * failed; for a stopped one, when the plan stopped it (≈ when it was rescheduled). Only
   * the reschedule policy reads it; required for failed allocations of jobs with one.
   */
  modifiedAtMs?: number;
}

export type DeploymentStatus = 'running' | 'paused' | 'successful' | 'failed' | 'cancelled';

/** A rolling update of one job version; canaries wait for `promoted`. */
export interface SchedDeployment {
  id: string;
  jobId: string;
  jobVersion: number;
  status: DeploymentStatus;
  promoted: boolean;
}

/** A read-only view of the cluster at one applied log index. */
export interface Snapshot {
  index: number;
  nodes: readonly SchedNode[];
  jobs: readonly SchedJob[];
  allocations: readonly SchedAllocation[];
  /** Older job versions still referenced by allocations (to tell in-place from destructive). */
  jobVersions?: readonly SchedJob[];
  deployments?: readonly SchedDeployment[];
}

export type EvaluationTrigger =
  | 'job-register'
  | 'job-deregister'
  | 'node-update'
  | 'alloc-failure'
  | 'deployment-watcher'
  | 'periodic';

export interface Evaluation {
  id: string;
  jobId: string;
  triggeredBy: EvaluationTrigger;
  nodeId?: string;
}

/** Randomness and identifiers come from the caller, so compute stays a pure function. */
export interface SchedContext {
  prng: Prng;
  /** The n-th fresh identifier of this computation (n = 0, 1, 2, …); must be unique. */
  idOf(n: number): string;
  /**
   * The leader's wall-clock time for this computation (ms since the epoch), passed in so
   * compute stays pure. Required when a job has a reschedule policy.
   */
  nowMs?: number;
}

/** Why an allocation is stopped: a stable code, never prose to match on. */
export type StopReason =
  | 'job_stopped'
  | 'count_reduced'
  | 'node_lost'
  | 'node_draining'
  | 'node_ineligible'
  | 'alloc_failed'
  | 'duplicate'
  | 'destructive_update'
  | 'replaced_by_canary';

export interface Placement {
  id: string;
  jobId: string;
  jobVersion: number;
  group: string;
  name: string;
  index: number;
  nodeId: string;
  resources: SchedResources;
  ports: Record<string, number>;
  /** The allocation this one replaces (lost, failed, migrated or updated), if any. */
  replaces?: string;
  canary?: boolean;
}

export interface Stop {
  id: string;
  nodeId: string;
  reason: StopReason;
}

export interface Update {
  id: string;
  nodeId: string;
  jobVersion: number;
}

export interface DestructiveUpdate {
  stop: Stop;
  place: Placement;
}

/** The filter that excluded the nodes which got furthest towards fitting. */
export type BlockedReason =
  | 'no_nodes'
  | 'node_status'
  | 'constraints'
  | 'volumes'
  | 'resources'
  | 'ports';

/**
 * Placements that found no node. `missing` is the total the unplaced allocations need
 * (cpu and memory times `unplaced`) and the static ports no node could offer, so the
 * leader can re-evaluate when a node joins or frees capacity.
 */
export interface Blocked {
  reason: BlockedReason;
  unplaced: number;
  missing: { cpuMhz: number; memoryMb: number; ports?: number[] };
}

/** A deployment the plan opens (only when none exists for this job version). */
export interface PlanDeployment {
  id: string;
  jobId: string;
  jobVersion: number;
  canaries: number;
}

export interface Plan {
  evalId: string;
  jobId: string;
  jobVersion: number;
  /** The snapshot index the plan was computed from. */
  snapshotIndex: number;
  place: Placement[];
  stop: Stop[];
  inPlaceUpdate: Update[];
  destructiveUpdate: DestructiveUpdate[];
  blocked?: Blocked;
  deployment?: PlanDeployment;
  /** Failed allocations the reschedule policy keeps from being replaced now (absent: none). */
  held?: RescheduleHold[];
}

/**
 * A failed allocation left in place by the reschedule policy. It stays `failed` and
 * desired to run, so its slot is not refilled: `reschedule_delay` until `eligibleAtMs`
 * (evaluate again then), `reschedule_exhausted` for good (until a new job version).
 */
export interface RescheduleHold {
  allocId: string;
  index: number;
  reason: 'reschedule_delay' | 'reschedule_exhausted';
  eligibleAtMs?: number;
}
