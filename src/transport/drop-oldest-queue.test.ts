import { describe, expect, test } from 'bun:test';
import { DropOldestQueue } from './drop-oldest-queue.ts';

describe('DropOldestQueue', () => {
  test('keeps FIFO order and drops the oldest when full', () => {
    // Proves the bound holds and the newest items survive an overflow.
    const queue = new DropOldestQueue<number>(3);
    expect([1, 2, 3].map((n) => queue.push(n))).toEqual([undefined, undefined, undefined]);
    expect(queue.push(4)).toBe(1);
    expect(queue.push(5)).toBe(2);
    expect(queue.size).toBe(3);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual([
      3,
      4,
      5,
      undefined,
    ]);
  });

  test('matches a reference model through many push/shift cycles (compaction)', () => {
    // Proves compaction of the consumed prefix never loses, duplicates or reorders items.
    const queue = new DropOldestQueue<number>(100);
    const model: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 70; i++) {
        const dropped = queue.push(next);
        model.push(next++);
        expect(dropped).toBe(model.length > 100 ? model.shift() : undefined);
      }
      for (let i = 0; i < 60; i++) expect(queue.shift()).toBe(model.shift());
      expect(queue.size).toBe(model.length);
      expect(queue.peek()).toBe(model[0]);
    }
    queue.clear();
    expect(queue.size).toBe(0);
  });
});
