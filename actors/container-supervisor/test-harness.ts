/**
 * A small harness for the supervisor's step tests: builds desired allocations and listed
 * tasks, drives the pure step on a simulated time line and filters the effects it emits.
 * Test support only; nothing in production imports it.
 */
import { createPrng } from '../../src/core/prng.ts';
import type { ListedTask, TaskHandle } from '../../src/drivers/driver.ts';
import { defaultSupervisorConfig, type SupervisorConfig } from './config.ts';
import type { SupervisorEffect } from './effects.ts';
import type { SupervisorMessage } from './messages.ts';
import { createSupervisorState, type SupervisorState } from './state.ts';
import { step } from './step.ts';
import type { DesiredAllocation } from './types.ts';

export const testNodeId = 'node-1';

/** A service allocation with an HTTP check on port label `http`, overridable. */
export function desiredAlloc(
  allocId: string,
  overrides: Partial<DesiredAllocation> = {},
): DesiredAllocation {
  return {
    allocId,
    jobId: 'web',
    jobVersion: 1,
    name: `web.web[${allocId}]`,
    jobType: 'service',
    desired: 'run',
    status: 'pending',
    task: {
      allocId,
      jobId: 'web',
      jobVersion: 1,
      nodeId: testNodeId,
      name: `berth-web-${allocId}`,
      command: ['bun', 'server.ts'],
      env: { MODE: 'test' },
      ports: { http: { host: 20_000, container: 8080 } },
      volumes: [],
      resources: { cpuMhz: 100, memoryMb: 64 },
      hostAddress: '127.0.0.1',
    },
    check: { kind: 'http', path: '/up', portLabel: 'http' },
    checkIntervalMs: 1_000,
    checkTimeoutMs: 500,
    checkGraceMs: 2_000,
    restart: { attempts: 2, intervalMs: 60_000, delayMs: 1_000, mode: 'fail' },
    stopTimeoutMs: 5_000,
    ...overrides,
  };
}

export function handleOf(allocId: string, id = `task-${allocId}`): TaskHandle {
  return { driver: 'exec', id, allocId };
}

export function listedTask(
  allocId: string,
  overrides: Partial<ListedTask> = {},
  nodeId = testNodeId,
): ListedTask {
  return {
    handle: handleOf(allocId),
    name: `berth-web-${allocId}`,
    labels: { jobId: 'web', allocId, jobVersion: 1, nodeId },
    state: 'running',
    startedAtMs: 1_700_000_000_000,
    ...overrides,
  };
}

/** Drives one supervisor: every `send` returns the effects of that one step. */
export class Harness {
  state: SupervisorState;
  nowMs = 0;
  #prng;

  constructor(config: Partial<SupervisorConfig> = {}, seed = 1) {
    this.state = createSupervisorState(testNodeId, { ...defaultSupervisorConfig, ...config });
    this.#prng = createPrng(seed);
  }

  send(message: SupervisorMessage): SupervisorEffect[] {
    return step(this.state, message, { prng: this.#prng }).effects;
  }

  /** Moves time forward and delivers one tick. */
  advance(deltaMs: number): SupervisorEffect[] {
    this.nowMs += deltaMs;
    return this.send({ type: 'tick', nowMs: this.nowMs });
  }

  /** Moves time in `stepMs` ticks, collecting every effect on the way. */
  run(totalMs: number, stepMs = 100): SupervisorEffect[] {
    const effects: SupervisorEffect[] = [];
    for (let passedMs = 0; passedMs < totalMs; passedMs += stepMs) {
      effects.push(...this.advance(stepMs));
    }
    return effects;
  }

  desired(...allocations: DesiredAllocation[]): SupervisorEffect[] {
    return this.send({ type: 'desired', allocations });
  }

  observed(...tasks: ListedTask[]): SupervisorEffect[] {
    return this.send({ type: 'observed', tasks, nowMs: this.nowMs });
  }

  /** Desired set plus an empty driver list, then the task's start acknowledged. */
  startRunning(alloc: DesiredAllocation): SupervisorEffect[] {
    const effects = [...this.desired(alloc), ...this.observed()];
    effects.push(
      ...this.send({
        type: 'task_started',
        allocId: alloc.allocId,
        handle: handleOf(alloc.allocId),
      }),
    );
    return effects;
  }
}

/** Effects of one type, narrowed. */
export function ofType<T extends SupervisorEffect['type']>(
  effects: SupervisorEffect[],
  type: T,
): Extract<SupervisorEffect, { type: T }>[] {
  return effects.filter((e): e is Extract<SupervisorEffect, { type: T }> => e.type === type);
}

/** The (status, reason) pairs proposed, in order. */
export function proposals(effects: SupervisorEffect[]): string[] {
  return ofType(effects, 'propose_status').map((p) => `${p.status}:${p.reason}`);
}

/** Effects other than logs, as compact strings for order-sensitive assertions. */
export function actions(effects: SupervisorEffect[]): string[] {
  return effects.flatMap((e): string[] => {
    if (e.type === 'log') return [];
    if (e.type === 'start') return [`start ${e.allocId}`];
    if (e.type === 'stop') return [`stop ${e.handle.id}`];
    if (e.type === 'remove') return [`remove ${e.handle.id}`];
    if (e.type === 'probe') return [`probe ${e.allocId}`];
    return [`propose ${e.allocId} ${e.status}:${e.reason}`];
  });
}
