import { describe, expect, test } from 'bun:test';
import { durationMsMax, formatDurationMs, parseDurationMs } from './duration.ts';

describe('parseDurationMs', () => {
  // Proves each unit and compound forms convert to the right number of milliseconds.
  test('converts units and compounds to ms', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('5s')).toBe(5_000);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('1d')).toBe(86_400_000);
    expect(parseDurationMs('1.5s')).toBe(1_500);
    expect(parseDurationMs('0s')).toBe(0);
  });

  // Proves text without a unit, with spaces inside, or beyond the ceiling is refused.
  test('refuses non-durations', () => {
    for (const text of ['5', '', 's', '5 s', '10 seconds', '-1s', '5x', '1h 30m', '31d']) {
      expect(parseDurationMs(text)).toBeNull();
    }
    expect(parseDurationMs(`${durationMsMax}ms`)).toBe(durationMsMax);
  });

  // Proves formatting gives the shortest exact form that parses back to the same value.
  test('formats and round-trips', () => {
    expect(formatDurationMs(90_000)).toBe('1m30s');
    expect(formatDurationMs(0)).toBe('0s');
    for (const valueMs of [1, 999, 1_000, 61_001, 3_600_000, 90_061_001]) {
      expect(parseDurationMs(formatDurationMs(valueMs))).toBe(valueMs);
    }
  });
});
