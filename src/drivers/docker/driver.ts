import { realClock } from '../../core/clock.ts';
import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import { type Logger, silentLogger } from '../../core/logger.ts';
import { AsyncQueue } from '../async-queue.ts';
import type {
  ListedTask,
  LogLine,
  LogOptions,
  TaskDriver,
  TaskEvent,
  TaskHandle,
  TaskSpec,
  TaskStats,
  TaskStatus,
} from '../driver.ts';
import { labelKeys, parseTaskLabels } from '../driver.ts';
import { DockerClient } from './client.ts';
import { clusterLabelKey, containerCreateBody } from './container-spec.ts';
import { readJsonLines } from './json-lines.ts';
import { DockerLogDemuxer, parseRfc3339Ms } from './log-stream.ts';
import { registryAuthHeader, splitImageReference } from './registry-auth.ts';
import {
  ContainerInspectSchema,
  ContainerListSchema,
  CreatedSchema,
  EventSchema,
  PullProgressSchema,
  StatsSchema,
} from './schemas.ts';
import { cpuPercentOf, memoryBytesOf } from './stats.ts';

export interface DockerDriverOptions {
  nodeId: string;
  /** See `ContainerSpecOptions.cluster`: scopes list, events and adoption to one cluster. */
  cluster?: string;
  socketPath?: string;
  /** The bridge network every task joins; created on first use. */
  networkName?: string;
  /** See `ContainerSpecOptions.cpuMhzPerCore`. */
  cpuMhzPerCore?: number;
  /** `never` refuses absent images with image_not_found instead of pulling. */
  pullPolicy?: 'if-missing' | 'never';
  logger?: Logger;
}

/**
 * Runs tasks as Docker containers. Containers carry the `berth.*` identity labels, so a
 * restarted agent finds (adopts) its containers with `list()` rather than recreating them.
 */
export class DockerDriver implements TaskDriver {
  readonly name = 'docker' as const;
  readonly client: DockerClient;
  #nodeId: string;
  #cluster: string | undefined;
  #networkName: string;
  #cpuMhzPerCore: number;
  #pullPolicy: 'if-missing' | 'never';
  #log: Logger;
  #networkReady = false;

  private constructor(client: DockerClient, options: DockerDriverOptions) {
    this.client = client;
    this.#nodeId = options.nodeId;
    this.#cluster = options.cluster;
    this.#networkName = options.networkName ?? 'berth';
    this.#cpuMhzPerCore = options.cpuMhzPerCore ?? 1000;
    this.#pullPolicy = options.pullPolicy ?? 'if-missing';
    this.#log = (options.logger ?? silentLogger).child({ driver: 'docker', node: options.nodeId });
  }

  /** Connects (negotiating the API version); throws driver_unavailable without Docker. */
  static async connect(options: DockerDriverOptions): Promise<DockerDriver> {
    const client = new DockerClient(options.socketPath);
    await client.connect();
    return new DockerDriver(client, options);
  }

