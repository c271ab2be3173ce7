import { describe, expect, test } from 'bun:test';
import { DropOldestQueue } from './drop-oldest-queue.ts';
import { checkItem, frameItems, newLink, sweepAction, takeBatch } from './links.ts';

const tuning = {
  batchMessagesMax: 3,
  frameBytesMax: 20,
  handshakeTimeoutMs: 100,
  idleTimeoutMs: 1_000,
  keepaliveIntervalMs: 200,
};
const bytes = (n: number) => new Uint8Array(n);

describe('peer link bookkeeping', () => {
  test('a batch stops at the message count and the frame size, but always takes one', () => {
    // Proves frames never exceed either bound, and an oversized message still goes alone.
    const queue = new DropOldestQueue<Uint8Array>(10);
    for (const n of [4, 4, 4, 4, 30]) queue.push(bytes(n));
    expect(takeBatch(queue, tuning).map((b) => b.length)).toEqual([4, 4, 4]);
    expect(takeBatch(queue, tuning).map((b) => b.length)).toEqual([4]);
    expect(takeBatch(queue, tuning).map((b) => b.length)).toEqual([30]);
    expect(takeBatch(queue, tuning)).toEqual([]);
  });

  test('frame bodies and items are checked: garbage, too many, forged, misaddressed', () => {
    // Proves each drop reason, and that a well-formed message for us passes.
    const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    expect(frameItems(new Uint8Array([0xff]), 3)).toBeUndefined();
    expect(frameItems(encode({ not: 'an array' }), 3)).toBeUndefined();
    expect(frameItems(encode([1, 2, 3, 4]), 3)).toBeUndefined();
    expect(frameItems(encode([1]), 3)).toEqual([1]);
    const heartbeat = { type: 'heartbeat' as const, from: 2, to: 1, term: 3, commit: 0 };
    expect(checkItem({ garbage: true }, 2, 1)).toBe('invalid');
    expect(checkItem(heartbeat, 2, 1)).toEqual(heartbeat);
    expect(checkItem(heartbeat, 3, 1)).toEqual({ spoofedAs: 2 });
    expect(checkItem(heartbeat, 2, 9)).toBe('misaddressed');
  });

  test('the sweep cuts stuck handshakes and silent links and keeps quiet ones alive', () => {
    // Proves the sweep rule at its boundaries.
    const inbound = newLink('inbound', undefined, 64, 0);
    expect(sweepAction(inbound, 100, tuning)).toBe('none');
    expect(sweepAction(inbound, 101, tuning)).toBe('cut-handshake');
    expect(sweepAction(newLink('outbound', 2, 64, 0), 5_000, tuning)).toBe('none');
    const up = { ...newLink('inbound', undefined, 64, 0), peerId: 2 };
    expect(sweepAction(up, 199, tuning)).toBe('none');
    expect(sweepAction(up, 200, tuning)).toBe('keepalive');
    expect(sweepAction({ ...up, pending: bytes(1) }, 200, tuning)).toBe('none');
    expect(sweepAction(up, 1_001, tuning)).toBe('cut-silent');
  });
});
