/**
 * The worker side: when this node sends its next heartbeat to the leader. Pure; the
 * runtime reads the clock, asks `heartbeatDue`, sends, then records it with
 * `heartbeatSent` (which draws the jitter from the seeded generator in the context).
 */
import { assert } from '../../src/core/assert.ts';
import type { NodeMonitorConfig } from './config.ts';
import type { NodeMonitorContext } from './step.ts';

export interface HeartbeatSchedule {
  intervalMs: number;
  jitterMs: number;
  /** When the next heartbeat is due, on this node's clock. */
  nextDueMs: number;
}

/**
 * The first heartbeat is due within `jitterMs` of start, so a node announces itself at
 * once while nodes started together (a whole cluster booting) do not send in lockstep.
 */
export function createHeartbeatSchedule(
  config: NodeMonitorConfig,
  nowMs: number,
  ctx: NodeMonitorContext,
): HeartbeatSchedule {
  const { heartbeatIntervalMs: intervalMs, heartbeatJitterMs: jitterMs } = config;
  assert(jitterMs < intervalMs, 'heartbeat jitter must be below the interval');
  return { intervalMs, jitterMs, nextDueMs: nowMs + ctx.prng.int(0, jitterMs + 1) };
}

/** Whether a heartbeat is due at `nowMs`. */
export function heartbeatDue(schedule: HeartbeatSchedule, nowMs: number): boolean {
  return nowMs >= schedule.nextDueMs;
}

/** How long until the next heartbeat is due, in ms (0 when it is already due). */
export function heartbeatDelayMs(schedule: HeartbeatSchedule, nowMs: number): number {
  return Math.max(0, schedule.nextDueMs - nowMs);
}

/**
 * Records a heartbeat sent at `nowMs`. The next one is due one interval later, minus a
 * jitter in [0, jitterMs]: jitter only ever makes a heartbeat early, so the gap between
 * two heartbeats never exceeds the interval that the TTL was sized against.
 */
export function heartbeatSent(
  schedule: HeartbeatSchedule,
  nowMs: number,
  ctx: NodeMonitorContext,
): HeartbeatSchedule {
  const earlyMs = ctx.prng.int(0, schedule.jitterMs + 1);
  return { ...schedule, nextDueMs: nowMs + schedule.intervalMs - earlyMs };
}
