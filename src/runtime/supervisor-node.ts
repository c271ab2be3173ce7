/**
 * A one-for-one supervisor (Erlang/OTP): when a child exits, only that child is
 * restarted, according to its restart policy, as long as the restart intensity allows.
 * One restart too many and the supervisor stops all its children (reverse start order),
 * then exits abnormally itself, so its parent treats it as a crashed child. Restarting a
 * supervisor restarts all its children with fresh state and a fresh restart history.
 *
 * Every decision runs through one serial operation queue, so a child's exit, a
 * `system.stop` and a halt from the parent never interleave half-way.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import type { Child, ChildExit, ExitListener, HaltReason, RuntimeEnv } from './child.ts';
import { RestartIntensityError } from './errors.ts';
import { describeError } from './event-loop.ts';
import {
  assertRestartIntensity,
  type RestartIntensity,
  recordRestart,
} from './restart-intensity.ts';
import type { RestartPolicy, SupervisorDefinition, SupervisorRef } from './types.ts';

type SupervisorStatus = 'new' | 'running' | 'escalating' | 'exited' | 'halting' | 'halted';

/** OTP: permanent always, transient only after a crash, temporary never. */
export function shouldRestart(policy: RestartPolicy, exit: ChildExit): boolean {
  if (policy === 'permanent') return true;
  if (policy === 'transient') return exit.kind === 'crash';
  return false;
}

export class SupervisorNode implements Child, ExitListener {
  readonly name: string;
  readonly id: number;
  readonly restart: RestartPolicy;
  readonly ref: SupervisorRef;
  #env: RuntimeEnv;
  #parent: ExitListener;
  #logger: Logger;
  #intensity: RestartIntensity;
  #children: Child[] = [];
  #status: SupervisorStatus = 'new';
  #retired = false;
  #historyMs: number[] = [];
  #ops: Promise<void> = Promise.resolve();
  #pendingOps = 0;

  constructor(
    env: RuntimeEnv,
    definition: SupervisorDefinition,
    parent: ExitListener,
    restart: RestartPolicy,
  ) {
    this.#env = env;
    this.#parent = parent;
    this.restart = restart;
    this.name = definition.name;
    this.id = env.nextId();
    this.#logger = env.logger.child({ supervisor: this.name, supervisorId: this.id });
    this.#intensity = {
      restartIntensityMax: definition.restartIntensityMax ?? limits.restartIntensityMax,
      restartPeriodMs: definition.restartPeriodMs ?? limits.restartPeriodMs,
    };
    assertRestartIntensity(this.#intensity);
    this.ref = Object.freeze({ kind: 'supervisor', name: this.name, id: this.id });
  }

  get isRunning(): boolean {
    return this.#status === 'running';
  }

  /** Adds a child at the end of the start order and starts it if this supervisor runs. */
  addChild(child: Child): void {
    assert(!this.#retired, `supervisor ${this.name} is retired`);
    assert(
      this.#children.length < limits.supervisorChildrenMax,
      `supervisor ${this.name} already has ${limits.supervisorChildrenMax} children`,
    );
    this.#children.push(child);
    if (this.#status === 'running') child.start();
  }

  /** Stops `child` for good (never restarted), waiting for its in-flight work. */
  removeChild(child: Child, reason: HaltReason): Promise<void> {
    return this.#enqueue(async () => {
      const index = this.#children.indexOf(child);
      if (index < 0) return;
      this.#children.splice(index, 1);
      await child.halt(reason);
      child.retire();
    });
  }

  childExited(child: Child, exit: ChildExit): void {
    void this.#enqueue(() => this.#handleExit(child, exit));
  }

  isAwaitingDecision(): boolean {
    return this.#status === 'exited';
  }

  isQuiet(): boolean {
    return this.#pendingOps === 0;
  }

  start(): void {
    assert(!this.#retired, `supervisor ${this.name} is retired and cannot start`);
    assert(
      this.#status === 'new' || this.#status === 'exited' || this.#status === 'halted',
      `supervisor ${this.name} cannot start from status ${this.#status}`,
    );
    this.#status = 'running';
    this.#historyMs = [];
    for (const child of this.#children) child.start();
  }

  halt(reason: HaltReason): Promise<void> {
    // Leave `running` at once, so that exits already queued are not restarted and
    // children added from now on do not start, even before the halt reaches the queue.
    if (this.#status === 'running') this.#status = 'halting';
    return this.#enqueue(async () => {
      if (this.#status === 'halted' || this.#status === 'new') return;
      this.#status = 'halting';
      await this.#haltChildren(reason);
      this.#status = 'halted';
    });
  }

  retire(): void {
    this.#retired = true;
    for (const child of this.#children) child.retire();
    this.#children = [];
    this.#env.unregister(this);
  }

  async #handleExit(child: Child, exit: ChildExit): Promise<void> {
    // A child halted by this supervisor (or removed) after it exited needs no decision.
    if (this.#status !== 'running' || !child.isAwaitingDecision()) return;
    if (!this.#children.includes(child)) return;
    if (!shouldRestart(child.restart, exit)) {
      this.#children.splice(this.#children.indexOf(child), 1);
      await child.halt({ kind: 'stop' });
      child.retire();
      this.#logger.debug('child not restarted', { child: child.name, policy: child.restart });
      return;
    }
    const decision = recordRestart(this.#historyMs, this.#env.clock.nowMs(), this.#intensity);
    this.#historyMs = decision.historyMs;
    if (decision.exceeded) {
      await this.#escalate(child, exit);
      return;
    }
    child.start();
  }

  async #escalate(child: Child, exit: ChildExit): Promise<void> {
    this.#status = 'escalating';
    const cause = exit.kind === 'crash' ? exit.error : undefined;
    const error = new RestartIntensityError(this.name, child.name, cause);
    this.#logger.error('supervisor escalating', {
      child: child.name,
      restartIntensityMax: this.#intensity.restartIntensityMax,
      restartPeriodMs: this.#intensity.restartPeriodMs,
      error: describeError(cause),
    });
    await this.#haltChildren({ kind: 'escalation' });
    this.#status = 'exited';
    this.#parent.childExited(this, { kind: 'crash', error });
  }

  /** Halts children one by one in reverse start order, each finishing before the next. */
  async #haltChildren(reason: HaltReason): Promise<void> {
    for (const child of [...this.#children].reverse()) await child.halt(reason);
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    // Pending operations come from child exits (at most one per child) and from halt or
    // remove requests, so twice the child bound plus one covers every legitimate case.
    assert(
      this.#pendingOps <= 2 * limits.supervisorChildrenMax,
      `supervisor ${this.name} has too many pending operations`,
    );
    this.#pendingOps += 1;
    const run = this.#ops.then(op).finally(() => {
      this.#pendingOps -= 1;
    });
    this.#ops = run.catch((error: unknown) => {
      this.#logger.error('supervisor operation failed', { error: describeError(error) });
    });
    return run;
  }
}
