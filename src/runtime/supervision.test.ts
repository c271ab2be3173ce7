import { describe, expect, test } from 'bun:test';
import { assert } from '../core/assert.ts';
import { SimClock } from '../core/clock.ts';
import { createLogger } from '../core/logger.ts';
import { createPrng } from '../core/prng.ts';
import { ActorSystem, type ActorSystemOptions } from './actor-system.ts';
import { RestartIntensityError } from './errors.ts';
import type {
  ActorDefinition,
  ActorRef,
  Recipient,
  RestartPolicy,
  StopReason,
  SupervisorRef,
} from './types.ts';

type WorkerMessage =
  | { type: 'add'; amount: number }
  | { type: 'crash' }
  | { type: 'assert' }
  | { type: 'quit' }
  | { type: 'get'; replyTo: Recipient<{ total: number; restartCount: number }> };

interface Journal {
  starts: string[];
  stops: { name: string; reason: StopReason['kind'] }[];
}

function worker(name: string, journal: Journal): ActorDefinition<number, WorkerMessage> {
  return {
    name,
    initialState: () => {
      journal.starts.push(name);
      return 0;
    },
    handle(total, message, ctx) {
      switch (message.type) {
        case 'add':
          return total + message.amount;
        case 'crash':
          throw new Error(`${name} crashed on purpose`);
        case 'assert':
          assert(false, `${name} hit an assertion`);
          return total;
        case 'quit':
          ctx.stopSelf();
          return total;
        case 'get':
          message.replyTo.tell({ total, restartCount: ctx.restartCount });
          return total;
      }
    },
    onStop: (_total, reason) => {
      journal.stops.push({ name, reason: reason.kind });
    },
  };
}

function setup(options: Partial<ActorSystemOptions> = {}): {
  system: ActorSystem;
  clock: SimClock;
  journal: Journal;
  escalations: RestartIntensityError[];
} {
  const clock = new SimClock();
  const escalations: RestartIntensityError[] = [];
  const system = new ActorSystem({
    clock,
    prng: createPrng(11),
    onEscalate: (error) => escalations.push(error),
    ...options,
  });
  return { system, clock, journal: { starts: [], stops: [] }, escalations };
}

function get(ref: ActorRef<WorkerMessage>): Promise<{ total: number; restartCount: number }> {
  return ref.ask((replyTo) => ({ type: 'get', replyTo }), { timeoutMs: 1_000 });
}

