/**
 * The supervisor host's effect execution against an in-test fake driver, for the orderings
 * and failures a real driver cannot be made to show on demand: stop before remove before
 * the `complete` proposal, proposal retries, secrets at start, and exit events that belong
 * to an earlier task of the allocation. Every wait is bounded.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { DesiredAllocation } from '../../actors/container-supervisor/types.ts';
import { realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { silentLogger } from '../core/logger.ts';
import { AsyncQueue } from '../drivers/async-queue.ts';
import type {
  ListedTask,
  LogLine,
  TaskDriver,
  TaskEvent,
  TaskHandle,
  TaskSpec,
  TaskStatus,
} from '../drivers/driver.ts';
import { type StatusProposal, SupervisorHost, type SupervisorHostOptions } from './host.ts';

const nodeId = 'fake-node';

/** Records every call; tasks "run" until stopped; the test pushes events and log lines. */
class FakeDriver implements TaskDriver {
  readonly name = 'exec' as const;
  calls: string[] = [];
  started: TaskSpec[] = [];
  states = new Map<string, TaskStatus>();
  events$ = new AsyncQueue<TaskEvent>(100);
  lines = new AsyncQueue<LogLine>(100);
  startError: BerthError | undefined;

  async start(task: TaskSpec): Promise<TaskHandle> {
    this.calls.push(`start ${task.allocId}`);
    if (this.startError) throw this.startError;
    this.started.push(task);
    this.states.set(task.name, { state: 'running', startedAtMs: Date.now() });
    return { driver: 'exec', id: task.name, allocId: task.allocId };
  }
  async stop(handle: TaskHandle): Promise<void> {
    // A stop that takes a while: the remove and the proposal must still wait for it.
    await Bun.sleep(30);
    this.calls.push(`stop ${handle.id}`);
    this.states.set(handle.id, { state: 'exited', exitCode: 143, startedAtMs: 0 });
  }
  async remove(handle: TaskHandle): Promise<void> {
    this.calls.push(`remove ${handle.id}`);
    this.states.delete(handle.id);
  }
  async inspect(handle: TaskHandle): Promise<TaskStatus> {
    const status = this.states.get(handle.id);
    if (!status) throw new BerthError('task_not_found', `no task ${handle.id}`);
    return status;
  }
  async list(): Promise<ListedTask[]> {
    return [];
  }
  logs(): AsyncIterable<LogLine> {
    return this.lines.drain();
  }
  async stats() {
    return { cpuPercent: 0, memoryBytes: 0 };
  }
  async events(): Promise<AsyncIterable<TaskEvent>> {
    return this.events$.drain();
  }
}

