import { describe, expect, test } from 'bun:test';
import { AssertionError } from '../core/assert.ts';
import { SimClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { createPrng } from '../core/prng.ts';
import { ActorSystem } from './actor-system.ts';
import { AskTimeoutError } from './errors.ts';
import type { ActorDefinition, ActorRef, Recipient, StopReason } from './types.ts';

type CounterMessage =
  | { type: 'add'; amount: number }
  | { type: 'get'; replyTo: Recipient<number> }
  | { type: 'ignore'; replyTo: Recipient<number> };

const counter: ActorDefinition<number, CounterMessage> = {
  name: 'counter',
  initialState: () => 0,
  handle(total, message) {
    if (message.type === 'add') return total + message.amount;
    if (message.type === 'get') message.replyTo.tell(total);
    return total;
  },
};

function newSystem(clock = new SimClock()): ActorSystem {
  return new ActorSystem({ clock, prng: createPrng(7) });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Whether `promise` has settled after the event loop has had a full turn. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

describe('tell and ask', () => {
  test('tell enqueues and ask returns the reply', async () => {
    // Proves the happy path: told messages are handled and ask resolves with the reply.
    const system = newSystem();
    const ref = system.spawn(counter);
    expect(ref.tell({ type: 'add', amount: 2 })).toEqual({ ok: true });
    expect(ref.tell({ type: 'add', amount: 3 })).toEqual({ ok: true });
    const total = await ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), {
      timeoutMs: 1_000,
    });
    expect(total).toBe(5);
    expect(system.asksInFlight).toBe(0);
    await system.shutdown();
  });

  test('tell never runs the handler synchronously', async () => {
    // Proves that tell only enqueues: the handler runs after the caller returns.
    const system = newSystem();
    const handled: number[] = [];
    const ref = system.spawn<null, number>({
      name: 'recorder',
      initialState: () => null,
      handle: (state, message) => {
        handled.push(message);
        return state;
      },
    });
    ref.tell(1);
    expect(handled).toEqual([]);
    await system.settle();
    expect(handled).toEqual([1]);
    await system.shutdown();
  });

  test('ask times out on the injected clock with AskTimeoutError', async () => {
    // Proves the timeout uses the SimClock (no real waiting) and a late reply is refused.
    const clock = new SimClock();
    const system = newSystem(clock);
    const ref = system.spawn(counter);
    let slot: Recipient<number> | undefined;
    const reply = ref.ask<number>(
      (replyTo) => {
        slot = replyTo;
        return { type: 'ignore', replyTo };
      },
      { timeoutMs: 100 },
    );
    await system.settle();
    clock.advance(99);
    expect(await hasSettled(reply)).toBe(false);
    clock.advance(1);
    const error = await reply.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AskTimeoutError);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as AskTimeoutError).code).toBe('ask_timeout');
    expect(slot?.tell(1)).toEqual({ ok: false, code: 'actor_stopped' });
    expect(system.asksInFlight).toBe(0);
    await system.shutdown();
  });

  test('a reply cancels the timeout timer', async () => {
    // Proves a successful ask leaves no timer behind on the clock.
    const clock = new SimClock();
    const system = newSystem(clock);
    const ref = system.spawn(counter);
    await ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), { timeoutMs: 50 });
    expect(clock.pendingCount()).toBe(0);
    await system.shutdown();
  });

  test('ask with a bad timeout throws an assertion and sends nothing', async () => {
    // Proves garbage timeouts (0, negative, NaN, infinite, too long, missing) are bugs.
    const system = newSystem();
    let built = 0;
    const ref = system.spawn(counter);
    const build = (replyTo: Recipient<number>): CounterMessage => {
      built += 1;
      return { type: 'get', replyTo };
    };
    const bad = [0, -5, Number.NaN, Number.POSITIVE_INFINITY, limits.askTimeoutMsMax + 1];
    for (const timeoutMs of bad) {
      expect(() => ref.ask(build, { timeoutMs })).toThrow(AssertionError);
    }
    expect(() => ref.ask(build, undefined as unknown as { timeoutMs: number })).toThrow(
      AssertionError,
    );
    expect(built).toBe(0);
    expect(system.asksInFlight).toBe(0);
    await system.shutdown();
  });

  test('ActorRef only accepts its own message type', async () => {
    // Proves (under `tsc --noEmit`) that refs are typed: each @ts-expect-error must fire.
    const system = newSystem();
    const ref: ActorRef<CounterMessage> = system.spawn(counter);
    const typeChecks = (): void => {
      // @ts-expect-error a message outside the actor's union is refused
      ref.tell({ type: 'reset' });
      // @ts-expect-error a narrower ref is not a ref to a wider message type
      const wider: ActorRef<CounterMessage | { type: 'reset' }> = ref;
      void wider;
    };
    void typeChecks;
    expect(ref.tell({ type: 'add', amount: 1 })).toEqual({ ok: true });
    await system.shutdown();
  });
});

describe('context', () => {
  test('each incarnation draws from a generator derived from the system seed', async () => {
    // Proves determinism: the same seed gives every actor the same random draws.
    const draws = async (seed: number): Promise<number[]> => {
      const system = new ActorSystem({ clock: new SimClock(), prng: createPrng(seed) });
      const ref = system.spawn<number[], { replyTo: Recipient<number[]> }>({
        name: 'dice',
        initialState: (ctx) => [ctx.prng.int(0, 1_000_000), ctx.prng.int(0, 1_000_000)],
        handle(state, message) {
          message.replyTo.tell(state);
          return state;
        },
      });
      const result = await ref.ask<number[]>((replyTo) => ({ replyTo }), { timeoutMs: 10 });
      await system.shutdown();
      return result;
    };
    expect(await draws(42)).toEqual(await draws(42));
    expect(await draws(42)).not.toEqual(await draws(43));
  });
});

