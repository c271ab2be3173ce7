/**
 * The task-driver contract: what the container supervisor needs from "something that runs
 * an allocation's task". Docker (`docker/`) and plain processes (`exec/`) implement it, and
 * both run the same contract suite (`test/drivers/contract.ts`).
 *
 * Errors are BerthError values with the stable codes in `DriverErrorCode`; a supervisor
 * branches on `port_in_use` and `name_conflict` to wait and retry (DESIGN.md §5, "a port
 * is stuck") instead of failing the deploy.
 */

/** A published port: the node's `host` port forwarded to the task's `container` port. */
export interface PortMapping {
  host: number;
  container: number;
}

/** A named volume mounted into the task (Docker named volumes; exec ignores them). */
export interface VolumeMount {
  name: string;
  target: string;
  readOnly?: boolean;
}

/** Registry credentials for a pull, resolved by the caller from the secret store. */
export interface RegistryAuth {
  username: string;
  password: string;
  serverAddress: string;
}

/** Everything a driver needs to start one allocation's task. */
export interface TaskSpec {
  allocId: string;
  jobId: string;
  jobVersion: number;
  nodeId: string;
  /** Unique per node: the container name, or the exec driver's state-file name. */
  name: string;
  /** Docker image; the exec driver refuses a spec that sets it. */
  image?: string;
  /** Argv. For Docker an empty array keeps the image's default command. */
  command: string[];
  workdir?: string;
  env: Record<string, string>;
  /** Secret values delivered as environment; kept out of labels, state files and logs. */
  secretEnv: Record<string, string>;
  ports: Record<string, PortMapping>;
  volumes: VolumeMount[];
  resources: { cpuMhz: number; memoryMb: number };
  /** The node's address that published ports bind to. */
  hostAddress: string;
  registryAuth?: RegistryAuth;
}

/** Identifies one started task; `id` is the container id or the exec task's name. */
export interface TaskHandle {
  driver: 'docker' | 'exec';
  id: string;
  allocId: string;
}

/** The identity labels stamped on every task, read back for adoption after a restart. */
export interface TaskLabels {
  jobId: string;
  allocId: string;
  jobVersion: number;
  nodeId: string;
}

export type TaskState = 'running' | 'exited';

/** A task's observed state. `exitCode` is 128 + signal for a signal death, like a shell. */
export interface TaskStatus {
  state: TaskState;
  exitCode?: number;
  oomKilled?: boolean;
  /** The task's main process on the host (the container's init for Docker), when known. */
  pid?: number;
  /** Wall-clock ms of the task's start; stable across inspections and adoptions. */
  startedAtMs: number;
}

/** A task found on the node, with the labels that say which allocation owns it. */
export interface ListedTask extends TaskStatus {
  handle: TaskHandle;
  name: string;
  labels: TaskLabels;
}

export interface LogOptions {
  follow: boolean;
  /** Last N lines only; undefined means all that the driver still holds. */
  tail?: number;
  /** Only lines at or after this wall-clock ms. */
  sinceMs?: number;
  /** Ends a follow. */
  signal?: AbortSignal;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  line: string;
  atMs: number;
}

export interface TaskStats {
  /** 100 means one full CPU core. */
  cpuPercent: number;
  memoryBytes: number;
}

export interface TaskEvent {
  allocId: string;
  kind: 'started' | 'exited' | 'oom';
  exitCode?: number;
}

export interface TaskDriver {
  readonly name: 'docker' | 'exec';
  start(task: TaskSpec): Promise<TaskHandle>;
  /** SIGTERM, then SIGKILL once `timeoutMs` has passed; returns once the task has exited. */
  stop(handle: TaskHandle, options: { timeoutMs: number }): Promise<void>;
  /** Removes the task (killing it if still running). Removing an absent task is not an error. */
  remove(handle: TaskHandle): Promise<void>;
  inspect(handle: TaskHandle): Promise<TaskStatus>;
  /** Tasks of this node carrying Berth labels: running ones, and exited ones too with `all`. */
  list(options?: { all?: boolean }): Promise<ListedTask[]>;
  logs(handle: TaskHandle, options: LogOptions): AsyncIterable<LogLine>;
  stats(handle: TaskHandle): Promise<TaskStats>;
  /**
   * Subscribes to lifecycle events of this node's tasks. Resolves once the subscription is
   * live: every event after the call is delivered, until `signal` aborts. A reader that
   * lags by more than driverStreamQueueMax events loses the oldest; a supervisor treats
   * events as hints and reconciles with `list()` anyway.
   */
  events(signal: AbortSignal): Promise<AsyncIterable<TaskEvent>>;
}

/** Stable error codes of the drivers. */
export const driverErrorCodes = {
  portInUse: 'port_in_use',
  nameConflict: 'name_conflict',
  imageNotFound: 'image_not_found',
  imagePullFailed: 'image_pull_failed',
  driverUnavailable: 'driver_unavailable',
  taskNotFound: 'task_not_found',
  invalidTask: 'invalid_task',
  driverError: 'driver_error',
} as const;

export type DriverErrorCode = (typeof driverErrorCodes)[keyof typeof driverErrorCodes];

/** Label keys, shared by both drivers so a supervisor reads one vocabulary. */
export const labelKeys = {
  job: 'berth.job',
  alloc: 'berth.alloc',
  version: 'berth.version',
  node: 'berth.node',
} as const;

/** The identity labels of a task as a flat string map (Docker labels, exec state file). */
export function taskLabelMap(task: TaskSpec): Record<string, string> {
  return {
    [labelKeys.job]: task.jobId,
    [labelKeys.alloc]: task.allocId,
    [labelKeys.version]: String(task.jobVersion),
    [labelKeys.node]: task.nodeId,
  };
}

/** Reads identity labels back; undefined when any is missing (not a Berth task). */
export function parseTaskLabels(raw: Record<string, string>): TaskLabels | undefined {
  const jobId = raw[labelKeys.job];
  const allocId = raw[labelKeys.alloc];
  const version = raw[labelKeys.version];
  const nodeId = raw[labelKeys.node];
  if (!jobId || !allocId || !version || !nodeId) return undefined;
  const jobVersion = Number(version);
  if (!Number.isSafeInteger(jobVersion)) return undefined;
  return { jobId, allocId, jobVersion, nodeId };
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Shell convention for a signal death: 128 + the signal number. */
export function exitCodeOfSignal(signal: string | number): number {
  return 128 + (typeof signal === 'number' ? signal : (signalNumbers[signal] ?? 0));
}
