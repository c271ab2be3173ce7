/**
 * Internal contract between a supervisor and what it supervises (an actor cell or another
 * supervisor), and the environment the system shares with them. Not exported from
 * `index.ts`.
 */
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Prng } from '../core/prng.ts';
import type { RestartPolicy, StopReason } from './types.ts';

/** How a child ended on its own: normally (stopSelf) or abnormally (it threw). */
export type ChildExit = { kind: 'normal' } | { kind: 'crash'; error: unknown };

/** Receives a child's exit. Must only enqueue work: it is called from the child's loop. */
export interface ExitListener {
  childExited(child: Child, exit: ChildExit): void;
}

/** Halt reasons a supervisor or the system imposes from outside. */
export type HaltReason = Extract<StopReason, { kind: 'stop' | 'shutdown' | 'escalation' }>;

export interface Child {
  readonly name: string;
  readonly id: number;
  readonly restart: RestartPolicy;
  /** True while the child has exited on its own and waits for its supervisor's decision. */
  isAwaitingDecision(): boolean;
  /** Starts a fresh incarnation (fresh state). Legal when new, exited or halted. */
  start(): void;
  /** Ends the current incarnation, waiting for in-flight work. Idempotent. */
  halt(reason: HaltReason): Promise<void>;
  /** Marks the child as gone for good: it never starts again and refuses messages. */
  retire(): void;
  /** True when nothing is running or queued (used by `ActorSystem.settle`). */
  isQuiet(): boolean;
}

/** What the system shares with every cell and supervisor. */
export interface RuntimeEnv {
  readonly clock: Clock;
  readonly prng: Prng;
  readonly logger: Logger;
  nextId(): number;
  /** Registers a child so `settle` can see it; unregistered once retired. */
  register(child: Child): void;
  unregister(child: Child): void;
  /** Counts pending asks against limits.asksInFlightMax; false when none is left. */
  acquireAsk(): boolean;
  releaseAsk(): void;
}
