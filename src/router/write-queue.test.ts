import { describe, expect, test } from 'bun:test';
import { flushQueue, type QueuedPiece, type WritableSocket } from './write-queue.ts';

/** A socket that takes at most `capacity` bytes in all, recording what it took. */
function limitedSocket(capacity: number): WritableSocket & { taken: string } {
  const socket = {
    taken: '',
    write(data: QueuedPiece): number {
      if (capacity < 0) return -1;
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
      const take = Math.min(capacity, text.length);
      socket.taken += text.slice(0, take);
      capacity -= take;
      return take;
    },
  };
  return socket;
}

describe('flushQueue', () => {
  test('writes pieces in order and empties the queue when the socket takes them all', () => {
    // Proves the common case: everything written, nothing left queued.
    const socket = limitedSocket(100);
    const queue: QueuedPiece[] = ['ab', Buffer.from('cd'), 'ef'];
    expect(flushQueue(socket, queue)).toBe(6);
    expect(queue).toEqual([]);
    expect(socket.taken).toBe('abcdef');
  });

  test('keeps the rest of a piece taken in part at the head, and what follows behind it', () => {
    // Proves a partial write loses and reorders nothing.
    const socket = limitedSocket(3);
    const queue: QueuedPiece[] = ['ab', Buffer.from('cde'), 'f'];
    expect(flushQueue(socket, queue)).toBe(3);
    expect(queue.length).toBe(2);
    expect(Buffer.from(queue[0] as Uint8Array).toString()).toBe('de');
    expect(queue[1]).toBe('f');
  });

  test('answers -1 on a closed socket and leaves the queue as it was', () => {
    // Proves the caller can tell a closed socket from one that is only full.
    const queue: QueuedPiece[] = ['ab'];
    expect(flushQueue(limitedSocket(-1), queue)).toBe(-1);
    expect(queue).toEqual(['ab']);
  });
});
