import { describe, expect, test } from 'bun:test';
import type { RaftMessage } from '../../actors/leader-election/types.ts';
import { InProcessNetwork } from './transport.ts';

function heartbeat(from: number, to: number, commit: number): RaftMessage {
  return { type: 'heartbeat', from, to, term: 1, commit };
}

/** Lets the network's setTimeout(0) flushes run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

describe('InProcessNetwork', () => {
  test('delivers asynchronously, in order per link, to the addressed node only', async () => {
    // Proves delivery is never synchronous (no re-entry into the sender) and keeps per-link order.
    const net = new InProcessNetwork();
    const [a, b, c] = [net.connect(1), net.connect(2), net.connect(3)];
    const got: Record<number, number[]> = { 1: [], 2: [], 3: [] };
    a.onMessage((m) => got[1]!.push(m.type === 'heartbeat' ? m.commit : -1));
    b.onMessage((m) => got[2]!.push(m.type === 'heartbeat' ? m.commit : -1));
    c.onMessage((m) => got[3]!.push(m.type === 'heartbeat' ? m.commit : -1));
    a.send([heartbeat(1, 2, 1), heartbeat(1, 3, 2), heartbeat(1, 2, 3)]);
    expect(got[2]).toEqual([]);
    await settle();
    expect(got).toEqual({ 1: [], 2: [1, 3], 3: [2] });
  });

  test('the receiver gets a copy, not the sender’s object', async () => {
    // Proves sender and receiver share no object, as across a socket.
    const net = new InProcessNetwork();
    const a = net.connect(1);
    const b = net.connect(2);
    const received: RaftMessage[] = [];
    b.onMessage((m) => received.push(m));
    const msg: RaftMessage = {
      type: 'append',
      from: 1,
      to: 2,
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, kind: 'normal', data: 'x' }],
    };
    a.send([msg]);
    msg.entries[0]!.data = 'changed after send';
    await settle();
    expect(received).toHaveLength(1);
    expect(received[0]!.type === 'append' && received[0]!.entries[0]!.data).toBe('x');
  });

  test('the drop switch loses messages one way and reports the peer unreachable', async () => {
    // Proves the test drop switch: a dropped link delivers nothing and the sender learns of it.
    const net = new InProcessNetwork();
    const a = net.connect(1);
    const b = net.connect(2);
    const atA: number[] = [];
    const atB: number[] = [];
    const unreachable: number[] = [];
    a.onMessage((m) => atA.push(m.from));
    b.onMessage((m) => atB.push(m.from));
    a.onUnreachable((peer) => unreachable.push(peer));
    net.setLinkDropped(1, 2, true);
    a.send([heartbeat(1, 2, 1)]);
    b.send([heartbeat(2, 1, 1)]);
    await settle();
    expect(atB).toEqual([]);
    expect(atA).toEqual([2]);
    expect(unreachable).toEqual([2]);
    net.setLinkDropped(1, 2, false);
    a.send([heartbeat(1, 2, 2)]);
    await settle();
    expect(atB).toEqual([1]);
    expect(net.stats()).toEqual({ delivered: 2, dropped: 1, overflowed: 0 });
  });

  test('a full peer queue drops further messages instead of growing', async () => {
    // Proves the per-peer bound: beyond peerQueueMax messages wait, the rest are dropped and counted.
    const net = new InProcessNetwork({ peerQueueMax: 3 });
    const a = net.connect(1);
    const b = net.connect(2);
    const got: number[] = [];
    b.onMessage((m) => got.push(m.type === 'heartbeat' ? m.commit : -1));
    const unreachable: number[] = [];
    a.onUnreachable((peer) => unreachable.push(peer));
    a.send([1, 2, 3, 4, 5].map((i) => heartbeat(1, 2, i)));
    await settle();
    expect(got).toEqual([1, 2, 3]);
    expect(net.stats().overflowed).toBe(2);
    expect(unreachable).toEqual([2, 2]);
  });

  test('a closed node receives nothing and may reconnect under the same id', async () => {
    // Proves close(): queued and later messages to a closed node are dropped; reconnecting works.
    const net = new InProcessNetwork();
    const a = net.connect(1);
    let b = net.connect(2);
    const got: string[] = [];
    b.onMessage(() => got.push('old'));
    a.send([heartbeat(1, 2, 1)]);
    await b.close();
    await settle();
    expect(got).toEqual([]);
    b = net.connect(2);
    b.onMessage(() => got.push('new'));
    a.send([heartbeat(1, 2, 2)]);
    await settle();
    expect(got).toEqual(['new']);
    expect(() => net.connect(1)).toThrow();
  });
});