function alloc(overrides: Partial<DesiredAllocation> = {}): DesiredAllocation {
  return {
    allocId: 'a1',
    jobId: 'job',
    jobVersion: 1,
    name: 'job.job[0]',
    jobType: 'service',
    desired: 'run',
    status: 'pending',
    task: {
      allocId: 'a1',
      jobId: 'job',
      jobVersion: 1,
      nodeId,
      name: 'task-a1',
      command: ['server'],
      env: { MODE: 'x' },
      ports: {},
      volumes: [],
      resources: { cpuMhz: 10, memoryMb: 10 },
      hostAddress: '127.0.0.1',
    },
    checkIntervalMs: 1_000,
    checkTimeoutMs: 1_000,
    checkGraceMs: 0,
    restart: { attempts: 3, intervalMs: 60_000, delayMs: 0, mode: 'fail' },
    stopTimeoutMs: 1_000,
    ...overrides,
  };
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

let host: SupervisorHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

function setUp(propose: SupervisorHostOptions['propose']): {
  driver: FakeDriver;
  host: SupervisorHost;
} {
  const driver = new FakeDriver();
  host = new SupervisorHost({
    driver,
    nodeId,
    clock: realClock,
    logger: silentLogger,
    seed: 1,
    config: {
      tickIntervalMs: 10,
      resyncIntervalMs: 60_000,
      proposeRetryBaseMs: 1,
      supervisor: { noCheckHealthyAfterMs: 20, startWaitMs: 20 },
    },
    propose,
    resolveSecrets: (a) => ({ TOKEN: `secret-for-${a.allocId}` }),
  });
  return { driver, host };
}

describe('SupervisorHost effects (fake driver)', () => {
  test('secrets are added at start only; stop, remove and the complete proposal run in order', async () => {
    // Proves the host resolves secrets into the driver's spec (and nowhere else) and runs
    // one allocation's effects in order, the proposal waiting for a slow stop.
    const order: string[] = [];
    const { driver, host } = setUp(async (p) => {
      order.push(`propose ${p.status}`);
    });
    await host.start();
    host.setDesired([alloc()]);
    await waitFor('healthy', () => order.includes('propose healthy'));
    expect(driver.started[0]!.secretEnv).toEqual({ TOKEN: 'secret-for-a1' });
    expect(JSON.stringify(host.allocations())).not.toContain('secret-for');
    host.setDesired([alloc({ desired: 'stop', status: 'healthy' })]);
    await waitFor('complete', () => order.includes('propose complete'));
    const tail = [...driver.calls, ...order].filter((c) =>
      /^(stop|remove|propose complete)/.test(c),
    );
    expect(driver.calls.slice(-2)).toEqual(['stop task-a1', 'remove task-a1']);
    expect(tail).toEqual(['stop task-a1', 'remove task-a1', 'propose complete']);
  });

  test('a refused proposal is retried until it commits', async () => {
    // Proves bounded retries: two refusals then a success give exactly three attempts of
    // the same proposal, and the next transition follows.
    let attempts = 0;
    const statuses: string[] = [];
    const { host } = setUp(async (p) => {
      attempts += 1;
      if (attempts <= 2) throw new BerthError('not_leader', 'no leader yet');
      statuses.push(p.status);
    });
    await host.start();
    host.setDesired([alloc()]);
    await waitFor('healthy', () => statuses.includes('healthy'));
    expect(statuses).toEqual(['running', 'healthy']);
    expect(attempts).toBe(4);
  });

  test('a proposal refused on every attempt is reported lost and later proposed again', async () => {
    // Proves the host gives up after limits.supervisorProposeAttemptsMax attempts, tells the
    // actor, and the actor proposes the transition again (not silently forgotten).
    const tried: string[] = [];
    const { host } = setUp(async (p) => {
      tried.push(p.status);
      throw new BerthError('not_leader', 'no leader');
    });
    await host.start();
    host.setDesired([alloc()]);
    const attemptsMax = limits.supervisorProposeAttemptsMax;
    await waitFor(
      'a second round',
      () => tried.filter((s) => s === 'healthy').length > attemptsMax,
    );
    expect(tried.slice(0, attemptsMax)).toEqual(Array(attemptsMax).fill('running'));
  });

  test('an exit event of an earlier task is ignored while the current task runs', async () => {
    // Proves events are hints: the host inspects the current task before reporting an exit,
    // so a stale event cannot restart a healthy allocation; a real exit does restart it.
    const { driver, host } = setUp(async () => {});
    await host.start();
    host.setDesired([alloc()]);
    await waitFor('running', () => host.allocations()[0]?.phase === 'running');
    driver.events$.push({ allocId: 'a1', kind: 'exited', exitCode: 1 });
    await Bun.sleep(50);
    expect(driver.calls.filter((c) => c.startsWith('start'))).toHaveLength(1);
    driver.states.set('task-a1', { state: 'exited', exitCode: 1, startedAtMs: 0 });
    driver.events$.push({ allocId: 'a1', kind: 'exited', exitCode: 1 });
    await waitFor('restart', () => driver.calls.filter((c) => c.startsWith('start')).length === 2);
    expect(driver.calls).toEqual(['start a1', 'remove task-a1', 'start a1']);
  });

  test('task output is kept per allocation and served with tail; unknown allocations are an error', async () => {
    // Proves the log buffer is fed from the driver's followed output and that logs() for
    // an allocation this node does not hold fails with a stable code.
    const { driver, host } = setUp(async () => {});
    await host.start();
    host.setDesired([alloc()]);
    await waitFor('running', () => host.allocations()[0]?.phase === 'running');
    for (let n = 0; n < 5; n++) driver.lines.push({ stream: 'stdout', line: `line ${n}`, atMs: n });
    await waitFor('lines', () => host.logs('a1').length === 5);
    expect(host.logs('a1', { tail: 2 }).map((l) => l.line)).toEqual(['line 3', 'line 4']);
    expect(() => host.logs('nope')).toThrow(BerthError);
    try {
      host.logs('nope');
    } catch (error) {
      expect((error as BerthError).code).toBe('allocation_unknown');
    }
  });

  test('a start refused with port_in_use waits and retries instead of failing', async () => {
    // Proves the driver's error code reaches the actor: the allocation stays pending with
    // a port_in_use detail and starts once the port is free.
    const proposed: StatusProposal[] = [];
    const { driver, host } = setUp(async (p) => {
      proposed.push(p);
    });
    driver.startError = new BerthError('port_in_use', 'host port 8080 is in use');
    await host.start();
    host.setDesired([alloc()]);
    await waitFor('wait detail', () => proposed.length > 0);
    expect(proposed[0]).toMatchObject({ status: 'pending', reason: 'port_in_use' });
    driver.startError = undefined;
    await waitFor('started', () => proposed.some((p) => p.status === 'running'));
    expect(proposed.some((p) => p.status === 'failed')).toBe(false);
  });
});