  async start(task: TaskSpec): Promise<TaskHandle> {
    if (!task.image) throw new BerthError('invalid_task', 'a Docker task needs an image');
    if (task.nodeId !== this.#nodeId) {
      throw new BerthError('invalid_task', 'task belongs to another node', { node: task.nodeId });
    }
    await this.#ensureImage(task.image, task);
    await this.#ensureNetwork();
    const body = containerCreateBody(task, {
      networkName: this.#networkName,
      cpuMhzPerCore: this.#cpuMhzPerCore,
      ...(this.#cluster !== undefined ? { cluster: this.#cluster } : {}),
    });
    const created = await this.client.json('POST', '/containers/create', CreatedSchema, {
      query: { name: task.name },
      body,
      codes: { 400: 'invalid_task', 404: 'image_not_found', 409: 'name_conflict' },
    });
    try {
      await this.client.call('POST', `/containers/${created.Id}/start`);
    } catch (error) {
      // A failed start leaves a created container holding the name; remove it so a retry
      // (after the port frees) does not meet a name conflict of its own making.
      await this.#forceRemove(created.Id);
      throw mapStartError(error);
    }
    this.#log.info('task started', { alloc: task.allocId, job: task.jobId, container: created.Id });
    return { driver: 'docker', id: created.Id, allocId: task.allocId };
  }

  async stop(handle: TaskHandle, options: { timeoutMs: number }): Promise<void> {
    const timeoutMs = Math.min(Math.max(0, options.timeoutMs), limits.driverStopTimeoutMsMax);
    if (!(await this.#signal(handle.id, 'SIGTERM'))) return;
    const grace = AbortSignal.timeout(Math.max(1, timeoutMs));
    try {
      await this.#waitNotRunning(handle.id, grace);
      return;
    } catch (error) {
      if (!grace.aborted) throw error;
    }
    this.#log.info('task ignored SIGTERM; killing', { alloc: handle.allocId });
    if (!(await this.#signal(handle.id, 'SIGKILL'))) return;
    await this.#waitNotRunning(handle.id, AbortSignal.timeout(limits.dockerRequestTimeoutMs));
  }

  async remove(handle: TaskHandle): Promise<void> {
    await this.#forceRemove(handle.id);
  }

  /** Label filters matching this node's containers, in this cluster only. */
  #ownLabels(): string[] {
    const own = [`${labelKeys.node}=${this.#nodeId}`];
    if (this.#cluster !== undefined) own.push(`${clusterLabelKey}=${this.#cluster}`);
    return own;
  }

  async inspect(handle: TaskHandle): Promise<TaskStatus> {
    const info = await this.client.json(
      'GET',
      `/containers/${handle.id}/json`,
      ContainerInspectSchema,
      { codes: { 404: 'task_not_found' } },
    );
    return statusOf(info.State);
  }

  async list(options: { all?: boolean } = {}): Promise<ListedTask[]> {
    const filters = JSON.stringify({ label: this.#ownLabels() });
    const rows = await this.client.json('GET', '/containers/json', ContainerListSchema, {
      query: { all: options.all ?? false, filters },
    });
    const tasks: ListedTask[] = [];
    for (const row of rows.slice(0, limits.driverListTasksMax)) {
      const labels = parseTaskLabels(row.Labels ?? {});
      if (!labels) continue;
      const handle: TaskHandle = { driver: 'docker', id: row.Id, allocId: labels.allocId };
      try {
        const status = await this.inspect(handle);
        const name = (row.Names[0] ?? '').replace(/^\//, '');
        tasks.push({ ...status, handle, name, labels });
      } catch (error) {
        // Removed between the list and the inspect: simply no longer there.
        if (!(error instanceof BerthError && error.code === 'task_not_found')) throw error;
      }
    }
    return tasks;
  }

  async *logs(handle: TaskHandle, options: LogOptions): AsyncGenerator<LogLine> {
    const res = await this.client.call('GET', `/containers/${handle.id}/logs`, {
      query: {
        stdout: true,
        stderr: true,
        timestamps: true,
        follow: options.follow,
        tail: options.tail === undefined ? 'all' : Math.max(0, Math.floor(options.tail)),
        since: options.sinceMs === undefined ? undefined : dockerSince(options.sinceMs),
      },
      codes: { 404: 'task_not_found' },
      signal: options.follow ? (options.signal ?? new AbortController().signal) : undefined,
    });
    if (!res.body) return;
    const demuxer = new DockerLogDemuxer();
    const keep = (line: LogLine) => options.sinceMs === undefined || line.atMs >= options.sinceMs;
    try {
      for await (const chunk of res.body) {
        for (const line of demuxer.push(chunk)) if (keep(line)) yield line;
      }
    } catch (error) {
      if (!options.signal?.aborted) throw error;
    }
    for (const line of demuxer.end()) if (keep(line)) yield line;
  }

  async stats(handle: TaskHandle): Promise<TaskStats> {
    const stats = await this.client.json('GET', `/containers/${handle.id}/stats`, StatsSchema, {
      query: { stream: false },
      codes: { 404: 'task_not_found' },
    });
    return { cpuPercent: cpuPercentOf(stats), memoryBytes: memoryBytesOf(stats) };
  }

  async events(signal: AbortSignal): Promise<AsyncIterable<TaskEvent>> {
    const filters = JSON.stringify({
      type: ['container'],
      event: ['start', 'die', 'oom'],
      label: this.#ownLabels(),
    });
    // Docker sends the response headers just before it subscribes; asking for events
    // `since` the call makes it replay anything that fell into that gap.
    const since = dockerSince(realClock.wallMs());
    const res = await this.client.call('GET', '/events', { query: { filters, since }, signal });
    const queue = new AsyncQueue<TaskEvent>(limits.driverStreamQueueMax);
    signal.addEventListener('abort', () => queue.close(), { once: true });
    void this.#pumpEvents(res, queue, signal);
    return queue.drain();
  }

  async #pumpEvents(res: Response, queue: AsyncQueue<TaskEvent>, signal: AbortSignal) {
    try {
      if (res.body) {
        for await (const raw of readJsonLines(res.body, limits.driverLogLineBytesMax)) {
          const event = taskEventOf(raw);
          if (event) queue.push(event);
        }
      }
    } catch (error) {
      if (!signal.aborted) this.#log.warn('event stream failed', { error: String(error) });
    }
    queue.close();
  }

  async #ensureImage(image: string, task: TaskSpec): Promise<void> {
    try {
      await this.client.call('GET', `/images/${image}/json`, {
        codes: { 404: 'image_not_found' },
      });
      return;
    } catch (error) {
      if (!(error instanceof BerthError && error.code === 'image_not_found')) throw error;
      if (this.#pullPolicy === 'never') throw error;
    }
    await this.pull(image, task.registryAuth);
  }

  /** Pulls an image, with registry credentials when given; throws image_pull_failed. */
  async pull(image: string, auth?: TaskSpec['registryAuth']): Promise<void> {
    const res = await this.client.call('POST', '/images/create', {
      query: splitImageReference(image),
      headers: auth ? { 'X-Registry-Auth': registryAuthHeader(auth) } : {},
      codes: { 404: 'image_not_found', 500: 'image_pull_failed' },
      signal: AbortSignal.timeout(limits.dockerPullTimeoutMs),
    });
    if (!res.body) return;
    for await (const raw of readJsonLines(res.body, limits.driverLogLineBytesMax)) {
      const progress = PullProgressSchema.safeParse(raw);
      if (progress.success && progress.data.error) {
        throw new BerthError('image_pull_failed', `pull of ${image} failed`, {
          dockerMessage: progress.data.error,
        });
      }
    }
  }

  async #ensureNetwork(): Promise<void> {
    if (this.#networkReady) return;
    try {
      await this.client.call('GET', `/networks/${this.#networkName}`, {
        codes: { 404: 'task_not_found' },
      });
    } catch (error) {
      if (!(error instanceof BerthError && error.code === 'task_not_found')) throw error;
      await this.#createNetwork();
    }
    this.#networkReady = true;
  }

  async #createNetwork(): Promise<void> {
    try {
      await this.client.call('POST', '/networks/create', {
        body: {
          Name: this.#networkName,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: { 'berth.managed': 'true' },
        },
        codes: { 409: 'name_conflict' },
      });
    } catch (error) {
      // Another agent call created it first: that is the state we wanted.
      if (!(error instanceof BerthError && error.code === 'name_conflict')) throw error;
    }
  }

  /** Sends a signal; false when the container is not running (nothing left to stop). */
  async #signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<boolean> {
    try {
      await this.client.call('POST', `/containers/${id}/kill`, {
        query: { signal },
        codes: { 404: 'task_not_found', 409: 'not_running' },
      });
      return true;
    } catch (error) {
      if (error instanceof BerthError && error.code === 'not_running') return false;
      throw error;
    }
  }

  async #waitNotRunning(id: string, signal: AbortSignal): Promise<void> {
    const res = await this.client.call('POST', `/containers/${id}/wait`, {
      query: { condition: 'not-running' },
      codes: { 404: 'task_not_found' },
      signal,
    });
    await res.arrayBuffer();
  }

  async #forceRemove(id: string): Promise<void> {
    try {
      await this.client.call('DELETE', `/containers/${id}`, {
        query: { force: true },
        codes: { 404: 'task_not_found', 409: 'removal_in_progress' },
      });
    } catch (error) {
      if (
        error instanceof BerthError &&
        ['task_not_found', 'removal_in_progress'].includes(error.code)
      ) {
        return;
      }
      throw error;
    }
  }
}

function statusOf(state: {
  Running: boolean;
  Pid: number;
  ExitCode: number;
  OOMKilled: boolean;
  StartedAt: string;
}): TaskStatus {
  const startedAtMs = parseRfc3339Ms(state.StartedAt) ?? 0;
  if (state.Running) return { state: 'running', pid: state.Pid, startedAtMs };
  return { state: 'exited', exitCode: state.ExitCode, oomKilled: state.OOMKilled, startedAtMs };
}

/**
 * Docker reports a taken host port only as text in a 500 on start ("port is already
 * allocated" when another container holds it, "address already in use" when another
 * process does). This is the one place Berth reads a message: Docker gives no code.
 */
function mapStartError(error: unknown): unknown {
  if (!(error instanceof BerthError)) return error;
  const message = String(error.details?.dockerMessage ?? '');
  if (/port is already allocated|address already in use/i.test(message)) {
    return new BerthError('port_in_use', 'a published host port is already in use', {
      dockerMessage: message,
    });
  }
  return error;
}

/** Docker's `since` is `seconds.nanoseconds`. */
function dockerSince(sinceMs: number): string {
  const seconds = Math.floor(sinceMs / 1000);
  const nanos = String((sinceMs - seconds * 1000) * 1_000_000).padStart(9, '0');
  return `${seconds}.${nanos}`;
}

function taskEventOf(raw: unknown): TaskEvent | undefined {
  const parsed = EventSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const attributes = parsed.data.Actor.Attributes ?? {};
  const allocId = attributes[labelKeys.alloc];
  if (!allocId) return undefined;
  switch (parsed.data.Action) {
    case 'start':
      return { allocId, kind: 'started' };
    case 'oom':
      return { allocId, kind: 'oom' };
    case 'die': {
      const exitCode = Number(attributes.exitCode);
      return Number.isInteger(exitCode)
        ? { allocId, kind: 'exited', exitCode }
        : { allocId, kind: 'exited' };
    }
    default:
      return undefined;
  }
}
