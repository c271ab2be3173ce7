import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { type Clock, realClock } from '../../core/clock.ts';
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
import { exitCodeOfSignal, parseTaskLabels, taskLabelMap } from '../driver.ts';
import { OutputTail } from './output-tail.ts';
import { probeHostPort } from './port-probe.ts';
import { isSameLiveProcess, readProcStat } from './proc.ts';
import { RingBuffer } from './ring-buffer.ts';
import {
  type ExecTaskRecord,
  listRecordNames,
  readRecord,
  statePath,
  writeRecord,
} from './state-file.ts';
import { sampleGroupStats } from './stats.ts';

export interface ExecDriverOptions {
  nodeId: string;
  /** Where state files and output files live; the same directory after an agent restart. */
  stateDir: string;
  clock?: Clock;
  logger?: Logger;
}

interface LiveTask {
  record: ExecTaskRecord;
  /** Present only when this driver instance spawned the process. */
  child?: Subprocess;
  tails: { stdout: OutputTail; stderr: OutputTail };
  ring: RingBuffer<LogLine>;
  followers: Set<AsyncQueue<LogLine>>;
  exited: boolean;
}

/** SIGKILL is not ignorable; a group still alive this long after it is a kernel problem. */
const killWaitMs = 5_000;

/**
 * Runs tasks as plain processes, each the leader of its own process group (`detached`),
 * so a stop signals the whole tree. A state file per task (pid, /proc start time, labels)
 * lets a new driver instance — after an agent restart — adopt tasks still running.
 * Not enforced here: CPU and memory limits (no cgroups) and volumes (refused); OOM events
 * never occur.
 */
