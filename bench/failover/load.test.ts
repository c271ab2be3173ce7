import { expect, test } from 'bun:test';
import {
  failuresBetween,
  firstSuccessAfter,
  longestSuccessGap,
  routedWindow,
  type Sample,
} from './load.ts';

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

test('the routed window keeps requests in flight at the fault, except through the faulted router', () => {
  // Proves a request in flight through a surviving router at the fault counts, one in flight through the killed node's own router does not, and the window ends at recovery.
  const http = (target: string, invokeMs: number, responseMs: number): Sample => ({
    invokeMs,
    responseMs,
    ok: false,
    target,
  });
  const samples = [
    http('n2', 50, 90), // done before the fault
    http('n2', 95, 130), // in flight at the fault through a survivor
    http('n1', 95, 130), // in flight through the faulted node's router
    http('n2', 150, 160),
    http('n1', 900, 910), // n1 back after its restart
    http('n2', 1_200, 1_210), // after recovery
  ];
  const window = routedWindow(samples, 100, 1_000, 'n1');
  expect(window.map((s) => `${s.target}@${s.invokeMs}`)).toEqual(['n2@95', 'n2@150', 'n1@900']);
});
