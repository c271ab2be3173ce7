/**
 * The deterministic simulator (TigerBeetle VOPR style): simulated time (a SimClock), an
 * event queue, a simulated network and simulated nodes that can crash and restart, all
 * driven from one seed. Nothing here reads the real clock or Math.random, so a seed
 * replays a run event for event, and the trace hash proves it.
 *
 * A node is split the way a real process is: a `disk` object the harness keeps across
 * crashes, and a volatile process booted from it. On crash the process and every timer
 * it set are dropped, and the node's owner decides (in `loseVolatile`) what the disk
 * itself loses — e.g. writes that were not yet fsync'd.
 */
import { assert } from '../core/assert.ts';
import { SimClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { createPrng, type Prng } from '../core/prng.ts';
import { EventQueue } from './event-queue.ts';
import type { FaultConfig } from './fault-config.ts';
import { SimNetwork, type SimNodeId } from './network.ts';
import { Trace } from './trace.ts';

/** A simulated node's volatile process: it only receives messages; it acts through its context. */
export interface SimProcess<M> {
  receive(from: SimNodeId, msg: M): void;
}

/** What a booted process may do: everything goes through the simulator. */
export interface NodeContext<M> {
  readonly id: SimNodeId;
  /** A generator forked for this boot; independent of other nodes' draws. */
  readonly prng: Prng;
  nowMs(): number;
  send(to: SimNodeId, msg: M): void;
  /** A timer owned by this boot of the node: a crash drops it. */
  setTimer(delayMs: number, label: string, fn: () => void): void;
  trace(line: string): void;
}

export interface NodeSpec<D, P, M> {
  /** The durable part of the node, kept across crashes. */
  disk: D;
  /** Starts the volatile process from the disk (at add time and at each restart). */
  boot(ctx: NodeContext<M>, disk: D): P;
  /** Called at crash, before the process is dropped: the disk forgets what was not durable. */
  loseVolatile?(disk: D): void;
}

interface NodeSlot<D, P, M> {
  spec: NodeSpec<D, P, M>;
  process: P | undefined;
  incarnation: number;
}

export interface SimulatorOptions<M> {
  seed: number;
  faults: FaultConfig;
  /** Short text for a message in the trace (keep it cheap; it runs per message). */
  describe?: (msg: M) => string;
  /** A number summarising a message for the trace hash (e.g. type and term); defaults to 0. */
  fingerprint?: (msg: M) => number;
  /** Trace lines to keep for printing; 0 keeps only the hash. */
  traceLinesMax?: number;
  /** Called with each trace line as it happens (verbose replay). */
  onTraceLine?: (line: string) => void;
  /** Event budget; defaults to limits.simEventsMax. */
  eventsMax?: number;
}

export class Simulator<M, D, P extends SimProcess<M>> {
  readonly seed: number;
  readonly faults: FaultConfig;
  readonly clock = new SimClock(0);
  readonly prng: Prng;
  readonly trace: Trace;
  readonly network: SimNetwork<M>;
  #eventsRun = 0;
  readonly #eventsMax: number;
  readonly #queue: EventQueue;
  readonly #nodes = new Map<SimNodeId, NodeSlot<D, P, M>>();
  readonly #describe: (msg: M) => string;
  readonly #fingerprint: (msg: M) => number;

  constructor(options: SimulatorOptions<M>) {
    this.seed = options.seed;
    this.faults = options.faults;
    this.prng = createPrng(options.seed);
    this.#eventsMax = options.eventsMax ?? limits.simEventsMax;
    assert(this.#eventsMax <= limits.simEventsMax, 'event budget above limits.simEventsMax');
    // The queue holds in-flight messages plus a few timers per node and world events.
    this.#queue = new EventQueue(limits.simInFlightMax + limits.simQueuedTimersMax);
    this.#describe = options.describe ?? ((msg) => JSON.stringify(msg));
    this.#fingerprint = options.fingerprint ?? (() => 0);
    this.trace = new Trace({
      linesMax: options.traceLinesMax ?? 0,
      onLine: options.onTraceLine,
    });
    this.network = new SimNetwork<M>(options.faults, this.prng.fork(), {
      scheduleDelivery: (delayMs, from, to, msg) => this.#scheduleDelivery(delayMs, from, to, msg),
      lost: (from, to) => this.trace.event(this.clock.nowMs(), 'lost', from, to),
    });
  }

  get eventsRun(): number {
    return this.#eventsRun;
  }

  nowMs(): number {
    return this.clock.nowMs();
  }

  /** Adds a node and boots it. Ids are unique for the life of the simulator. */
  addNode(id: SimNodeId, spec: NodeSpec<D, P, M>): void {
    assert(id > 0 && !this.#nodes.has(id), `node id ${id} must be positive and new`);
    assert(this.#nodes.size < limits.simNodesMax, 'too many simulated nodes');
    const slot: NodeSlot<D, P, M> = { spec, process: undefined, incarnation: 0 };
    this.#nodes.set(id, slot);
    this.#boot(id, slot);
  }

  nodeIds(): SimNodeId[] {
    return [...this.#nodes.keys()];
  }

  isUp(id: SimNodeId): boolean {
    return this.#nodes.get(id)?.process !== undefined;
  }

  /** The running process of `id`, or undefined when it is down. */
  process(id: SimNodeId): P | undefined {
    return this.#nodes.get(id)?.process;
  }

  disk(id: SimNodeId): D {
    const slot = this.#nodes.get(id);
    assert(slot, `no node ${id}`);
    return slot.spec.disk;
  }

  /** Crashes a running node: its process and timers vanish, its disk loses what was volatile. */
  crash(id: SimNodeId): void {
    const slot = this.#nodes.get(id);
    assert(slot?.process !== undefined, `crash of node ${id} that is not up`);
    slot.spec.loseVolatile?.(slot.spec.disk);
    slot.process = undefined;
    slot.incarnation++;
    this.#trace(`crash ${id}`);
  }

  /** Boots a crashed node again from its disk. */
  restart(id: SimNodeId): void {
    const slot = this.#nodes.get(id);
    assert(slot !== undefined && slot.process === undefined, `restart of node ${id} that is up`);
    this.#trace(`restart ${id}`);
    this.#boot(id, slot);
  }

  /** Schedules a world event (nemesis, client, checker) `delayMs` from now. */
  schedule(delayMs: number, label: string, fn: () => void): void {
    this.#push(delayMs, 0, 0, label, fn);
  }

  /** Runs the earliest event. Returns false when nothing is pending. Throws when the budget is spent. */
  step(): boolean {
    for (;;) {
      const event = this.#queue.pop();
      if (event === undefined) return false;
      if (event.owner !== 0) {
        const slot = this.#nodes.get(event.owner);
        // A timer of a crashed boot never fires: the process that set it is gone.
        if (slot?.process === undefined || slot.incarnation !== event.incarnation) continue;
      }
      if (++this.#eventsRun > this.#eventsMax) {
        throw new BerthError('sim_events_exhausted', `event budget ${this.#eventsMax} spent`, {
          seed: this.seed,
        });
      }
      this.clock.advance(event.atMs - this.clock.nowMs());
      event.fn();
      return true;
    }
  }

  /** Runs events due up to `untilMs` (absolute), calling `afterEvent` after each; time ends at `untilMs`. */
  runUntil(untilMs: number, afterEvent?: () => void): void {
    for (;;) {
      const next = this.#queue.peek();
      if (next === undefined || next.atMs > untilMs) break;
      if (!this.step()) break;
      afterEvent?.();
    }
    if (untilMs > this.clock.nowMs()) this.clock.advance(untilMs - this.clock.nowMs());
  }

  #boot(id: SimNodeId, slot: NodeSlot<D, P, M>): void {
    const incarnation = slot.incarnation;
    const ctx: NodeContext<M> = {
      id,
      prng: this.prng.fork(),
      nowMs: () => this.clock.nowMs(),
      send: (to, msg) => {
        // A message sent by a crashed boot (e.g. from a stale closure) must not leave.
        if (slot.incarnation === incarnation) this.network.send(id, to, msg);
      },
      setTimer: (delayMs, label, fn) => this.#push(delayMs, id, incarnation, label, fn),
      trace: (line) => this.#trace(`${id}: ${line}`),
    };
    slot.process = slot.spec.boot(ctx, slot.spec.disk);
  }

  #scheduleDelivery(delayMs: number, from: SimNodeId, to: SimNodeId, msg: M): void {
    this.#push(delayMs, 0, 0, 'deliver', () => {
      const detail = () => `${from}->${to} ${this.#describe(msg)}`;
      this.trace.event(this.clock.nowMs(), 'deliver', from, to, this.#fingerprint(msg), detail);
      if (!this.network.arrive(from, to, this.isUp(to))) return;
      this.#nodes.get(to)?.process?.receive(from, msg);
    });
  }

  /** Queues an event; every event but a delivery (which traces itself, with its message) is traced as it runs. */
  #push(delayMs: number, owner: number, incarnation: number, label: string, fn: () => void): void {
    assert(delayMs >= 0, 'events cannot be scheduled in the past');
    const traced =
      label === 'deliver'
        ? fn
        : () => {
            this.trace.event(this.clock.nowMs(), label, owner);
            fn();
          };
    this.#queue.push({ atMs: this.clock.nowMs() + delayMs, owner, incarnation, label, fn: traced });
  }

  #trace(line: string): void {
    this.trace.record(this.clock.nowMs(), line);
  }
}
