/**
 * The task-driver contract suite: every TaskDriver (Docker, exec) runs these same tests
 * against the real thing, so the container supervisor can rely on one behaviour.
 * Every wait is bounded in time; no assertion is about how long something took.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { BerthError } from '../../src/core/errors.ts';
import { createLogger, type Logger } from '../../src/core/logger.ts';
import type {
  LogLine,
  TaskDriver,
  TaskEvent,
  TaskHandle,
  TaskSpec,
} from '../../src/drivers/driver.ts';

export { freePort } from '../../src/core/ports-testing.ts';

import { freePort } from '../../src/core/ports-testing.ts';

/** What each driver's test file provides to the suite. */
export interface DriverFixture {
  /** A new driver instance on the same node and storage, as after an agent restart. */
  newDriver(logger?: Logger): Promise<TaskDriver>;
  nodeId: string;
  /** Spec fields every task of this driver needs (the image for Docker). */
  base: Partial<TaskSpec>;
  /** A task serving HTTP 200 on `hostPort` of 127.0.0.1 once published. */
  httpServer(hostPort: number): Pick<TaskSpec, 'command' | 'ports'>;
  /** Everything the driver itself stored about a task (Docker labels, exec state file). */
  rawMetadata(handle: TaskHandle): Promise<string>;
}

export const waitBoundMs = 15_000;
const testTimeoutMs = 60_000;
let sequence = 0;

/** Polls `check` until it returns a value other than undefined, at most `boundMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  boundMs = waitBoundMs,
): Promise<T> {
  const deadline = performance.now() + boundMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

async function httpOk(port: number): Promise<true | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200 ? true : undefined;
  } catch {
    return undefined;
  }
}

/** Collects from an async iterable until `done` says so, aborting after `boundMs`. */
async function collect<T>(
  iterable: (signal: AbortSignal) => AsyncIterable<T>,
  done: (items: T[]) => boolean,
  boundMs = waitBoundMs,
): Promise<T[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), boundMs);
  const items: T[] = [];
  try {
    for await (const item of iterable(controller.signal)) {
      items.push(item);
      if (done(items)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return items;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BerthError) return error.code;
    throw error;
  }
  return 'no error';
}

