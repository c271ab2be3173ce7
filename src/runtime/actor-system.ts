/**
 * The actor system of one Berth process (DESIGN.md §1): it spawns actors and
 * supervisors under an implicit root supervisor, stops them, and shuts everything down
 * in reverse start order. Time comes from the injected clock and randomness from the
 * injected generator, so a simulation can run the same system on a SimClock and a seed.
 */
import { assert } from '../core/assert.ts';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { createPrng, type Prng } from '../core/prng.ts';
import { ActorCell } from './actor-cell.ts';
import type { Child, ChildExit, ExitListener, RuntimeEnv } from './child.ts';
import { RestartIntensityError } from './errors.ts';
import { describeError, yieldToEventLoop } from './event-loop.ts';
import { SupervisorNode } from './supervisor-node.ts';
import type {
  ActorDefinition,
  ActorRef,
  SpawnOptions,
  SupervisorDefinition,
  SupervisorRef,
} from './types.ts';

export interface ActorSystemOptions {
  clock: Clock;
  /** Source of every actor's generator. Simulations pass a seeded one; default: seeded from crypto. */
  prng?: Prng;
  /** Default silentLogger (quiet). */
  logger?: Logger;
  /**
   * Called once when the root supervisor exceeds its restart intensity and has stopped
   * everything. The process cannot heal itself past this point: the agent should exit
   * and let the host's service manager restart it. Default: log the error.
   */
  onEscalate?: (error: RestartIntensityError) => void;
  /** Restart intensity of the root supervisor; keep it low (STYLE.md: low near the root). */
  root?: Omit<SupervisorDefinition, 'name'>;
}

/**
 * `running`; `escalated` (the root gave up: everything is stopped); `shutting_down`;
 * `stopped`.
 */
export type ActorSystemStatus = 'running' | 'escalated' | 'shutting_down' | 'stopped';

interface Placement {
  child: Child;
  parent: SupervisorNode;
}

export class ActorSystem {
  #env: RuntimeEnv;
  #root: SupervisorNode;
  #status: ActorSystemStatus = 'running';
  #onEscalate: (error: RestartIntensityError) => void;
  #registered = new Set<Child>();
  #placements = new WeakMap<object, Placement>();
  #supervisors = new WeakMap<object, SupervisorNode>();
  #idSeq = 0;
  #asksInFlight = 0;
  #shutdownDone: Promise<void> | undefined;

  constructor(options: ActorSystemOptions) {
    const logger = options.logger ?? silentLogger;
    this.#env = {
      clock: options.clock,
      prng: options.prng ?? createPrng(crypto.getRandomValues(new Uint32Array(1))[0] ?? 0),
      logger,
      nextId: () => ++this.#idSeq,
      register: (child) => this.#registered.add(child),
      unregister: (child) => this.#registered.delete(child),
      acquireAsk: () => {
        if (this.#asksInFlight >= limits.asksInFlightMax) return false;
        this.#asksInFlight += 1;
        return true;
      },
      releaseAsk: () => {
        this.#asksInFlight -= 1;
      },
    };
    this.#onEscalate =
      options.onEscalate ??
      ((error) => logger.error('root supervisor gave up', { error: describeError(error.cause) }));
    const rootListener: ExitListener = {
      childExited: (_child, exit) => this.#rootExited(exit),
    };
    this.#root = new SupervisorNode(
      this.#env,
      { name: 'root', ...options.root },
      rootListener,
      'permanent',
    );
    this.#env.register(this.#root);
    this.#supervisors.set(this.#root.ref, this.#root);
    this.#root.start();
  }

  get status(): ActorSystemStatus {
    return this.#status;
  }

  /** Pending asks across the system (bounded by limits.asksInFlightMax). */
  get asksInFlight(): number {
    return this.#asksInFlight;
  }

  /**
   * Spawns an actor under `options.supervisor` (default: the root) with restart policy
   * `options.restart` (default `permanent`). It starts at once if its supervisor runs;
   * otherwise it starts when that supervisor is restarted, and refuses mail until then.
   */
  spawn<S, M>(definition: ActorDefinition<S, M>, options: SpawnOptions = {}): ActorRef<M> {
    const parent = this.#parentOf(options);
    const cell = new ActorCell<S, M>(this.#env, definition, parent, options.restart ?? 'permanent');
    this.#place(cell, cell.ref, parent);
    return cell.ref;
  }

  /** Creates a one-for-one supervisor to place children under. */
  spawnSupervisor(definition: SupervisorDefinition, options: SpawnOptions = {}): SupervisorRef {
    const parent = this.#parentOf(options);
    const node = new SupervisorNode(this.#env, definition, parent, options.restart ?? 'permanent');
    this.#supervisors.set(node.ref, node);
    this.#place(node, node.ref, parent);
    return node.ref;
  }

  /**
   * Stops an actor or a supervisor (with its children) for good: it is not restarted,
   * whatever its policy. Resolves once its in-flight handler and `onStop` are done.
   * An actor must not await its own stop from inside its handler (use `ctx.stopSelf()`).
   */
  stop(ref: ActorRef<never> | SupervisorRef): Promise<void> {
    const placement = this.#placements.get(ref);
    assert(placement !== undefined, `unknown reference ${ref.name}#${ref.id}`);
    return placement.parent.removeChild(placement.child, { kind: 'stop' });
  }

  /**
   * Stops everything, each supervisor halting its children in reverse start order and
   * waiting for each in-flight handler before the next. Idempotent.
   */
  shutdown(): Promise<void> {
    if (!this.#shutdownDone) {
      this.#status = 'shutting_down';
      this.#shutdownDone = (async () => {
        await this.#root.halt({ kind: 'shutdown' });
        this.#root.retire();
        this.#status = 'stopped';
      })();
    }
    return this.#shutdownDone;
  }

  /**
   * Resolves once every mailbox is empty, no handler runs and no supervisor decision is
   * pending. For tests and simulations: a handler awaiting something that never comes
   * (such as a SimClock timer nobody advances) keeps it from settling; it then rejects
   * with code `settle_exhausted` after limits.settleRoundsMax event-loop rounds.
   */
  async settle(): Promise<void> {
    for (let round = 0; round < limits.settleRoundsMax; round += 1) {
      await yieldToEventLoop();
      if (this.#isQuiet()) return;
    }
    throw new BerthError('settle_exhausted', 'the actor system did not settle');
  }

  #isQuiet(): boolean {
    for (const child of this.#registered) if (!child.isQuiet()) return false;
    return true;
  }

  #parentOf(options: SpawnOptions): SupervisorNode {
    if (!options.supervisor) return this.#root;
    const parent = this.#supervisors.get(options.supervisor);
    assert(parent !== undefined, `unknown supervisor ${options.supervisor.name}`);
    return parent;
  }

  #place(child: Child, ref: object, parent: SupervisorNode): void {
    this.#env.register(child);
    this.#placements.set(ref, { child, parent });
    parent.addChild(child);
  }

  #rootExited(exit: ChildExit): void {
    if (this.#status !== 'running') return;
    this.#status = 'escalated';
    const error =
      exit.kind === 'crash' && exit.error instanceof RestartIntensityError
        ? exit.error
        : new RestartIntensityError('root', 'root', exit.kind === 'crash' ? exit.error : exit);
    try {
      this.#onEscalate(error);
    } catch (hookError) {
      this.#env.logger.error('onEscalate hook failed', { error: describeError(hookError) });
    }
  }
}
