/**
 * One actor: its stable reference, its bounded mailbox and the loop that handles one
 * message at a time to completion. The cell outlives its incarnations: a restart gives a
 * fresh state and context but keeps the reference and the mailbox.
 *
 * Mailbox on crash (a deliberate choice): the message whose handler threw is dropped —
 * retrying it would crash again — and every message queued behind it is kept and handled
 * by the next incarnation. Tells keep being accepted while the supervisor decides. When
 * the supervisor does not restart the actor (or halts it), the queued messages are
 * dropped and their count is logged; `tell` had answered `ok`, so an asker learns of the
 * loss only through its timeout.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { ask } from './ask.ts';
import type { Child, ChildExit, ExitListener, HaltReason, RuntimeEnv } from './child.ts';
import { describeError, yieldToEventLoop } from './event-loop.ts';
import { Mailbox } from './mailbox.ts';
import type {
  ActorContext,
  ActorDefinition,
  ActorRef,
  AskOptions,
  Recipient,
  RestartPolicy,
  StopReason,
  TellResult,
} from './types.ts';

type CellStatus =
  | 'new' // created under a supervisor that is not running; refuses mail
  | 'starting' // initialState in progress; accepts mail
  | 'running' // loop active; accepts mail
  | 'exiting' // threw or stopSelf; onStop in progress; accepts mail
  | 'exited' // waiting for the supervisor's decision; accepts mail
  | 'halting' // being stopped from outside; refuses mail
  | 'halted'; // stopped; a supervisor restart may start it again; refuses mail

interface Incarnation<S, M> {
  ctx: ActorContext<M>;
  state: S | undefined;
  hasState: boolean;
  stopRequested: boolean;
  onStopCalled: boolean;
  ended: boolean;
  timers: Set<() => void>;
}

export class ActorCell<S, M> implements Child {
  readonly name: string;
  readonly id: number;
  readonly restart: RestartPolicy;
  readonly ref: ActorRef<M>;
  #definition: ActorDefinition<S, M>;
  #env: RuntimeEnv;
  #parent: ExitListener;
  #logger: Logger;
  #mailbox: Mailbox<M>;
  #status: CellStatus = 'new';
  #retired = false;
  #incarnationCount = 0;
  #incarnation: Incarnation<S, M> | undefined;
  #loop: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  #haltDone: Promise<void> | undefined;

  constructor(
    env: RuntimeEnv,
    definition: ActorDefinition<S, M>,
    parent: ExitListener,
    restart: RestartPolicy,
  ) {
    this.#env = env;
    this.#definition = definition;
    this.#parent = parent;
    this.restart = restart;
    this.name = definition.name;
    this.id = env.nextId();
    this.#logger = env.logger.child({ actor: this.name, actorId: this.id });
    this.#mailbox = new Mailbox<M>(definition.mailboxDepthMax ?? limits.mailboxDepthMax);
    const target = { name: this.name, tell: (message: M) => this.tell(message) };
    this.ref = Object.freeze({
      name: this.name,
      id: this.id,
      tell: target.tell,
      ask: <R>(build: (replyTo: Recipient<R>) => M, options: AskOptions): Promise<R> =>
        ask<M, R>(env, target, build, options),
    });
  }

  /** Enqueues `message`; never runs the handler synchronously. */
  tell(message: M): TellResult {
    const accepting =
      this.#status === 'starting' ||
      this.#status === 'running' ||
      this.#status === 'exiting' ||
      this.#status === 'exited';
    if (this.#retired || !accepting) return { ok: false, code: 'actor_stopped' };
    if (!this.#mailbox.push(message)) return { ok: false, code: 'mailbox_full' };
    this.#wakeLoop();
    return { ok: true };
  }

  isAwaitingDecision(): boolean {
    return this.#status === 'exited';
  }

  isQuiet(): boolean {
    if (this.#status === 'new' || this.#status === 'halted') return true;
    return this.#status === 'running' && this.#wake !== undefined && this.#mailbox.size === 0;
  }

  start(): void {
    assert(!this.#retired, `actor ${this.name} is retired and cannot start`);
    assert(
      this.#status === 'new' || this.#status === 'exited' || this.#status === 'halted',
      `actor ${this.name} cannot start from status ${this.#status}`,
    );
    const restartCount = this.#incarnationCount;
    this.#incarnationCount += 1;
    const incarnation = this.#createIncarnation(restartCount);
    this.#incarnation = incarnation;
    this.#status = 'starting';
    if (restartCount > 0) this.#logger.info('actor restarted', { restartCount });
    this.#loop = this.#run(incarnation);
  }

  halt(reason: HaltReason): Promise<void> {
    if (this.#status === 'new' || this.#status === 'halted') return Promise.resolve();
    if (this.#haltDone) return this.#haltDone;
    this.#status = 'halting';
    this.#wakeLoop();
    this.#haltDone = this.#completeHalt(reason).finally(() => {
      this.#haltDone = undefined;
    });
    return this.#haltDone;
  }

  retire(): void {
    this.#retired = true;
    this.#dropMailbox('retired');
    this.#env.unregister(this);
  }

  async #completeHalt(reason: HaltReason): Promise<void> {
    // Waits for the in-flight handler (or initializer, or onStop after a crash) to end.
    await this.#loop;
    const incarnation = this.#incarnation;
    if (incarnation) {
      this.#endIncarnation(incarnation);
      await this.#callOnStop(incarnation, reason);
    }
    this.#dropMailbox(reason.kind);
    this.#status = 'halted';
    this.#logger.debug('actor stopped', { reason: reason.kind });
  }

  async #run(incarnation: Incarnation<S, M>): Promise<void> {
    let exit: ChildExit | null = null;
    try {
      const initial = this.#definition.initialState(incarnation.ctx);
      incarnation.state = initial instanceof Promise ? await initial : initial;
      incarnation.hasState = true;
    } catch (error) {
      exit = { kind: 'crash', error };
    }
    if (exit === null) {
      // Halted while initializing: halt() calls onStop and finishes the stop.
      if (this.#status !== 'starting') return;
      this.#status = 'running';
      exit = await this.#drain(incarnation);
    }
    if (exit !== null) await this.#exit(incarnation, exit);
  }

  /** Handles messages until the incarnation ends; null when halted from outside. */
  async #drain(incarnation: Incarnation<S, M>): Promise<ChildExit | null> {
    let turnMessages = 0;
    // The actor's service loop: it lives as long as the incarnation, and each pass
    // handles at most limits.actorTurnMessagesMax messages before yielding.
    for (;;) {
      if (this.#status !== 'running') return null;
      if (incarnation.stopRequested) return { kind: 'normal' };
      if (this.#mailbox.size === 0) {
        turnMessages = 0;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      const message = this.#mailbox.shift();
      try {
        const next = this.#definition.handle(incarnation.state as S, message, incarnation.ctx);
        incarnation.state = next instanceof Promise ? await next : next;
      } catch (error) {
        return { kind: 'crash', error };
      }
      turnMessages += 1;
      if (turnMessages >= limits.actorTurnMessagesMax) {
        turnMessages = 0;
        await yieldToEventLoop();
      }
    }
  }

  async #exit(incarnation: Incarnation<S, M>, exit: ChildExit): Promise<void> {
    if (this.#status === 'starting' || this.#status === 'running') this.#status = 'exiting';
    this.#endIncarnation(incarnation);
    if (exit.kind === 'crash') {
      this.#logger.warn('actor crashed', {
        restartCount: this.#incarnationCount - 1,
        error: describeError(exit.error),
      });
    }
    const reason: StopReason =
      exit.kind === 'crash' ? { kind: 'crash', error: exit.error } : { kind: 'normal' };
    await this.#callOnStop(incarnation, reason);
    // Halted meanwhile: halt() finishes the stop and the supervisor is not asked.
    if (this.#status !== 'exiting') return;
    this.#status = 'exited';
    this.#parent.childExited(this, exit);
  }

  async #callOnStop(incarnation: Incarnation<S, M>, reason: StopReason): Promise<void> {
    const onStop = this.#definition.onStop;
    if (!onStop || !incarnation.hasState || incarnation.onStopCalled) return;
    incarnation.onStopCalled = true;
    try {
      await onStop.call(this.#definition, incarnation.state as S, reason, incarnation.ctx);
    } catch (error) {
      this.#logger.error('actor onStop failed', { error: describeError(error) });
    }
  }

  #createIncarnation(restartCount: number): Incarnation<S, M> {
    const incarnation: Incarnation<S, M> = {
      ctx: undefined as unknown as ActorContext<M>,
      state: undefined,
      hasState: false,
      stopRequested: false,
      onStopCalled: false,
      ended: false,
      timers: new Set(),
    };
    incarnation.ctx = {
      self: this.ref,
      name: this.name,
      logger: this.#logger,
      clock: this.#env.clock,
      prng: this.#env.prng.fork(),
      restartCount,
      stopSelf: () => {
        incarnation.stopRequested = true;
        if (this.#incarnation === incarnation) this.#wakeLoop();
      },
      setTimer: (delayMs, message) => this.#setTimer(incarnation, delayMs, message),
    };
    return incarnation;
  }

  #setTimer(incarnation: Incarnation<S, M>, delayMs: number, message: M): () => void {
    assert(Number.isFinite(delayMs) && delayMs >= 0, `timer delayMs must be ≥ 0, got ${delayMs}`);
    assert(
      incarnation.timers.size < limits.actorTimersMax,
      `actor ${this.name} has ${limits.actorTimersMax} timers pending`,
    );
    if (incarnation.ended) return () => {};
    const cancel = (): void => {
      cancelClock();
      incarnation.timers.delete(cancel);
    };
    const cancelClock = this.#env.clock.setTimer(delayMs, () => {
      incarnation.timers.delete(cancel);
      if (incarnation.ended) return;
      const result = this.tell(message);
      if (!result.ok) this.#logger.warn('timer message refused', { code: result.code });
    });
    incarnation.timers.add(cancel);
    return cancel;
  }

  #endIncarnation(incarnation: Incarnation<S, M>): void {
    incarnation.ended = true;
    for (const cancel of [...incarnation.timers]) cancel();
  }

  #wakeLoop(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #dropMailbox(why: string): void {
    const dropped = this.#mailbox.clear();
    if (dropped > 0) this.#logger.warn('actor mailbox dropped', { dropped, why });
  }
}