describe('restarts', () => {
  test('a crashed actor restarts with fresh state and its queued mail survives', async () => {
    // Proves crash → restart: fresh initialState, same ref, messages behind the crash kept.
    const { system, journal } = setup();
    const ref = system.spawn(worker('w', journal));
    ref.tell({ type: 'add', amount: 5 });
    ref.tell({ type: 'crash' });
    ref.tell({ type: 'add', amount: 2 });
    expect(await get(ref)).toEqual({ total: 2, restartCount: 1 });
    expect(journal.starts).toEqual(['w', 'w']);
    expect(journal.stops).toEqual([{ name: 'w', reason: 'crash' }]);
    await system.shutdown();
  });

  test('crashes and restarts are logged with the actor name and restart count', async () => {
    // Proves structured logging through the injected logger (quiet unless asked).
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', sink: (line) => lines.push(JSON.parse(line)) });
    const { system, journal } = setup({ logger });
    const ref = system.spawn(worker('w', journal));
    ref.tell({ type: 'crash' });
    await system.settle();
    const crash = lines.find((line) => line.msg === 'actor crashed');
    expect(crash).toMatchObject({ level: 'warn', actor: 'w', actorId: ref.id, restartCount: 0 });
    expect(String(crash?.error)).toContain('w crashed on purpose');
    const restart = lines.find((line) => line.msg === 'actor restarted');
    expect(restart).toMatchObject({ level: 'info', actor: 'w', restartCount: 1 });
    await system.shutdown();
  });

  test('an assertion failure is a crash like any other throw', async () => {
    // Proves STYLE.md rule 8: an AssertionError crashes the actor and it is restarted.
    const { system, journal } = setup();
    const ref = system.spawn(worker('w', journal));
    ref.tell({ type: 'add', amount: 1 });
    ref.tell({ type: 'assert' });
    expect(await get(ref)).toEqual({ total: 0, restartCount: 1 });
    await system.shutdown();
  });

  test('restart policies follow OTP: permanent, transient, temporary', async () => {
    // Proves which exits restart which policy: permanent always, transient on crash only,
    // temporary never.
    const { system, journal } = setup({ root: { restartIntensityMax: 10 } });
    const spawn = (name: string, restart: RestartPolicy) =>
      system.spawn(worker(name, journal), { restart });
    const permanentQuit = spawn('permanent-quit', 'permanent');
    const permanentCrash = spawn('permanent-crash', 'permanent');
    const transientQuit = spawn('transient-quit', 'transient');
    const transientCrash = spawn('transient-crash', 'transient');
    const temporaryCrash = spawn('temporary-crash', 'temporary');
    permanentQuit.tell({ type: 'quit' });
    permanentCrash.tell({ type: 'crash' });
    transientQuit.tell({ type: 'quit' });
    transientCrash.tell({ type: 'crash' });
    temporaryCrash.tell({ type: 'crash' });
    await system.settle();
    const add = { type: 'add', amount: 1 } as const;
    expect(permanentQuit.tell(add)).toEqual({ ok: true });
    expect(permanentCrash.tell(add)).toEqual({ ok: true });
    expect(transientQuit.tell(add)).toEqual({ ok: false, code: 'actor_stopped' });
    expect(transientCrash.tell(add)).toEqual({ ok: true });
    expect(temporaryCrash.tell(add)).toEqual({ ok: false, code: 'actor_stopped' });
    expect((await get(permanentQuit)).restartCount).toBe(1);
    expect((await get(transientCrash)).restartCount).toBe(1);
    expect(journal.stops.find((s) => s.name === 'transient-quit')?.reason).toBe('normal');
    await system.shutdown();
  });

  test('an initializer that always throws is bounded by the restart intensity', async () => {
    // Proves a crash loop in initialState cannot spin forever: the root gives up.
    const { system, escalations } = setup({ root: { restartIntensityMax: 2 } });
    let attempts = 0;
    system.spawn<null, never>({
      name: 'broken',
      initialState: () => {
        attempts += 1;
        throw new Error('cannot open');
      },
      handle: (state) => state,
    });
    await system.settle();
    expect(attempts).toBe(3);
    expect(escalations).toHaveLength(1);
    expect(system.status).toBe('escalated');
    await system.shutdown();
  });
});

