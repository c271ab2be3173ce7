/**
 * Per-upstream state the engine keeps across table swaps: requests outstanding (for
 * least-outstanding balancing and draining) and passive health. An upstream that refuses
 * a connection is ejected at once for `ejectBaseMs`, doubling per consecutive failure up
 * to `ejectCapMs`. When the period ends the upstream is half-open: one request at a time
 * goes to it as the probe, and its first success restores it fully.
 *
 * An upstream that leaves the table keeps its state while requests are outstanding, so
 * those requests finish (draining) and `inFlight(allocId)` tells the agent when it is safe
 * to stop the allocation.
 */

import type { RouteEntry, RouteTable, Upstream } from '../../actors/router/index.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Balancing, RouterLimits } from './config.ts';

/** Health and load of one upstream (one allocation at one URL). */
export interface UpstreamState {
  readonly key: string;
  readonly allocId: string;
  readonly url: string;
  outstanding: number;
  consecutiveFailures: number;
  ejectedUntilMs: number;
  /** True while the one half-open probe request is out. */
  probing: boolean;
  live: boolean;
}

export class UpstreamPool {
  readonly #states = new Map<string, UpstreamState>();
  readonly #cursorByRoute = new Map<string, number>();
  readonly #limits: Pick<RouterLimits, 'ejectBaseMs' | 'ejectCapMs'>;
  readonly #nowMs: () => number;

  constructor(limitsIn: Pick<RouterLimits, 'ejectBaseMs' | 'ejectCapMs'>, nowMs: () => number) {
    this.#limits = limitsIn;
    this.#nowMs = nowMs;
  }

  /** Marks the table's upstreams live and forgets idle ones that left it. */
  sync(table: RouteTable): void {
    const liveKeys = new Set<string>();
    for (const route of table.routes) {
      for (const upstream of route.upstreams) liveKeys.add(keyOf(upstream));
    }
    for (const [key, state] of this.#states) {
      state.live = liveKeys.has(key);
      if (!state.live && state.outstanding === 0) this.#states.delete(key);
    }
    for (const route of table.routes) {
      for (const upstream of route.upstreams) this.#stateFor(upstream);
    }
    const routeIds = new Set(table.routes.map((route) => route.id));
    for (const id of this.#cursorByRoute.keys()) {
      if (!routeIds.has(id)) this.#cursorByRoute.delete(id);
    }
  }

  /**
   * Chooses an upstream of `route` not in `exclude`. Available ones first; when every
   * upstream is ejected, the one whose ejection ends first is tried anyway (a forced
   * probe), so a route never stays dark longer than it must.
   */
  pick(
    route: RouteEntry,
    balancing: Balancing,
    exclude: ReadonlySet<string>,
  ): UpstreamState | undefined {
    const now = this.#nowMs();
    const candidates: UpstreamState[] = [];
    let fallback: UpstreamState | undefined;
    for (const upstream of route.upstreams) {
      const state = this.#stateFor(upstream);
      if (exclude.has(state.key)) continue;
      if (this.#available(state, now)) candidates.push(state);
      else if (!fallback || state.ejectedUntilMs < fallback.ejectedUntilMs) fallback = state;
    }
    const chosen =
      candidates.length === 0 ? fallback : this.#choose(route.id, candidates, balancing);
    if (chosen && chosen.consecutiveFailures > 0) chosen.probing = true;
    return chosen;
  }

  /** A request was sent to `state`. */
  acquire(state: UpstreamState): void {
    state.outstanding += 1;
  }

  /** The request to `state` ended (its response finished or it failed). */
  release(state: UpstreamState): void {
    assert(state.outstanding > 0, `release without acquire for ${state.key}`);
    state.outstanding -= 1;
    if (!state.live && state.outstanding === 0 && this.#states.get(state.key) === state) {
      this.#states.delete(state.key);
    }
  }

  /** The upstream answered: it is healthy again. */
  reportSuccess(state: UpstreamState): void {
    state.consecutiveFailures = 0;
    state.ejectedUntilMs = 0;
    state.probing = false;
  }

  /** The upstream refused or dropped a connection: eject it with exponential backoff. */
  reportConnectFailure(state: UpstreamState): void {
    state.consecutiveFailures += 1;
    state.probing = false;
    const exponent = Math.min(state.consecutiveFailures - 1, 30);
    const periodMs = Math.min(this.#limits.ejectCapMs, this.#limits.ejectBaseMs * 2 ** exponent);
    state.ejectedUntilMs = this.#nowMs() + periodMs;
  }

  /** Requests outstanding to one allocation (all its URLs), live or draining. */
  inFlight(allocId: string): number {
    let total = 0;
    for (const state of this.#states.values())
      if (state.allocId === allocId) total += state.outstanding;
    return total;
  }

  /** Counts for metrics: upstreams tracked, ejected now, requests outstanding. */
  stats(): { tracked: number; ejected: number; outstanding: number } {
    const now = this.#nowMs();
    let ejected = 0;
    let outstanding = 0;
    for (const state of this.#states.values()) {
      if (state.ejectedUntilMs > now) ejected += 1;
      outstanding += state.outstanding;
    }
    return { tracked: this.#states.size, ejected, outstanding };
  }

  #available(state: UpstreamState, now: number): boolean {
    if (state.ejectedUntilMs > now) return false;
    // Half-open: while the probe is out, others wait for its verdict.
    return !(state.consecutiveFailures > 0 && state.probing);
  }

  #choose(routeId: string, candidates: UpstreamState[], balancing: Balancing): UpstreamState {
    const cursor = this.#cursorByRoute.get(routeId) ?? 0;
    this.#cursorByRoute.set(routeId, (cursor + 1) % 1_000_000_007);
    const start = cursor % candidates.length;
    if (balancing === 'round-robin') return candidates[start]!;
    // Least outstanding; ties go round-robin so equal upstreams share the load.
    let best = candidates[start]!;
    for (let i = 1; i < candidates.length; i++) {
      const state = candidates[(start + i) % candidates.length]!;
      if (state.outstanding < best.outstanding) best = state;
    }
    return best;
  }

  #stateFor(upstream: Upstream): UpstreamState {
    const key = keyOf(upstream);
    const found = this.#states.get(key);
    if (found) {
      found.live = true;
      return found;
    }
    assert(
      this.#states.size < limits.routerUpstreamsTrackedMax,
      'router tracks too many upstreams',
    );
    const created: UpstreamState = {
      key,
      allocId: upstream.allocId,
      url: upstream.url,
      outstanding: 0,
      consecutiveFailures: 0,
      ejectedUntilMs: 0,
      probing: false,
      live: true,
    };
    this.#states.set(key, created);
    return created;
  }
}

function keyOf(upstream: Upstream): string {
  return `${upstream.allocId} ${upstream.url}`;
}
