import { describe, expect, test } from 'bun:test';
import { SimClock } from '../core/clock.ts';
import { EventFeed, EventHub } from './event-feed.ts';
import { closeCodes, type EventSink, EventSocketSession } from './event-socket.ts';
import { TestClusterService } from './test-service.ts';

/** A socket double with Bun's send semantics: > 0 sent, -1 buffered under pressure, 0 dropped. */
class FakeSink implements EventSink {
  sent: string[] = [];
  closedWith: { code: number; reason: string } | undefined;
  /** What the next sends return (the last value repeats). */
  results: number[] = [1];

  send(text: string): number {
    const result = this.results.length > 1 ? this.results.shift()! : this.results[0]!;
    if (result !== 0) this.sent.push(text);
    return result;
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  indexes(): number[] {
    return this.sent
      .map((line) => JSON.parse(line))
      .flatMap((l) => (l.event ? [l.event.index] : []));
  }
}

function setup(options: { stallMs?: number; afterIndex?: number } = {}) {
  const clock = new SimClock();
  const service = new TestClusterService({ clock });
  const hub = new EventHub(service, {
    clock,
    heartbeatMs: 10_000,
    stallMs: options.stallMs ?? 1_000,
  });
  const sink = new FakeSink();
  let released = 0;
  const node = (id: string) =>
    service.record('node.registered', {
      id,
      name: id,
      address: 'a',
      status: 'ready',
      voter: false,
    });
  const session = () => {
    const release = hub.reserve('websocket');
    const feed = new EventFeed(service, options.afterIndex ?? 0, null);
    return new EventSocketSession(hub, feed, sink, () => {
      released++;
      release();
    });
  };
  return { clock, service, hub, sink, node, session, released: () => released };
}

describe('EventSocketSession', () => {
  test('sends the backlog, then each new commit, in order', async () => {
    // Proves push delivery after commits and ordering by log index.
    const t = setup();
    t.node('a');
    t.node('b');
    const s = t.session();
    s.start();
    expect(t.sink.indexes()).toEqual([1, 2]);
    t.node('c');
    expect(t.sink.indexes()).toEqual([1, 2, 3]);
    s.closed();
    expect(t.released()).toBe(1);
    expect(t.hub.openCount()).toBe(0);
  });

  test('back-pressure pauses sending until drain', async () => {
    // Proves the session stops reading the log while Bun reports back-pressure (-1).
    const t = setup();
    t.node('a');
    t.sink.results = [-1, 1];
    const s = t.session();
    s.start();
    expect(t.sink.indexes()).toEqual([1]);
    t.node('b');
    t.node('c');
    expect(t.sink.indexes()).toEqual([1]);
    s.drain();
    expect(t.sink.indexes()).toEqual([1, 2, 3]);
    expect(t.sink.closedWith).toBeUndefined();
  });

  test('back-pressure that lasts the stall time drops the client with 1008 slow_consumer', async () => {
    // Proves a stalled socket is closed with a reason and frees its slot.
    const t = setup({ stallMs: 1_000 });
    t.node('a');
    t.sink.results = [-1];
    const s = t.session();
    s.start();
    t.clock.advance(999);
    expect(t.sink.closedWith).toBeUndefined();
    t.clock.advance(1);
    expect(t.sink.closedWith?.code).toBe(closeCodes.slowConsumer);
    expect(t.sink.closedWith?.reason).toStartWith('slow_consumer');
    expect(Buffer.byteLength(t.sink.closedWith!.reason)).toBeLessThanOrEqual(123);
    expect(s.ended).toBe(true);
    expect(t.released()).toBe(1);
  });

  test('a dropped send (buffer full) closes at once: the stream must not have holes', async () => {
    // Proves send() === 0 ends the session instead of silently skipping an event.
    const t = setup();
    t.node('a');
    t.node('b');
    t.sink.results = [1, 0];
    const s = t.session();
    s.start();
    expect(t.sink.indexes()).toEqual([1]);
    expect(t.sink.closedWith?.code).toBe(closeCodes.slowConsumer);
    t.node('c');
    expect(t.sink.indexes()).toEqual([1]);
    expect(s.ended).toBe(true);
  });

  test('a client behind compaction gets an error line and close 4410', async () => {
    // Proves compaction while a client is paused is reported, not skipped over.
    const t = setup();
    t.node('a');
    t.sink.results = [-1, 1];
    const s = t.session();
    s.start();
    t.node('b');
    t.node('c');
    t.node('d');
    t.service.events.compact(t.service.events.commitIndex() - 1);
    s.drain();
    const last = JSON.parse(t.sink.sent.at(-1)!);
    expect(last.error.code).toBe('events_compacted');
    expect(t.sink.closedWith?.code).toBe(closeCodes.compacted);
  });
});
