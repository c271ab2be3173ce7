import { describe, expect, test } from 'bun:test';
import { createPrng } from '../core/prng.ts';
import { reconnectDelayMs } from './backoff.ts';

describe('reconnect backoff', () => {
  test('delays double per failure, stay within [ceiling/2, ceiling], and stop at the cap', () => {
    // Proves exponential growth, equal jitter bounds, and the cap (also for absurd failure counts).
    const policy = { baseMs: 50, capMs: 2_000 };
    const prng = createPrng(7);
    for (const [failures, ceilingMs] of [
      [0, 50],
      [1, 100],
      [3, 400],
      [5, 1_600],
      [6, 2_000],
      [1_000, 2_000],
    ] as const) {
      for (let i = 0; i < 200; i++) {
        const delayMs = reconnectDelayMs(failures, policy, prng);
        expect(delayMs).toBeGreaterThanOrEqual(ceilingMs / 2);
        expect(delayMs).toBeLessThanOrEqual(ceilingMs);
      }
    }
  });

  test('jitter spreads peers that failed together', () => {
    // Proves two nodes with different seeds do not redial in lockstep.
    const policy = { baseMs: 50, capMs: 2_000 };
    const a = createPrng(1);
    const b = createPrng(2);
    const pairs = Array.from({ length: 20 }, (_, n) => [
      reconnectDelayMs(n % 6, policy, a),
      reconnectDelayMs(n % 6, policy, b),
    ]);
    expect(pairs.filter(([x, y]) => x !== y).length).toBeGreaterThan(15);
  });
});
