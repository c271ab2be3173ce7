import { describe, expect, test } from 'bun:test';
import { AssertionError } from '../core/assert.ts';
import { assertRestartIntensity, recordRestart } from './restart-intensity.ts';

const intensity = { restartIntensityMax: 3, restartPeriodMs: 1_000 };

function replay(timesMs: number[]): boolean[] {
  let historyMs: number[] = [];
  return timesMs.map((atMs) => {
    const decision = recordRestart(historyMs, atMs, intensity);
    historyMs = decision.historyMs;
    return decision.exceeded;
  });
}

describe('recordRestart', () => {
  test('allows max restarts within the period and refuses one more', () => {
    // Proves OTP semantics: more than restartIntensityMax restarts in the window escalate.
    expect(replay([0, 10, 20, 30])).toEqual([false, false, false, true]);
  });

  test('forgets restarts that left the window', () => {
    // Proves the window slides: restarts older than restartPeriodMs no longer count.
    expect(replay([0, 10, 20, 1_001, 1_011, 1_021])).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(replay([0, 500, 999, 1_000])).toEqual([false, false, false, false]);
    expect(replay([0, 500, 998, 999])).toEqual([false, false, false, true]);
  });

  test('intensity 0 escalates at the first restart', () => {
    // Proves that a zero intensity means "never restart, escalate at once".
    const decision = recordRestart([], 5, { restartIntensityMax: 0, restartPeriodMs: 10 });
    expect(decision.exceeded).toBe(true);
  });

  test('keeps at most max + 1 entries of history', () => {
    // Proves the history is bounded however many restarts are recorded.
    let historyMs: number[] = [];
    for (let i = 0; i < 50; i += 1) historyMs = recordRestart(historyMs, i, intensity).historyMs;
    expect(historyMs).toEqual([46, 47, 48, 49]);
  });

  test('rejects unusable intensities as bugs', () => {
    // Proves garbage settings fail with an assertion instead of misbehaving later.
    for (const bad of [
      { restartIntensityMax: -1, restartPeriodMs: 10 },
      { restartIntensityMax: 1.5, restartPeriodMs: 10 },
      { restartIntensityMax: 1, restartPeriodMs: 0 },
      { restartIntensityMax: 1, restartPeriodMs: Number.NaN },
    ]) {
      expect(() => assertRestartIntensity(bad)).toThrow(AssertionError);
    }
  });
});
