/**
 * The public contract of the actor runtime: references, definitions, contexts and the
 * results they return. The runtime itself lives in `actor-system.ts`; pure actor logic
 * lives in `actors/` and is called from a definition's `handle`.
 */
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Prng } from '../core/prng.ts';

/** Why a `tell` was refused. The message was not enqueued; nothing is lost silently. */
export type TellRefusal = 'mailbox_full' | 'actor_stopped';

/** What `tell` returns: accepted into the mailbox, or refused with a stable code. */
export type TellResult = { ok: true } | { ok: false; code: TellRefusal };

/**
 * Anything that accepts messages of type `M`: an actor, or the one-shot reply slot of an
 * `ask`. `tell` is a property, not a method, so TypeScript checks its parameter strictly
 * (contravariantly): a `Recipient<A>` is not a `Recipient<A | B>`.
 */
export interface Recipient<M> {
  readonly tell: (message: M) => TellResult;
}

/** Options of `ask`. The timeout is mandatory: nothing at the edges waits forever. */
export interface AskOptions {
  /** How long to wait for the reply, in ms: > 0 and ≤ limits.askTimeoutMsMax. */
  timeoutMs: number;
}

/**
 * A reference to a running actor. It stays valid across restarts: a restarted actor
 * keeps its reference and its mailbox. Once the actor is stopped for good, `tell`
 * answers `actor_stopped`.
 */
export interface ActorRef<M> extends Recipient<M> {
  readonly name: string;
  /** Unique within the actor system; stable across restarts. */
  readonly id: number;
  /**
   * Sends the message built around a one-shot reply slot and waits for the reply.
   * Rejects with `AskTimeoutError` (code `ask_timeout`) when no reply arrives within
   * `timeoutMs` on the system's clock, with a BerthError coded `mailbox_full` or
   * `actor_stopped` when the message is refused, or `asks_exhausted` when too many
   * asks are pending. Throws an AssertionError at once for a bad timeout (a bug).
   */
  readonly ask: <R>(build: (replyTo: Recipient<R>) => M, options: AskOptions) => Promise<R>;
}

/** An opaque reference to a supervisor, used to place children under it and to stop it. */
export interface SupervisorRef {
  readonly kind: 'supervisor';
  readonly name: string;
  readonly id: number;
}

/**
 * OTP restart policies. `permanent`: always restarted, even after a normal exit.
 * `transient`: restarted only after an abnormal exit (the handler threw). `temporary`:
 * never restarted.
 */
export type RestartPolicy = 'permanent' | 'transient' | 'temporary';

/**
 * Why an actor incarnation ended, as passed to `onStop`. `normal`: it called
 * `ctx.stopSelf()`. `crash`: its initializer or handler threw. `stop`: `system.stop` or
 * its supervisor retired it. `shutdown`: `system.shutdown()`. `escalation`: its
 * supervisor exceeded its restart intensity and stopped all its children.
 */
export type StopReason =
  | { kind: 'normal' }
  | { kind: 'crash'; error: unknown }
  | { kind: 'stop' }
  | { kind: 'shutdown' }
  | { kind: 'escalation' };

/** What an actor sees while it runs. One context per incarnation. */
export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
  /** Logger with `actor` and `actorId` fields already set. */
  readonly logger: Logger;
  /** The system's clock. Shell handlers may read it; pure logic receives ticks instead. */
  readonly clock: Clock;
  /** A generator forked from the system's for this incarnation (deterministic under a seed). */
  readonly prng: Prng;
  /** How many times this actor has been restarted before this incarnation. */
  readonly restartCount: number;
  /**
   * Ends this incarnation normally once the current message is handled. Whether it is
   * restarted follows its restart policy (a permanent actor is).
   */
  stopSelf(): void;
  /**
   * Tells `message` to self after `delayMs` on the system clock. Cancelled when this
   * incarnation ends. Returns a function that cancels it.
   */
  setTimer(delayMs: number, message: M): () => void;
}

/**
 * How to run an actor. `initialState` and `handle` may be async (shell actors do I/O);
 * either way one message is handled to completion before the next one starts.
 */
export interface ActorDefinition<S, M> {
  /** For logs and errors; need not be unique. */
  readonly name: string;
  /** Mailbox capacity in messages; defaults to limits.mailboxDepthMax. */
  readonly mailboxDepthMax?: number;
  /** Builds a fresh state; called at start and at every restart. Throwing is a crash. */
  initialState(ctx: ActorContext<M>): S | Promise<S>;
  /** Handles one message and returns the next state. Throwing is a crash. */
  handle(state: S, message: M, ctx: ActorContext<M>): S | Promise<S>;
  /** Releases what the incarnation holds. Errors here are logged, never propagated. */
  onStop?(state: S, reason: StopReason, ctx: ActorContext<M>): void | Promise<void>;
}

/** How a supervisor restarts its children (one-for-one). */
export interface SupervisorDefinition {
  readonly name: string;
  /** Restarts allowed within `restartPeriodMs` before escalating; default limits.restartIntensityMax. 0 escalates at the first exit that would restart. */
  readonly restartIntensityMax?: number;
  /** The window for counting restarts, in ms on the system clock; default limits.restartPeriodMs. */
  readonly restartPeriodMs?: number;
}

/** Where to place a new child and how to restart it. */
export interface SpawnOptions {
  /** The parent supervisor; the system's root supervisor when absent. */
  supervisor?: SupervisorRef;
  /** Default `permanent`, as in OTP. */
  restart?: RestartPolicy;
}