describe('mailboxes', () => {
  test('a full mailbox refuses with mailbox_full and loses nothing already queued', async () => {
    // Proves back-pressure: refusal is explicit, and every accepted message is handled.
    const system = newSystem();
    const gate = deferred();
    const started = deferred();
    const handled: number[] = [];
    const ref = system.spawn<null, number>({
      name: 'slow',
      mailboxDepthMax: 3,
      initialState: () => null,
      async handle(state, message) {
        if (message === 1) {
          started.resolve();
          await gate.promise;
        }
        handled.push(message);
        return state;
      },
    });
    expect(ref.tell(1).ok).toBe(true);
    await started.promise;
    expect([ref.tell(2), ref.tell(3), ref.tell(4)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
    ]);
    expect(ref.tell(5)).toEqual({ ok: false, code: 'mailbox_full' });
    const refusedAsk = ref.ask<number>(() => 6, { timeoutMs: 10 });
    expect(await refusedAsk.catch((e: BerthError) => e.code)).toBe('mailbox_full');
    gate.resolve();
    await system.settle();
    expect(handled).toEqual([1, 2, 3, 4]);
    expect(ref.tell(7)).toEqual({ ok: true });
    await system.shutdown();
  });

  test('messages are handled one at a time, in order, even with async handlers', async () => {
    // Proves serial handling: earlier messages wait longer, yet never overlap or reorder.
    const system = newSystem();
    const events: string[] = [];
    let active = 0;
    let maxActive = 0;
    const ref = system.spawn<number, number>({
      name: 'serial',
      initialState: () => 0,
      async handle(count, message) {
        active += 1;
        maxActive = Math.max(maxActive, active);
        events.push(`start ${message}`);
        for (let i = 0; i < 10 - message; i += 1) await Promise.resolve();
        events.push(`end ${message}`);
        active -= 1;
        return count + 1;
      },
    });
    for (let i = 0; i < 10; i += 1) ref.tell(i);
    await system.settle();
    expect(maxActive).toBe(1);
    const expected = Array.from({ length: 10 }, (_, i) => [`start ${i}`, `end ${i}`]);
    expect(events).toEqual(expected.flat());
    await system.shutdown();
  });

  test('an actor with endless mail still yields to the event loop', async () => {
    // Proves fairness: a self-feeding actor does not starve timers and I/O callbacks.
    const system = newSystem();
    let handled = 0;
    const ref = system.spawn<null, 'again'>({
      name: 'busy',
      initialState: () => null,
      handle(state, _message, ctx) {
        handled += 1;
        ctx.self.tell('again');
        return state;
      },
    });
    ref.tell('again');
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(handled).toBeGreaterThan(0);
    expect(handled).toBeLessThanOrEqual(3 * limits.actorTurnMessagesMax);
    await system.shutdown();
  });
});

describe('stopping', () => {
  test('tell after stop answers actor_stopped and onStop ran once', async () => {
    // Proves a stopped actor refuses mail explicitly and released its resources.
    const system = newSystem();
    const reasons: StopReason[] = [];
    const ref = system.spawn<number, CounterMessage>({
      ...counter,
      onStop: (_state, reason) => {
        reasons.push(reason);
      },
    });
    ref.tell({ type: 'add', amount: 1 });
    await system.stop(ref);
    expect(ref.tell({ type: 'add', amount: 1 })).toEqual({ ok: false, code: 'actor_stopped' });
    const error = await ref
      .ask<number>((replyTo) => ({ type: 'get', replyTo }), { timeoutMs: 10 })
      .catch((e: BerthError) => e.code);
    expect(error).toBe('actor_stopped');
    await system.stop(ref);
    expect(reasons).toEqual([{ kind: 'stop' }]);
    await system.shutdown();
  });

  test('spawning into a stopped system is a bug; spawning while shutting down never starts', async () => {
    // Proves late spawns cannot resurrect a system: they refuse mail or fail an assertion.
    const system = newSystem();
    const shutdown = system.shutdown();
    expect(system.status).toBe('shutting_down');
    const late = system.spawn(counter);
    expect(late.tell({ type: 'add', amount: 1 })).toEqual({ ok: false, code: 'actor_stopped' });
    await shutdown;
    expect(system.status).toBe('stopped');
    expect(() => system.spawn(counter)).toThrow(AssertionError);
  });

  test('ctx.setTimer delivers on the sim clock and is cancelled when the actor stops', async () => {
    // Proves actor timers run on the injected clock and die with their incarnation.
    const clock = new SimClock();
    const system = newSystem(clock);
    const ticks: number[] = [];
    const ref = system.spawn<null, 'arm' | 'tick'>({
      name: 'ticker',
      initialState: () => null,
      handle(state, message, ctx) {
        if (message === 'arm') ctx.setTimer(100, 'tick');
        else ticks.push(ctx.clock.nowMs());
        return state;
      },
    });
    ref.tell('arm');
    await system.settle();
    clock.advance(100);
    await system.settle();
    expect(ticks).toEqual([100]);
    ref.tell('arm');
    await system.settle();
    expect(clock.pendingCount()).toBe(1);
    await system.stop(ref);
    expect(clock.pendingCount()).toBe(0);
    await system.shutdown();
  });
});