export function runDriverContract(label: string, setup: () => Promise<DriverFixture>): void {
  describe(`task driver contract: ${label}`, () => {
    let fixture: DriverFixture;
    let driver: TaskDriver;
    const started: TaskHandle[] = [];

    const spec = (overrides: Partial<TaskSpec>): TaskSpec => {
      sequence += 1;
      const allocId = `alloc-${process.pid}-${sequence}`;
      return {
        allocId,
        jobId: 'job-contract',
        jobVersion: 3,
        nodeId: fixture.nodeId,
        name: `berth-contract-${process.pid}-${sequence}`,
        command: [],
        env: {},
        secretEnv: {},
        ports: {},
        volumes: [],
        resources: { cpuMhz: 500, memoryMb: 64 },
        hostAddress: '127.0.0.1',
        ...fixture.base,
        ...overrides,
      };
    };
    const start = async (overrides: Partial<TaskSpec>, on = driver) => {
      const handle = await on.start(spec(overrides));
      started.push(handle);
      return handle;
    };
    const shell = (script: string) => ['sh', '-c', script];
    const exited = (on: TaskDriver, handle: TaskHandle) =>
      waitFor('task exit', async () => {
        const status = await on.inspect(handle);
        return status.state === 'exited' ? status : undefined;
      });

    beforeAll(async () => {
      fixture = await setup();
      driver = await fixture.newDriver();
    });
    // Tasks are removed at the end; one whose task would disturb later tests removes it itself.
    afterAll(async () => {
      for (const handle of started.splice(0)) await driver.remove(handle);
      (driver as { close?: () => void }).close?.();
    });

    test(
      'starts a task whose HTTP server answers on the published port, labelled with its identity',
      async () => {
        // Proves start, port publishing on the node address, and the identity labels.
        const port = freePort();
        const handle = await start(fixture.httpServer(port));
        expect(handle.allocId).toMatch(/^alloc-/);
        await waitFor('HTTP 200 on the published port', () => httpOk(port));
        const status = await driver.inspect(handle);
        expect(status.state).toBe('running');
        expect(status.startedAtMs).toBeGreaterThan(0);
        const listed = (await driver.list()).find((t) => t.handle.id === handle.id);
        expect(listed?.labels).toEqual({
          jobId: 'job-contract',
          allocId: handle.allocId,
          jobVersion: 3,
          nodeId: fixture.nodeId,
        });
      },
      testTimeoutMs,
    );

    test(
      'stop sends SIGTERM and a task that handles it exits with 143',
      async () => {
        // Proves a graceful stop: SIGTERM ends a well-behaved task before any SIGKILL.
        const port = freePort();
        const handle = await start(fixture.httpServer(port));
        await waitFor('HTTP 200', () => httpOk(port));
        await driver.stop(handle, { timeoutMs: 10_000 });
        const status = await driver.inspect(handle);
        expect(status.state).toBe('exited');
        expect(status.exitCode).toBe(143);
        expect(await httpOk(port)).toBeUndefined();
      },
      testTimeoutMs,
    );

    test(
      'stop escalates to SIGKILL when a task ignores SIGTERM, and remove forgets it',
      async () => {
        // Proves SIGKILL after the timeout (exit 137), then that remove deletes the task.
        const handle = await start({
          command: shell('trap "" TERM; echo ready; while true; do sleep 1; done'),
        });
        await waitFor('ready line', async () => {
          const lines = await collect(
            (s) => driver.logs(handle, { follow: false, signal: s }),
            () => false,
          );
          return lines.some((l) => l.line === 'ready') ? true : undefined;
        });
        await driver.stop(handle, { timeoutMs: 300 });
        const status = await driver.inspect(handle);
        expect(status).toMatchObject({ state: 'exited', exitCode: 137 });
        await driver.remove(handle);
        expect(await codeOf(driver.inspect(handle))).toBe('task_not_found');
        expect((await driver.list({ all: true })).some((t) => t.handle.id === handle.id)).toBe(
          false,
        );
        await driver.remove(handle); // removing twice is not an error
      },
      testTimeoutMs,
    );

    test(
      'logs keep stdout and stderr apart and honour tail',
      async () => {
        // Proves stream separation, line order within a stream, and `tail`.
        const handle = await start({
          command: shell(
            'echo err1 >&2; echo err2 >&2; sleep 0.5; echo out1; echo out2; echo out3',
          ),
        });
        await exited(driver, handle);
        const all = await waitFor('all five lines', async () => {
          const lines = await collect(
            (s) => driver.logs(handle, { follow: false, signal: s }),
            () => false,
          );
          return lines.length >= 5 ? lines : undefined;
        });
        const text = (lines: LogLine[], stream: string) =>
          lines.filter((l) => l.stream === stream).map((l) => l.line);
        expect(text(all, 'stdout')).toEqual(['out1', 'out2', 'out3']);
        expect(text(all, 'stderr')).toEqual(['err1', 'err2']);
        expect(all.every((l) => l.atMs > 0)).toBe(true);
        const tail = await collect(
          (s) => driver.logs(handle, { follow: false, tail: 2, signal: s }),
          () => false,
        );
        expect(tail.map((l) => l.line)).toEqual(['out2', 'out3']);
      },
      testTimeoutMs,
    );

    test(
      'follow streams new lines as the task writes them',
      async () => {
        // Proves `follow`: lines written after the call arrive, in order, until aborted.
        const handle = await start({
          command: shell('i=0; while [ $i -lt 100 ]; do echo tick$i; i=$((i+1)); sleep 0.1; done'),
        });
        const lines = await collect(
          (s) => driver.logs(handle, { follow: true, tail: 0, signal: s }),
          (items) => items.length >= 4,
        );
        expect(lines.length).toBe(4);
        const numbers = lines.map((l) => Number(l.line.replace('tick', '')));
        for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe(numbers[i - 1]! + 1);
        expect(lines.every((l) => l.stream === 'stdout')).toBe(true);
      },
      testTimeoutMs,
    );

    test(
      'stats report CPU use and memory of a busy task',
      async () => {
        // Proves stats read real usage: a spinning task shows CPU above zero and some memory.
        const handle = await start({ command: shell('while true; do :; done') });
        await waitFor('running', async () =>
          (await driver.inspect(handle)).state === 'running' ? true : undefined,
        );
        const stats = await waitFor('nonzero CPU', async () => {
          const sample = await driver.stats(handle);
          return sample.cpuPercent > 0 ? sample : undefined;
        });
        await driver.remove(handle); // stop spinning before the next tests
        expect(stats.cpuPercent).toBeGreaterThan(0);
        expect(stats.memoryBytes).toBeGreaterThan(0);
      },
      testTimeoutMs,
    );

    test(
      'events report a task starting and exiting with its exit code',
      async () => {
        // Proves the event stream: `started` then `exited` with the code, keyed by allocation.
        const controller = new AbortController();
        const events: TaskEvent[] = [];
        const stream = await driver.events(controller.signal);
        const reader = (async () => {
          for await (const event of stream) events.push(event);
        })();
        const handle = await start({ command: shell('sleep 0.3; exit 3') });
        try {
          const mine = await waitFor('started and exited events', () => {
            const own = events.filter((e) => e.allocId === handle.allocId);
            return own.some((e) => e.kind === 'exited') ? own : undefined;
          });
          expect(mine.map((e) => e.kind)).toEqual(['started', 'exited']);
          expect(mine[1]?.exitCode).toBe(3);
        } finally {
          controller.abort();
          await reader.catch(() => {});
        }
      },
      testTimeoutMs,
    );

    test(
      'a new driver instance adopts a running task without restarting it',
      async () => {
        // Proves adoption after an agent restart: same id, pid and start time; still serving.
        const port = freePort();
        const handle = await start(fixture.httpServer(port));
        await waitFor('HTTP 200', () => httpOk(port));
        const before = await driver.inspect(handle);
        const restarted = await fixture.newDriver();
        try {
          const found = (await restarted.list()).find((t) => t.labels.allocId === handle.allocId);
          expect(found?.handle.id).toBe(handle.id);
          expect(found?.state).toBe('running');
          expect(found?.pid).toBe(before.pid);
          expect(found?.startedAtMs).toBe(before.startedAtMs);
          expect(await httpOk(port)).toBe(true);
          await restarted.stop(found!.handle, { timeoutMs: 10_000 });
          expect((await restarted.inspect(found!.handle)).state).toBe('exited');
          expect(await httpOk(port)).toBeUndefined();
        } finally {
          (restarted as { close?: () => void }).close?.();
        }
      },
      testTimeoutMs,
    );

    test(
      'an orphan (Berth labels, no owner) is listed and can be removed by a new instance',
      async () => {
        // Proves orphan detection: a fresh driver lists a task nobody asked it about, removes it.
        const handle = await start({ command: shell('sleep 60') });
        const restarted = await fixture.newDriver();
        try {
          const orphan = (await restarted.list()).find((t) => t.handle.id === handle.id);
          expect(orphan?.labels.jobId).toBe('job-contract');
          await restarted.remove(orphan!.handle);
          expect((await restarted.list({ all: true })).some((t) => t.handle.id === handle.id)).toBe(
            false,
          );
          expect(await codeOf(restarted.inspect(handle))).toBe('task_not_found');
        } finally {
          (restarted as { close?: () => void }).close?.();
        }
      },
      testTimeoutMs,
    );

    test(
      'a taken host port fails with port_in_use, and a taken name with name_conflict',
      async () => {
        // Proves the two retryable start failures are distinguishable by code.
        const port = freePort();
        const first = await start(fixture.httpServer(port));
        await waitFor('HTTP 200', () => httpOk(port));
        expect(await codeOf(start(fixture.httpServer(port)))).toBe('port_in_use');
        const outsider = freePort();
        const listener = Bun.listen({
          hostname: '127.0.0.1',
          port: outsider,
          socket: { data() {} },
        });
        try {
          expect(await codeOf(start(fixture.httpServer(outsider)))).toBe('port_in_use');
        } finally {
          listener.stop(true);
        }
        const inspectFirst = await driver.inspect(first);
        expect(inspectFirst.state).toBe('running');
        const named = spec({ command: shell('sleep 60') });
        started.push(await driver.start(named));
        expect(await codeOf(driver.start({ ...named, allocId: 'alloc-other' }))).toBe(
          'name_conflict',
        );
      },
      testTimeoutMs,
    );

    test(
      'secrets reach the task but never its labels, inspect output, logs or driver logs',
      async () => {
        // Proves secret hygiene: delivered as environment, absent everywhere Berth records.
        const secret = `s3cr3t-${crypto.randomUUID()}`;
        const logged: string[] = [];
        const logger = createLogger({ level: 'debug', sink: (line) => logged.push(line) });
        const watched = await fixture.newDriver(logger);
        try {
          const handle = await start(
            {
              // The task prints only the length, proving delivery without revealing the value.
              // (Split so the linter does not read it as a JS template placeholder.)
              command: shell('echo "len=$' + '{#BERTH_SECRET}"; sleep 60'),
              env: { PLAIN: 'visible' },
              secretEnv: { BERTH_SECRET: secret },
            },
            watched,
          );
          const lines = await waitFor('the length line', async () => {
            const got = await collect(
              (s) => watched.logs(handle, { follow: false, signal: s }),
              () => false,
            );
            return got.length > 0 ? got : undefined;
          });
          expect(lines.map((l) => l.line)).toEqual([`len=${secret.length}`]);
          const records = [
            await fixture.rawMetadata(handle),
            JSON.stringify(await watched.inspect(handle)),
            JSON.stringify(await watched.list({ all: true })),
            JSON.stringify(lines),
            logged.join('\n'),
          ];
          expect(logged.length).toBeGreaterThan(0);
          for (const record of records) expect(record).not.toContain(secret);
          await watched.remove(handle);
        } finally {
          (watched as { close?: () => void }).close?.();
        }
      },
      testTimeoutMs,
    );
  });
}
