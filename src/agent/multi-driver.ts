/**
 * One TaskDriver over the drivers a node has: tasks with an image go to Docker, tasks
 * with a command to the exec driver. Lists and event streams are merged, so the
 * supervisor adopts and watches both kinds the same way. A node without Docker still
 * runs exec jobs; a Docker job placed there fails to start with `driver_unavailable`.
 */
import { BerthError } from '../core/errors.ts';
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
} from '../drivers/driver.ts';

export class MultiDriver implements TaskDriver {
  readonly name = 'exec' as const;
  readonly #exec: TaskDriver;
  readonly #docker: TaskDriver | undefined;

  constructor(exec: TaskDriver, docker: TaskDriver | undefined) {
    this.#exec = exec;
    this.#docker = docker;
  }

  get hasDocker(): boolean {
    return this.#docker !== undefined;
  }

  #for(kind: 'docker' | 'exec'): TaskDriver {
    if (kind === 'exec') return this.#exec;
    if (!this.#docker) {
      throw new BerthError(
        'driver_unavailable',
        'this node has no Docker Engine; Docker jobs cannot run here',
      );
    }
    return this.#docker;
  }

  start(task: TaskSpec): Promise<TaskHandle> {
    return this.#for(task.image ? 'docker' : 'exec').start(task);
  }

  stop(handle: TaskHandle, options: { timeoutMs: number }): Promise<void> {
    return this.#for(handle.driver).stop(handle, options);
  }

  remove(handle: TaskHandle): Promise<void> {
    return this.#for(handle.driver).remove(handle);
  }

  inspect(handle: TaskHandle): Promise<TaskStatus> {
    return this.#for(handle.driver).inspect(handle);
  }

  async list(options?: { all?: boolean }): Promise<ListedTask[]> {
    const lists = await Promise.all(
      [this.#exec, ...(this.#docker ? [this.#docker] : [])].map((d) => d.list(options)),
    );
    return lists.flat();
  }

  logs(handle: TaskHandle, options: LogOptions): AsyncIterable<LogLine> {
    return this.#for(handle.driver).logs(handle, options);
  }

  stats(handle: TaskHandle): Promise<TaskStats> {
    return this.#for(handle.driver).stats(handle);
  }

  async events(signal: AbortSignal): Promise<AsyncIterable<TaskEvent>> {
    const sources = await Promise.all(
      [this.#exec, ...(this.#docker ? [this.#docker] : [])].map((d) => d.events(signal)),
    );
    return merge(sources);
  }
}

/** Interleaves several async iterables as their items arrive. */
async function* merge<T>(sources: AsyncIterable<T>[]): AsyncIterable<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const pull = (i: number) =>
    pending.set(
      i,
      iterators[i]!.next().then((r) => ({ i, r })),
    );
  for (let i = 0; i < iterators.length; i++) pull(i);
  while (pending.size > 0) {
    const { i, r } = await Promise.race(pending.values());
    if (r.done) {
      pending.delete(i);
      continue;
    }
    pull(i);
    yield r.value;
  }
}
