/**
 * The supervisor's state: for every allocation of this node, what is wanted (from the
 * committed log), what the task is doing (from the driver), its health, its restart
 * history and the last status it reported. Nothing here is persisted: after an agent
 * restart the state is rebuilt from the desired set and the driver's task list, and the
 * running tasks are adopted.
 */
import { assert } from '../../src/core/assert.ts';
import type { ListedTask, TaskHandle } from '../../src/drivers/driver.ts';
import type { SupervisorConfig } from './config.ts';
import type { StatusReason } from './effects.ts';
import type { AllocStatus, DesiredAllocation } from './types.ts';

/**
 * Where the allocation's task is. `absent`: none, start when wanted. `starting`: a start
 * effect is out. `running`: a task runs under `handle`. `waiting`: no task; start again at
 * `untilMs` (restart delay, stuck port). `done`: nothing more will run (stopped, failed,
 * complete, or terminal in the log).
 */
export type TaskPhase =
  | { phase: 'absent' }
  | { phase: 'starting'; sinceMs: number }
  | { phase: 'running'; handle: TaskHandle; sinceMs: number; missedLists: number }
  | { phase: 'waiting'; untilMs: number; reason: StatusReason }
  | { phase: 'done' };

export interface HealthState {
  /** When the next probe is due (checks), or when a task without a check turns healthy. */
  dueAtMs: number;
  probeInFlight: boolean;
  consecutiveFailures: number;
}

export interface AllocRecord {
  desired: DesiredAllocation;
  /** The status committed in the log, as last heard. */
  committed: AllocStatus;
  /**
   * What this node last told the cluster: its last proposal, or the committed status
   * when it has proposed nothing yet. Proposals are deduped against it.
   */
  reported: { status: AllocStatus; reason: StatusReason | null };
  task: TaskPhase;
  health: HealthState;
  /** Restart times within the restart window, oldest first. */
  restartsMs: number[];
  /** Exit times within the crash-loop window, oldest first. */
  exitsMs: number[];
  /** Consecutive starts refused for a stuck port or name. */
  startWaits: number;
  /** A stop was wanted while a start was out; the started task is stopped at once. */
  stopOnStart: boolean;
  /** The terminal status this node decided (failed, complete), kept to re-propose if lost. */
  outcome: { status: 'failed' | 'complete'; reason: StatusReason; detail: string } | null;
  /** Proposals the host reported lost (≤ limits.supervisorProposeAttemptsMax re-proposals). */
  proposalFailures: number;
}

export interface SupervisorState {
  nodeId: string;
  config: SupervisorConfig;
  /** The latest `nowMs` of a tick or observation; never moves backwards. */
  nowMs: number;
  /**
   * False until the first driver list: nothing starts before it, so tasks left running by
   * a previous agent are adopted instead of started twice.
   */
  synced: boolean;
  /** False until the first desired set: no task is an orphan before the node knows its own. */
  desiredKnown: boolean;
  /** A driver list that arrived before the first desired set, handled when that arrives. */
  pendingObserved: ListedTask[] | null;
  /** Allocations by id, in the order they first appeared (deterministic scans). */
  allocs: Map<string, AllocRecord>;
}

export function createSupervisorState(
  nodeId: string,
  config: SupervisorConfig,
  nowMs = 0,
): SupervisorState {
  assert(nodeId.length > 0, 'the supervisor needs its node id');
  assert(Number.isFinite(nowMs) && nowMs >= 0, 'nowMs is a non-negative finite number');
  return {
    nodeId,
    config,
    nowMs,
    synced: false,
    desiredKnown: false,
    pendingObserved: null,
    allocs: new Map(),
  };
}

/** A fresh record for an allocation first seen in a desired set. */
export function createAllocRecord(desired: DesiredAllocation): AllocRecord {
  return {
    desired,
    committed: desired.status,
    reported: { status: desired.status, reason: null },
    task: { phase: 'absent' },
    health: { dueAtMs: 0, probeInFlight: false, consecutiveFailures: 0 },
    restartsMs: [],
    exitsMs: [],
    startWaits: 0,
    stopOnStart: false,
    outcome: null,
    proposalFailures: 0,
  };
}
