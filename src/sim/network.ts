/**
 * The simulated network: per-message delay, loss, duplication, reordering, and cut
 * links. A link is directed, so a one-way partition is one cut link and a symmetric
 * partition is both directions. Messages are checked against the cuts twice: when sent
 * and when they arrive, since a link cut while a message is in flight loses it too.
 */
import { limits } from '../core/limits.ts';
import type { Prng } from '../core/prng.ts';
import type { FaultConfig } from './fault-config.ts';

export type SimNodeId = number;

/** What happened to messages so far; tests compare these with the configured rates. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Dropped because a link was cut, at send or on arrival. */
  cut: number;
  /** Dropped because the destination was down on arrival. */
  toDownNode: number;
  /** Dropped because `simInFlightMax` messages were already in flight. */
  overflow: number;
}

/** The simulator side the network needs: scheduling a delivery and checking liveness. */
export interface NetworkHost<M> {
  scheduleDelivery(delayMs: number, from: SimNodeId, to: SimNodeId, msg: M): void;
  /** Records a lost message in the trace. */
  lost(from: SimNodeId, to: SimNodeId): void;
}

export class SimNetwork<M> {
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    cut: 0,
    toDownNode: 0,
    overflow: 0,
  };
  #inFlight = 0;
  #calm = false;
  readonly #cut = new Set<string>();
  readonly #faults: FaultConfig;
  readonly #prng: Prng;
  readonly #host: NetworkHost<M>;

  constructor(faults: FaultConfig, prng: Prng, host: NetworkHost<M>) {
    this.#faults = faults;
    this.#prng = prng;
    this.#host = host;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Sends one message; it may be lost, cut, duplicated or delayed, per the fault config. */
  send(from: SimNodeId, to: SimNodeId, msg: M): void {
    this.stats.sent++;
    if (this.isCut(from, to)) {
      this.stats.cut++;
      return;
    }
    if (!this.#calm && this.#prng.chance(this.#faults.lossRate)) {
      this.stats.lost++;
      this.#host.lost(from, to);
      return;
    }
    this.#launch(from, to, msg);
    if (!this.#calm && this.#prng.chance(this.#faults.duplicateRate)) {
      this.stats.duplicated++;
      this.#launch(from, to, msg);
    }
  }

  /** Called by the simulator when a message reaches `to`; false means drop it. */
  arrive(from: SimNodeId, to: SimNodeId, toIsUp: boolean): boolean {
    this.#inFlight--;
    if (this.isCut(from, to)) {
      this.stats.cut++;
      return false;
    }
    if (!toIsUp) {
      this.stats.toDownNode++;
      return false;
    }
    this.stats.delivered++;
    return true;
  }

  isCut(from: SimNodeId, to: SimNodeId): boolean {
    return this.#cut.size > 0 && this.#cut.has(`${from}>${to}`);
  }

  /** Cuts the link from `from` to `to` only: `to` can still reach `from`. */
  cutOneWay(from: SimNodeId, to: SimNodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Splits the nodes into two sides that cannot reach each other in either direction. */
  partition(sideA: readonly SimNodeId[], sideB: readonly SimNodeId[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.#cut.add(`${a}>${b}`);
        this.#cut.add(`${b}>${a}`);
      }
    }
  }

  /** Isolates one node from all `others`, both ways. */
  isolate(node: SimNodeId, others: readonly SimNodeId[]): void {
    this.partition(
      [node],
      others.filter((o) => o !== node),
    );
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /**
   * Ends message faults for good: from now on nothing is lost, duplicated or held back
   * (delays stay in [delayMsMin, delayMsMax]). Used for the calm phase after the faults,
   * where a run checks liveness. Partitions are separate: see `heal`.
   */
  calm(): void {
    this.#calm = true;
  }

  /** The cut links, as "from>to" strings, sorted (for headers and traces). */
  cutLinks(): string[] {
    return [...this.#cut].sort();
  }

  #launch(from: SimNodeId, to: SimNodeId, msg: M): void {
    if (this.#inFlight >= limits.simInFlightMax) {
      this.stats.overflow++;
      return;
    }
    const faults = this.#faults;
    let delayMs = this.#prng.int(faults.delayMsMin, faults.delayMsMax + 1);
    if (!this.#calm && faults.reorderRate > 0 && this.#prng.chance(faults.reorderRate)) {
      this.stats.reordered++;
      delayMs += this.#prng.int(1, faults.reorderDelayMsMax + 1);
    }
    this.#inFlight++;
    this.#host.scheduleDelivery(delayMs, from, to, msg);
  }
}
