import { expect, test } from 'bun:test';
import { AsyncQueue } from './async-queue.ts';

test('delivers in order, drops the oldest beyond capacity, ends on close', async () => {
  // Proves the bound on a lagging consumer and that close ends the iteration.
  const queue = new AsyncQueue<number>(2);
  for (let i = 1; i <= 4; i++) queue.push(i);
  expect(queue.dropped).toBe(2);
  const seen: number[] = [];
  const reader = (async () => {
    for await (const item of queue.drain()) seen.push(item);
  })();
  await Bun.sleep(0);
  queue.push(5);
  queue.close();
  queue.push(6);
  await reader;
  expect(seen).toEqual([3, 4, 5]);
});