export class ExecDriver implements TaskDriver {
  readonly name = 'exec' as const;
  #nodeId: string;
  #dir: string;
  #clock: Clock;
  #log: Logger;
  #tasks = new Map<string, LiveTask>();
  #starting = new Set<string>();
  #listeners = new Set<AsyncQueue<TaskEvent>>();
  #poller: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: ExecDriverOptions) {
    this.#nodeId = options.nodeId;
    this.#dir = options.stateDir;
    this.#clock = options.clock ?? realClock;
    this.#log = (options.logger ?? silentLogger).child({ driver: 'exec', node: options.nodeId });
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  async start(task: TaskSpec): Promise<TaskHandle> {
    validateExecTask(task, this.#nodeId);
    if (this.#starting.has(task.name) || readRecord(this.#dir, task.name)) {
      throw new BerthError('name_conflict', `task name ${task.name} is taken`, { name: task.name });
    }
    this.#starting.add(task.name);
    try {
      await this.#checkPorts(task);
      const live = this.#spawn(task);
      this.#tasks.set(task.name, live);
      this.#emit({ allocId: task.allocId, kind: 'started' });
      this.#log.info('task started', {
        alloc: task.allocId,
        job: task.jobId,
        pid: live.record.pid,
      });
      return { driver: 'exec', id: task.name, allocId: task.allocId };
    } finally {
      this.#starting.delete(task.name);
    }
  }

  async stop(handle: TaskHandle, options: { timeoutMs: number }): Promise<void> {
    const live = this.#live(handle);
    if (!this.#isRunning(live)) return;
    const timeoutMs = Math.min(Math.max(0, options.timeoutMs), limits.driverStopTimeoutMsMax);
    signalGroup(live.record.pid, 'SIGTERM');
    let killed = false;
    if (!(await this.#waitExit(live, timeoutMs))) {
      this.#log.info('task ignored SIGTERM; killing', { alloc: handle.allocId });
      signalGroup(live.record.pid, 'SIGKILL');
      killed = true;
      if (!(await this.#waitExit(live, killWaitMs))) {
        throw new BerthError('driver_error', 'task survived SIGKILL', { alloc: handle.allocId });
      }
    }
    // The leader is gone; anything it left behind in its group goes with it.
    signalGroup(live.record.pid, 'SIGKILL');
    // An adopted task is not our child, so its exit status is unknowable, except that a
    // task we had to SIGKILL died of it.
    if (!live.child) this.#markExited(live, killed ? exitCodeOfSignal('SIGKILL') : undefined);
  }

  async remove(handle: TaskHandle): Promise<void> {
    const live = this.#tasks.get(handle.id) ?? this.#adopt(handle.id);
    if (!live) return;
    if (this.#isRunning(live)) await this.stop(handle, { timeoutMs: 0 });
    this.#markExited(live, live.record.exitCode);
    this.#tasks.delete(handle.id);
    for (const path of [statePath(this.#dir, handle.id), ...this.#outputPaths(handle.id)]) {
      rmSync(path, { force: true });
    }
  }

  async inspect(handle: TaskHandle): Promise<TaskStatus> {
    return this.#statusOf(this.#live(handle));
  }

  async list(options: { all?: boolean } = {}): Promise<ListedTask[]> {
    const tasks: ListedTask[] = [];
    for (const name of listRecordNames(this.#dir, limits.driverListTasksMax)) {
      const live = this.#tasks.get(name) ?? this.#adopt(name);
      const labels = live && parseTaskLabels(live.record.labels);
      if (!live || !labels || labels.nodeId !== this.#nodeId) continue;
      const status = this.#statusOf(live);
      if (status.state !== 'running' && !options.all) continue;
      const handle: TaskHandle = { driver: 'exec', id: name, allocId: labels.allocId };
      tasks.push({ ...status, handle, name, labels });
    }
    return tasks;
  }

  async *logs(handle: TaskHandle, options: LogOptions): AsyncGenerator<LogLine> {
    const live = this.#live(handle);
    this.#pollOutput(live);
    // Subscribe before taking the snapshot: both happen in this same synchronous turn,
    // so no line falls between the history and the followed stream.
    const queue = new AsyncQueue<LogLine>(limits.driverStreamQueueMax);
    const follow = options.follow && !live.exited;
    if (follow) live.followers.add(queue);
    const since = options.sinceMs;
    let history = live.ring.toArray().filter((line) => since === undefined || line.atMs >= since);
    if (options.tail !== undefined)
      history = history.slice(Math.max(0, history.length - options.tail));
    yield* history;
    if (!follow) return;
    const onAbort = () => queue.close();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      yield* queue.drain();
    } finally {
      live.followers.delete(queue);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async stats(handle: TaskHandle): Promise<TaskStats> {
    const live = this.#live(handle);
    if (!this.#isRunning(live)) return { cpuPercent: 0, memoryBytes: 0 };
    return sampleGroupStats(live.record.pid, this.#clock);
  }

  async events(signal: AbortSignal): Promise<AsyncIterable<TaskEvent>> {
    const queue = new AsyncQueue<TaskEvent>(limits.driverStreamQueueMax);
    this.#listeners.add(queue);
    const end = () => {
      queue.close();
      this.#listeners.delete(queue);
    };
    if (signal.aborted) end();
    signal.addEventListener('abort', end, { once: true });
    return queue.drain();
  }

  /** Stops watching (as an agent that exits would); running tasks are left running. */
  close(): void {
    this.#closed = true;
    if (this.#poller) clearInterval(this.#poller);
    this.#poller = undefined;
    for (const live of this.#tasks.values()) for (const q of live.followers) q.close();
    for (const queue of this.#listeners) queue.close();
    this.#tasks.clear();
  }

  #spawn(task: TaskSpec): LiveTask {
    const [stdoutPath, stderrPath] = this.#outputPaths(task.name);
    const stdoutFd = openSync(stdoutPath!, 'w', 0o600);
    const stderrFd = openSync(stderrPath!, 'w', 0o600);
    let child: Subprocess;
    try {
      child = Bun.spawn({
        cmd: task.command,
        cwd: task.workdir,
        env: execEnvironment(task),
        stdin: 'ignore',
        stdout: stdoutFd,
        stderr: stderrFd,
        detached: true,
      });
    } catch (error) {
      rmSync(stdoutPath!, { force: true });
      rmSync(stderrPath!, { force: true });
      throw new BerthError('invalid_task', `cannot start ${task.command[0]}`, {
        cause: String(error),
      });
    } finally {
      closeSync(stdoutFd);
      closeSync(stderrFd);
    }
    const record: ExecTaskRecord = {
      name: task.name,
      pid: child.pid,
      startTicks: readProcStat(child.pid)?.startTicks ?? 0,
      startedAtMs: this.#clock.wallMs(),
      labels: taskLabelMap(task),
      hostAddress: task.hostAddress,
      hostPorts: Object.values(task.ports).map((port) => port.host),
    };
    writeRecord(this.#dir, record);
    const live = this.#newLive(record, true);
    live.child = child;
    void child.exited.then(() => {
      const code = child.exitCode ?? exitCodeOfSignal(child.signalCode ?? 'SIGKILL');
      this.#markExited(live, code);
    });
    this.#ensurePolling();
    return live;
  }

  #newLive(record: ExecTaskRecord, fromStart: boolean): LiveTask {
    const [stdoutPath, stderrPath] = this.#outputPaths(record.name);
    return {
      record,
      tails: {
        stdout: new OutputTail(stdoutPath!, fromStart),
        stderr: new OutputTail(stderrPath!, fromStart),
      },
      ring: new RingBuffer<LogLine>(limits.execLogRingLinesMax),
      followers: new Set(),
      exited: record.exitCode !== undefined,
    };
  }

  /** A task this instance knows, or one adopted from its state file; else task_not_found. */
  #live(handle: TaskHandle): LiveTask {
    const live = this.#tasks.get(handle.id) ?? this.#adopt(handle.id);
    if (!live) throw new BerthError('task_not_found', `no exec task ${handle.id}`);
    return live;
  }

  /**
   * Adopts a task from its state file. The output files are read from the start, so the
   * adopting driver still serves the logs written before the restart (bounded by the ring).
   */
  #adopt(name: string): LiveTask | undefined {
    const record = readRecord(this.#dir, name);
    if (!record) return undefined;
    const live = this.#newLive(record, true);
    if (!live.exited && !isSameLiveProcess(record.pid, record.startTicks)) live.exited = true;
    this.#tasks.set(name, live);
    if (!live.exited) this.#log.info('task adopted', { alloc: record.labels['berth.alloc'] });
    this.#ensurePolling();
    return live;
  }

  #isRunning(live: LiveTask): boolean {
    return !live.exited && isSameLiveProcess(live.record.pid, live.record.startTicks);
  }

  #statusOf(live: LiveTask): TaskStatus {
    const base = { startedAtMs: live.record.startedAtMs, pid: live.record.pid };
    if (this.#isRunning(live)) return { state: 'running', ...base };
    const code = live.record.exitCode;
    return code === undefined
      ? { state: 'exited', ...base }
      : { state: 'exited', exitCode: code, ...base };
  }

  async #waitExit(live: LiveTask, timeoutMs: number): Promise<boolean> {
    const deadlineMs = this.#clock.nowMs() + timeoutMs;
    for (;;) {
      if (!this.#isRunning(live)) {
        // Our own child: wait for Bun to reap it, so the exit code is recorded first.
        if (live.child) await live.child.exited;
        return true;
      }
      if (this.#clock.nowMs() >= deadlineMs) return false;
      await Bun.sleep(limits.driverExitPollMs);
    }
  }

  #markExited(live: LiveTask, exitCode: number | undefined): void {
    if (live.exited || this.#closed) return;
    live.exited = true;
    this.#pollOutput(live);
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const line of live.tails[stream].flush()) this.#addLine(live, stream, line);
    }
    if (exitCode !== undefined) live.record = { ...live.record, exitCode };
    if (readRecord(this.#dir, live.record.name)) writeRecord(this.#dir, live.record);
    for (const queue of live.followers) queue.close();
    const allocId = live.record.labels['berth.alloc'] ?? '';
    this.#emit(
      exitCode === undefined ? { allocId, kind: 'exited' } : { allocId, kind: 'exited', exitCode },
    );
  }

  #ensurePolling(): void {
    if (this.#poller || this.#closed) return;
    this.#poller = setInterval(() => this.#pollAll(), limits.execPollIntervalMs);
    this.#poller.unref?.();
  }

  #pollAll(): void {
    for (const live of this.#tasks.values()) {
      if (live.exited) continue;
      this.#pollOutput(live);
      // Adopted tasks are not our children: notice their end by looking at /proc.
      if (!live.child && !isSameLiveProcess(live.record.pid, live.record.startTicks)) {
        this.#markExited(live, undefined);
      }
    }
  }

  #pollOutput(live: LiveTask): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const line of live.tails[stream].poll()) this.#addLine(live, stream, line);
    }
  }

  #addLine(live: LiveTask, stream: 'stdout' | 'stderr', line: string): void {
    const entry: LogLine = { stream, line, atMs: this.#clock.wallMs() };
    live.ring.push(entry);
    for (const queue of live.followers) queue.push(entry);
  }

  #emit(event: TaskEvent): void {
    if (this.#closed) return;
    for (const queue of this.#listeners) queue.push(event);
  }

  async #checkPorts(task: TaskSpec): Promise<void> {
    // Every recorded task counts, adopted yet or not: one may hold a port it has not bound.
    const known = listRecordNames(this.#dir, limits.driverListTasksMax)
      .map((name) => this.#tasks.get(name) ?? this.#adopt(name))
      .filter((live): live is LiveTask => live !== undefined && this.#isRunning(live));
    for (const port of Object.values(task.ports)) {
      const holder = known.find((live) => live.record.hostPorts.includes(port.host));
      if (holder || !(await probeHostPort(task.hostAddress, port.host))) {
        throw new BerthError('port_in_use', `host port ${port.host} is in use`, {
          port: port.host,
          holder: holder?.record.name,
        });
      }
    }
  }

  #outputPaths(name: string): [string, string] {
    return [join(this.#dir, `${name}.stdout.log`), join(this.#dir, `${name}.stderr.log`)];
  }
}

function validateExecTask(task: TaskSpec, nodeId: string): void {
  const problem =
    task.image !== undefined
      ? 'the exec driver runs commands, not images'
      : task.command.length === 0
        ? 'an exec task needs a command'
        : task.volumes.length > 0
          ? 'the exec driver does not mount volumes'
          : task.nodeId !== nodeId
            ? 'task belongs to another node'
            : !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(task.name)
              ? 'task name must be a plain file name'
              : undefined;
  if (problem) throw new BerthError('invalid_task', problem, { alloc: task.allocId });
}

/**
 * The task's environment: only PATH is inherited from the agent (the agent's own
 * environment may hold credentials); ports are announced as BERTH_PORT_<LABEL>.
 */
function execEnvironment(task: TaskSpec): Record<string, string> {
  const ports: Record<string, string> = {};
  for (const [label, port] of Object.entries(task.ports)) {
    ports[`BERTH_PORT_${label.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(port.host);
  }
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    BERTH_ALLOC_ID: task.allocId,
    BERTH_HOST_ADDRESS: task.hostAddress,
    ...ports,
    ...task.env,
    ...task.secretEnv,
  };
}

/** Signals a whole process group; a group already gone is not an error. */
function signalGroup(pgid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
