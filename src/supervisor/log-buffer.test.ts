import { describe, expect, test } from 'bun:test';
import type { LogLine } from '../drivers/driver.ts';
import { LogBuffer } from './log-buffer.ts';

const line = (n: number): LogLine => ({
  stream: n % 2 ? 'stderr' : 'stdout',
  line: `l${n}`,
  atMs: n * 10,
});

describe('LogBuffer', () => {
  test('keeps only the newest lines up to its capacity, in order', () => {
    // Proves the bound: 10 lines into a 4-line buffer leave the last 4, oldest first,
    // and the overflow is counted.
    const buffer = new LogBuffer(4);
    for (let n = 0; n < 10; n++) buffer.push(line(n));
    expect(buffer.read().map((l) => l.line)).toEqual(['l6', 'l7', 'l8', 'l9']);
    expect(buffer.size).toBe(4);
    expect(buffer.dropped).toBe(6);
  });

  test('tail and sinceMs select lines, combined as the API expects', () => {
    // Proves `sinceMs` filters by time first and `tail` then keeps the last N of those.
    const buffer = new LogBuffer(100);
    for (let n = 0; n < 10; n++) buffer.push(line(n));
    expect(buffer.read({ tail: 2 }).map((l) => l.line)).toEqual(['l8', 'l9']);
    expect(buffer.read({ sinceMs: 75 }).map((l) => l.line)).toEqual(['l8', 'l9']);
    expect(buffer.read({ sinceMs: 30, tail: 3 }).map((l) => l.line)).toEqual(['l7', 'l8', 'l9']);
    expect(buffer.read({ tail: 0 })).toEqual([]);
    expect(buffer.read({ sinceMs: 1_000 })).toEqual([]);
  });
});
