import { describe, expect, test } from 'bun:test';
import { createPrng } from '../../src/core/prng.ts';
import { defaultNodeMonitorConfig, NodeMonitorConfigSchema } from './config.ts';
import {
  createHeartbeatSchedule,
  type HeartbeatSchedule,
  heartbeatDelayMs,
  heartbeatDue,
  heartbeatSent,
} from './heartbeat-schedule.ts';

const config = defaultNodeMonitorConfig; // every 500 ms, up to 50 ms early

/** Send times over `durationMs`, polling every 1 ms as a timer-driven runtime would. */
function sendTimes(seed: number, durationMs: number): number[] {
  const ctx = { prng: createPrng(seed) };
  let schedule: HeartbeatSchedule = createHeartbeatSchedule(config, 0, ctx);
  const times: number[] = [];
  for (let t = 0; t <= durationMs; t++) {
    if (!heartbeatDue(schedule, t)) continue;
    times.push(t);
    schedule = heartbeatSent(schedule, t, ctx);
  }
  return times;
}

describe('heartbeat schedule', () => {
  test('heartbeats go out every interval, at most jitterMs early, never late', () => {
    // Proves the gap between heartbeats stays within [interval - jitter, interval], so
    // the TTL (sized in intervals) is never eaten by jitter, and the first is prompt.
    const times = sendTimes(11, 60_000);
    expect(times[0]).toBeLessThanOrEqual(config.heartbeatJitterMs);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(config.heartbeatIntervalMs - config.heartbeatJitterMs);
      expect(gap).toBeLessThanOrEqual(config.heartbeatIntervalMs);
    }
    expect(new Set(gaps).size).toBeGreaterThan(10);
  });

  test('the jitter is a function of the seed', () => {
    // Proves determinism: the same seed replays the same heartbeat times; another differs.
    expect(sendTimes(3, 10_000)).toEqual(sendTimes(3, 10_000));
    expect(sendTimes(3, 10_000)).not.toEqual(sendTimes(4, 10_000));
  });

  test('heartbeatDelayMs says how long to wait for the next one', () => {
    // Proves the timer helper agrees with heartbeatDue.
    const schedule: HeartbeatSchedule = { intervalMs: 500, jitterMs: 50, nextDueMs: 1_000 };
    expect(heartbeatDelayMs(schedule, 700)).toBe(300);
    expect(heartbeatDue(schedule, 999)).toBe(false);
    expect(heartbeatDelayMs(schedule, 1_000)).toBe(0);
    expect(heartbeatDue(schedule, 1_000)).toBe(true);
    expect(heartbeatDelayMs(schedule, 1_200)).toBe(0);
  });

  test('the configuration rejects a TTL shorter than two heartbeats and oversized jitter', () => {
    // Proves the config guards: one lost heartbeat alone can never make a node down.
    expect(config).toEqual({
      heartbeatIntervalMs: 500,
      heartbeatJitterMs: 50,
      ttlMs: 3_000,
      proposalRetryMs: 1_000,
    });
    expect(NodeMonitorConfigSchema.safeParse({ ttlMs: 999 }).success).toBe(false);
    expect(NodeMonitorConfigSchema.safeParse({ ttlMs: 1_000 }).success).toBe(true);
    expect(NodeMonitorConfigSchema.safeParse({ heartbeatJitterMs: 500 }).success).toBe(false);
    expect(NodeMonitorConfigSchema.safeParse({ heartbeatIntervalMs: 0 }).success).toBe(false);
  });
});
