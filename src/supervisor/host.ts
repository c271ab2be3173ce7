/**
 * The container supervisor's imperative shell (DESIGN.md §3). It owns the pure actor's
 * state and feeds it messages — the desired set from the agent, the driver's task list,
 * task events, driver and probe results, ticks — and executes the effects each step
 * returns:
 *
 * - Effects of one allocation run in order in its lane (a stop finishes before the remove,
 *   and both before a `complete` is proposed); different allocations run concurrently.
 * - A start resolves the allocation's secrets just before `driver.start`, so plaintext
 *   never enters the actor's state, effects or logs.
 * - A status proposal is retried with backoff (limits.supervisorProposeAttemptsMax); when
 *   it still fails, the actor hears `proposal_failed` and may propose it again later.
 * - Every allocation's output is followed into a bounded ring buffer for `logs()`.
 *
 * The host never stops tasks on `close()`: an agent restart leaves them running, and the
 * next host adopts them by their labels.
 */

import type {
  SupervisorEffect,
  SupervisorMessage,
  SupervisorState,
} from '../../actors/container-supervisor/index.ts';
import { createSupervisorState, step } from '../../actors/container-supervisor/index.ts';
import { parseSupervisorMessage } from '../../actors/container-supervisor/messages.ts';
import type { AllocStatus, DesiredAllocation } from '../../actors/container-supervisor/types.ts';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { createPrng, type Prng } from '../core/prng.ts';
import type { LogLine, TaskDriver, TaskEvent, TaskHandle } from '../drivers/driver.ts';
import { EffectLanes } from './effect-lanes.ts';
import {
  type SupervisorHostConfig,
  type SupervisorHostConfigInput,
  SupervisorHostConfigSchema,
} from './host-config.ts';
import { LogBuffer, type LogQuery } from './log-buffer.ts';
import { runProbe } from './probes.ts';

/** A status transition for the agent to propose to Raft (an `allocation_status` command). */
export interface StatusProposal {
  allocId: string;
  status: AllocStatus;
  reason: string;
  detail: string;
}

export interface SupervisorHostOptions {
  driver: TaskDriver;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  /** Proposes the transition; resolves once committed, rejects when it was not. */
  propose(proposal: StatusProposal): Promise<void>;
  /** Secret values for the allocation's task environment, resolved at each start. */
  resolveSecrets(
    alloc: DesiredAllocation,
  ): Promise<Record<string, string>> | Record<string, string>;
  config?: SupervisorHostConfigInput;
  /** Seed of the restart-jitter generator; random when omitted. */
  seed?: number;
}

/** What the host knows about one allocation, for status pages and tests. */
export interface AllocationView {
  allocId: string;
  phase: string;
  handle: TaskHandle | undefined;
  reported: AllocStatus;
  committed: AllocStatus;
}

export class SupervisorHost {
  #o: SupervisorHostOptions;
  #config: SupervisorHostConfig;
  #state: SupervisorState;
  #prng: Prng;
  #log: Logger;
  #lanes: EffectLanes;
  #abort = new AbortController();
  #cancelTick: (() => void) | undefined;
  #cancelResync: (() => void) | undefined;
  #started = false;
  #closed = false;
  #resyncing = false;
  #buffers = new Map<string, LogBuffer>();
  /** The incarnation each allocation's output is followed for (`handle@sinceMs`). */
  #follows = new Map<string, string>();
  #oom = new Set<string>();

