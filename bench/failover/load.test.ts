import { expect, test } from 'bun:test';
import { failuresBetween, firstSuccessAfter, longestSuccessGap, type Sample } from './load.ts';

const s = (invokeMs: number, responseMs: number, ok: boolean): Sample => ({
  invokeMs,
  responseMs,
  ok,
});

test('failover figures are read from the samples around the fault', () => {
  // Proves the leader-failover time counts only writes sent after the fault, and the unavailability window is the longest gap between successes.
  const samples = [
    s(0, 10, true),
    s(20, 30, true),
    s(95, 400, true),
    s(101, 150, false),
    s(160, 700, true),
    s(710, 720, true),
  ];
  // The write sent at 95 (before the fault at 100) does not count as the new leader's first.
  expect(firstSuccessAfter(samples, 100)).toBe(600);
  // Successes at 30, then 400, 700, 720: the longest gap spanning the fault is 400 - 30.
  expect(longestSuccessGap(samples, 100, 1_000)).toBe(370);
  expect(longestSuccessGap([s(0, 10, true)], 100, 1_000)).toBe(990);
  expect(firstSuccessAfter([s(0, 10, true)], 100)).toBeNull();
  expect(failuresBetween(samples, 100, 1_000)).toEqual({ failed: 1, total: 3 });
});