describe('restart intensity and escalation', () => {
  test('past its intensity a supervisor stops its children and escalates to the root hook', async () => {
    // Proves escalation: children stopped (reason escalation), root hook gets the cause.
    const { system, journal, escalations } = setup({ root: { restartIntensityMax: 0 } });
    const sup = system.spawnSupervisor({
      name: 'sup',
      restartIntensityMax: 2,
      restartPeriodMs: 1_000,
    });
    const sibling = system.spawn(worker('sibling', journal), { supervisor: sup });
    const flaky = system.spawn(worker('flaky', journal), { supervisor: sup });
    for (let i = 0; i < 2; i += 1) {
      flaky.tell({ type: 'crash' });
      await system.settle();
    }
    expect(escalations).toHaveLength(0);
    flaky.tell({ type: 'crash' });
    await system.settle();
    expect(escalations).toHaveLength(1);
    const rootError = escalations[0]!;
    expect(rootError.code).toBe('restart_intensity_exceeded');
    expect(rootError.supervisorName).toBe('root');
    const supError = rootError.cause as RestartIntensityError;
    expect(supError).toBeInstanceOf(RestartIntensityError);
    expect(supError.supervisorName).toBe('sup');
    expect(supError.childName).toBe('flaky');
    expect((supError.cause as Error).message).toBe('flaky crashed on purpose');
    expect(journal.stops.filter((s) => s.name === 'sibling')).toEqual([
      { name: 'sibling', reason: 'escalation' },
    ]);
    expect(sibling.tell({ type: 'add', amount: 1 })).toEqual({ ok: false, code: 'actor_stopped' });
    expect(system.status).toBe('escalated');
    await system.shutdown();
  });

  test('restarts spread wider than the period never escalate', async () => {
    // Proves the window is measured on the injected clock and slides.
    const { system, clock, journal, escalations } = setup({
      root: { restartIntensityMax: 1, restartPeriodMs: 1_000 },
    });
    const ref = system.spawn(worker('w', journal));
    for (let i = 0; i < 5; i += 1) {
      ref.tell({ type: 'crash' });
      await system.settle();
      clock.advance(1_001);
    }
    expect(escalations).toHaveLength(0);
    expect((await get(ref)).restartCount).toBe(5);
    await system.shutdown();
  });

  test('nested supervisors: a child supervisor restarts whole, its siblings keep state', async () => {
    // Proves one-for-one at every level and escalation through two levels to the root.
    const { system, journal, escalations } = setup({ root: { restartIntensityMax: 0 } });
    const outer = system.spawnSupervisor({ name: 'outer', restartIntensityMax: 1 });
    const inner = system.spawnSupervisor(
      { name: 'inner', restartIntensityMax: 0 },
      { supervisor: outer },
    );
    const leaf = system.spawn(worker('leaf', journal), { supervisor: inner });
    const steady = system.spawn(worker('steady', journal), { supervisor: outer });
    leaf.tell({ type: 'add', amount: 4 });
    steady.tell({ type: 'add', amount: 9 });
    leaf.tell({ type: 'crash' });
    await system.settle();
    // inner escalated at once; outer restarted inner, which restarted leaf fresh.
    expect(await get(leaf)).toEqual({ total: 0, restartCount: 1 });
    expect(await get(steady)).toEqual({ total: 9, restartCount: 0 });
    expect(journal.stops).toEqual([{ name: 'leaf', reason: 'crash' }]);
    expect(escalations).toHaveLength(0);
    leaf.tell({ type: 'crash' });
    await system.settle();
    expect(escalations).toHaveLength(1);
    const outerError = escalations[0]!.cause as RestartIntensityError;
    expect(outerError.supervisorName).toBe('outer');
    expect(outerError.childName).toBe('inner');
    expect((outerError.cause as RestartIntensityError).supervisorName).toBe('inner');
    expect(steady.tell({ type: 'add', amount: 1 })).toEqual({ ok: false, code: 'actor_stopped' });
    await system.shutdown();
  });

  test('a supervisor stopped with system.stop takes its children down and is not restarted', async () => {
    // Proves stop(SupervisorRef): children halt in reverse order and refuse mail afterwards.
    const { system, journal } = setup();
    const sup: SupervisorRef = system.spawnSupervisor({ name: 'sup' });
    const a = system.spawn(worker('a', journal), { supervisor: sup });
    const b = system.spawn(worker('b', journal), { supervisor: sup });
    await system.stop(sup);
    expect(journal.stops).toEqual([
      { name: 'b', reason: 'stop' },
      { name: 'a', reason: 'stop' },
    ]);
    expect(a.tell({ type: 'add', amount: 1 })).toEqual({ ok: false, code: 'actor_stopped' });
    expect(b.tell({ type: 'add', amount: 1 })).toEqual({ ok: false, code: 'actor_stopped' });
    await system.shutdown();
  });
});

describe('shutdown', () => {
  test('stops everything in reverse start order, supervisors with their children', async () => {
    // Proves shutdown order: last started first, a supervisor's subtree as one unit.
    const { system, journal } = setup();
    system.spawn(worker('a', journal));
    const sup = system.spawnSupervisor({ name: 'sup' });
    system.spawn(worker('x', journal), { supervisor: sup });
    system.spawn(worker('y', journal), { supervisor: sup });
    system.spawn(worker('b', journal));
    await system.settle();
    await system.shutdown();
    expect(journal.stops.map((s) => s.name)).toEqual(['b', 'y', 'x', 'a']);
    expect(journal.stops.every((s) => s.reason === 'shutdown')).toBe(true);
    expect(system.status).toBe('stopped');
  });

  test('waits for the in-flight handler, and its new state reaches onStop', async () => {
    // Proves shutdown never cuts a handler short: it awaits it before calling onStop.
    const { system } = setup();
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = (): void => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const finalStates: number[] = [];
    const ref = system.spawn<number, number>({
      name: 'slow',
      initialState: () => 0,
      async handle(total, amount) {
        started();
        await gate;
        return total + amount;
      },
      onStop: (total) => {
        finalStates.push(total);
      },
    });
    ref.tell(7);
    await running;
    let done = false;
    const shutdown = system.shutdown().then(() => {
      done = true;
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    expect(finalStates).toEqual([]);
    release();
    await shutdown;
    expect(finalStates).toEqual([7]);
  });
});