  constructor(options: SupervisorHostOptions) {
    this.#o = options;
    this.#config = SupervisorHostConfigSchema.parse(options.config ?? {});
    this.#state = createSupervisorState(
      options.nodeId,
      this.#config.supervisor,
      options.clock.nowMs(),
    );
    this.#prng = createPrng(options.seed ?? Math.floor(Math.random() * 0x1_0000_0000));
    this.#log = options.logger.child({ actor: 'container-supervisor', node: options.nodeId });
    this.#lanes = new EffectLanes(limits.supervisorLaneEffectsMax, (key, error) =>
      this.#log.error('supervisor effect failed', { alloc: key, error: describe(error) }),
    );
  }

  /**
   * Subscribes to driver events, then reads the task list once (so tasks from a previous
   * agent are adopted before anything starts), then ticks. Call once.
   */
  async start(): Promise<void> {
    if (this.#started)
      throw new BerthError('already_started', 'the supervisor host is already started');
    this.#started = true;
    const events = await this.#o.driver.events(this.#abort.signal);
    void this.#watchEvents(events);
    await this.#resyncLoop();
    this.#scheduleTick();
  }

  /** The node's desired allocations, whenever committed state changes them. */
  setDesired(allocations: DesiredAllocation[]): void {
    this.#deliverParsed({ type: 'desired', allocations });
  }

  /** An allocation's status was committed (by this node or another writer). */
  committedStatus(allocId: string, status: AllocStatus): void {
    this.#deliverParsed({ type: 'committed_status', allocId, status });
  }

  /** Re-reads the driver's task list now (it also runs every resyncIntervalMs). */
  async resync(): Promise<void> {
    if (this.#resyncing || this.#closed) return;
    this.#resyncing = true;
    try {
      const nowMs = this.#o.clock.nowMs();
      const tasks = await this.#o.driver.list({ all: true });
      this.#deliverParsed({ type: 'observed', tasks, nowMs });
    } catch (error) {
      this.#log.warn('driver list failed', { error: describe(error) });
    } finally {
      this.#resyncing = false;
    }
  }

  /** The allocation's last output lines (bounded by limits.supervisorLogLinesMax). */
  logs(allocId: string, query: LogQuery = {}): LogLine[] {
    const buffer = this.#buffers.get(allocId);
    if (buffer) return buffer.read(query);
    if (this.#state.allocs.has(allocId)) return [];
    throw new BerthError('allocation_unknown', `allocation ${allocId} is not on this node`);
  }

  allocations(): AllocationView[] {
    return [...this.#state.allocs.values()].map((rec) => ({
      allocId: rec.desired.allocId,
      phase: rec.task.phase,
      handle: rec.task.phase === 'running' ? rec.task.handle : undefined,
      reported: rec.reported.status,
      committed: rec.committed,
    }));
  }

  /** Stops ticking and watching; waits (bounded) for effects in progress. Tasks keep running. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTick?.();
    this.#cancelResync?.();
    this.#abort.abort();
    await Promise.race([this.#lanes.idle(), this.#sleep(this.#config.closeGraceMs)]);
  }

  /** Messages from outside the host are parsed at this trust boundary. */
  #deliverParsed(raw: SupervisorMessage): void {
    const parsed = parseSupervisorMessage(raw);
    if (!parsed.ok) throw parsed.error;
    this.#deliver(parsed.message);
  }

  #deliver(message: SupervisorMessage): void {
    if (this.#closed) return;
    const { effects } = step(this.#state, message, { prng: this.#prng });
    for (const effect of effects) this.#execute(effect);
    this.#syncFollows();
  }

  #execute(effect: SupervisorEffect): void {
    switch (effect.type) {
      case 'log':
        this.#log[effect.level](effect.msg, effect.fields);
        return;
      case 'probe':
        // One probe per allocation is out at a time (the actor's rule); it needs no lane.
        void runProbe(effect.check, this.#o.driver.name).then((outcome) =>
          this.#deliver({ type: 'probe_result', allocId: effect.allocId, ...outcome }),
        );
        return;
      case 'start':
        this.#inLane(effect.allocId, effect, () => this.#startTask(effect));
        return;
      case 'stop':
        this.#inLane(effect.allocId, effect, () => this.#stopTask(effect.handle, effect.timeoutMs));
        return;
      case 'remove':
        this.#inLane(effect.handle.allocId, effect, () => this.#o.driver.remove(effect.handle));
        return;
      case 'propose_status': {
        const { allocId, status, reason, detail } = effect;
        // Queued behind the lane's stop and remove, then proposed in a lane of its own so
        // retries while no leader is known do not hold up the allocation's next start.
        this.#inLane(allocId, effect, async () => {
          this.#inLane(`propose:${allocId}`, effect, () =>
            this.#propose({ allocId, status, reason, detail }),
          );
        });
        return;
      }
    }
  }

  #inLane(key: string, effect: SupervisorEffect, job: () => Promise<void>): void {
    if (this.#lanes.run(key, job)) return;
    this.#log.error('supervisor lane full; effect dropped', { alloc: key, effect: effect.type });
  }

  async #startTask(effect: Extract<SupervisorEffect, { type: 'start' }>): Promise<void> {
    const allocId = effect.allocId;
    const alloc = this.#state.allocs.get(allocId)?.desired;
    try {
      const secretEnv = alloc ? await this.#o.resolveSecrets(alloc) : {};
      const handle = await this.#o.driver.start({ ...effect.task, secretEnv });
      this.#oom.delete(allocId);
      this.#deliver({ type: 'task_started', allocId, handle });
    } catch (error) {
      const code = error instanceof BerthError ? error.code : 'driver_error';
      this.#deliver({ type: 'task_start_failed', allocId, code, message: describe(error) });
    }
  }

  async #stopTask(handle: TaskHandle, timeoutMs: number): Promise<void> {
    try {
      await this.#o.driver.stop(handle, { timeoutMs });
    } catch (error) {
      // Gone already is what a stop wants; anything else is logged and the remove follows.
      if (error instanceof BerthError && error.code === 'task_not_found') return;
      this.#log.warn('task stop failed', { alloc: handle.allocId, error: describe(error) });
    }
  }

  async #propose(proposal: StatusProposal): Promise<void> {
    let delayMs = this.#config.proposeRetryBaseMs;
    for (let attempt = 1; attempt <= limits.supervisorProposeAttemptsMax; attempt++) {
      if (this.#closed) return;
      try {
        await this.#o.propose(proposal);
        return;
      } catch (error) {
        const fields = {
          alloc: proposal.allocId,
          status: proposal.status,
          attempt,
          error: describe(error),
        };
        this.#log.warn('status proposal failed', fields);
      }
      if (attempt < limits.supervisorProposeAttemptsMax) await this.#sleep(delayMs);
      delayMs *= 2;
    }
    this.#deliver({ type: 'proposal_failed', allocId: proposal.allocId, status: proposal.status });
  }

  async #watchEvents(events: AsyncIterable<TaskEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (this.#closed) return;
        if (event.kind === 'oom') this.#oom.add(event.allocId);
        if (event.kind === 'exited') void this.#onExited(event);
      }
    } catch (error) {
      this.#log.error('driver event stream ended', { error: describe(error) });
    }
  }

  /**
   * Events name the allocation, not the task: an exit may belong to an earlier task of
   * the same allocation (one just stopped as a duplicate, or an exec task's previous life
   * under the same name). The current task is inspected, and a running one is kept.
   */
  async #onExited(event: TaskEvent): Promise<void> {
    const rec = this.#state.allocs.get(event.allocId);
    if (rec?.task.phase !== 'running') return;
    let exitCode = event.exitCode;
    try {
      const status = await this.#o.driver.inspect(rec.task.handle);
      if (status.state === 'running') return;
      exitCode ??= status.exitCode;
    } catch {
      // Not found: it is gone, which is what the event said.
    }
    const oom = this.#oom.delete(event.allocId);
    this.#deliver({ type: 'task_exited', allocId: event.allocId, exitCode: exitCode ?? null, oom });
  }

  /** Follows the output of every running task once per incarnation; drops buffers of gone allocations. */
  #syncFollows(): void {
    for (const [allocId, rec] of this.#state.allocs) {
      if (rec.task.phase !== 'running') continue;
      const key = `${rec.task.handle.id}@${rec.task.sinceMs}`;
      if (this.#follows.get(allocId) === key) continue;
      this.#follows.set(allocId, key);
      void this.#follow(allocId, rec.task.handle);
    }
    for (const allocId of this.#buffers.keys()) {
      if (!this.#state.allocs.has(allocId)) this.#buffers.delete(allocId);
    }
    for (const allocId of this.#follows.keys()) {
      if (!this.#state.allocs.has(allocId)) this.#follows.delete(allocId);
    }
  }

  async #follow(allocId: string, handle: TaskHandle): Promise<void> {
    let buffer = this.#buffers.get(allocId);
    if (!buffer) {
      buffer = new LogBuffer(limits.supervisorLogLinesMax);
      this.#buffers.set(allocId, buffer);
    }
    const options = {
      follow: true,
      tail: limits.supervisorLogLinesMax,
      signal: this.#abort.signal,
    };
    try {
      for await (const line of this.#o.driver.logs(handle, options)) buffer.push(line);
    } catch (error) {
      this.#log.debug('log follow ended', { alloc: allocId, error: describe(error) });
    }
  }

  #scheduleTick(): void {
    if (this.#closed) return;
    this.#cancelTick = this.#o.clock.setTimer(this.#config.tickIntervalMs, () => {
      this.#deliver({ type: 'tick', nowMs: this.#o.clock.nowMs() });
      this.#scheduleTick();
    });
  }

  async #resyncLoop(): Promise<void> {
    await this.resync();
    if (this.#closed) return;
    this.#cancelResync = this.#o.clock.setTimer(this.#config.resyncIntervalMs, () => {
      void this.#resyncLoop();
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#o.clock.setTimer(ms, resolve));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
