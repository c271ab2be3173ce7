import { expect, test } from 'bun:test';
import { RingBuffer } from './ring-buffer.ts';

test('keeps the newest items, oldest first, up to capacity', () => {
  // Proves the bound: pushing past capacity drops the oldest, never grows.
  const ring = new RingBuffer<number>(3);
  expect(ring.toArray()).toEqual([]);
  for (let i = 1; i <= 2; i++) ring.push(i);
  expect(ring.toArray()).toEqual([1, 2]);
  for (let i = 3; i <= 7; i++) ring.push(i);
  expect(ring.toArray()).toEqual([5, 6, 7]);
  expect(ring.size).toBe(3);
});
