import { expect, test } from 'bun:test';
import { percentile, summarize } from './stats.ts';

test('nearest-rank percentiles', () => {
  // Proves the report's percentiles use nearest rank (p99 of few trials is the max) and handle empty samples.
  const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  expect(percentile(values, 50)).toBe(5);
  expect(percentile(values, 90)).toBe(9);
  expect(percentile(values, 99)).toBe(10);
  expect(summarize([])).toEqual({ n: 0, p50: null, p90: null, p99: null, max: null });
  expect(summarize([3, 1, 2])).toEqual({ n: 3, p50: 2, p90: 3, p99: 3, max: 3 });
});
