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
import { UpstreamConnPool } from './upstream-conn-pool.ts';

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
  /** Keep-alive connections to `url`; undefined when it is not plain http (fetch is used). */
  readonly conns: UpstreamConnPool | undefined;
}

export class UpstreamPool {
  readonly #states = new Map<string, UpstreamState>();
  readonly #cursorByRoute = new Map<string, number>();
  /** States by the table's Upstream objects (weak: old tables are dropped freely). */
  readonly #byUpstream = new WeakMap<Upstream, UpstreamState>();
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
      if (!state.live && state.outstanding === 0) this.#forget(state);
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
    // Two passes over the route's upstreams instead of a candidate array: this runs per
    // request, and the states are found through a cache keyed by the table's own objects.
    let availableCount = 0;
    let fallback: UpstreamState | undefined;
    for (const upstream of route.upstreams) {
      const state = this.#stateFor(upstream);
      if (exclude.size > 0 && exclude.has(state.key)) continue;
      if (this.#available(state, now)) availableCount += 1;
      else if (!fallback || state.ejectedUntilMs < fallback.ejectedUntilMs) fallback = state;
    }
    const chosen =
      availableCount === 0
        ? fallback
        : this.#choose(route, availableCount, balancing, exclude, now);
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
      this.#forget(state);
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

  /** Closes every idle upstream connection (busy ones close when their request ends). */
  closeConnections(): void {
    for (const state of this.#states.values()) state.conns?.close();
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

  /**
   * Picks among the `count` available upstreams, in route order: round-robin takes the
   * cursor's one; least-outstanding the fewest in flight, ties going to the first after
   * the cursor so equal upstreams share the load.
   */
  #choose(
    route: RouteEntry,
    count: number,
    balancing: Balancing,
    exclude: ReadonlySet<string>,
    now: number,
  ): UpstreamState {
    const cursor = this.#cursorByRoute.get(route.id) ?? 0;
    this.#cursorByRoute.set(route.id, (cursor + 1) % 1_000_000_007);
    const start = cursor % count;
    let best: UpstreamState | undefined;
    let bestRank = count;
    let position = 0;
    for (const upstream of route.upstreams) {
      const state = this.#stateFor(upstream);
      if ((exclude.size > 0 && exclude.has(state.key)) || !this.#available(state, now)) continue;
      const rank = (position - start + count) % count;
      position += 1;
      if (balancing === 'round-robin') {
        if (rank === 0) return state;
        continue;
      }
      const fewer = best === undefined || state.outstanding < best.outstanding;
      if (fewer || (state.outstanding === best!.outstanding && rank < bestRank)) {
        best = state;
        bestRank = rank;
      }
    }
    assert(best !== undefined, 'no available upstream among those counted');
    return best;
  }

  /** Drops a drained upstream that left the table, with its idle connections. */
  #forget(state: UpstreamState): void {
    this.#states.delete(state.key);
    state.conns?.close();
  }

  #stateFor(upstream: Upstream): UpstreamState {
    // The table's Upstream objects are stable, so most lookups skip building the key.
    const cached = this.#byUpstream.get(upstream);
    if (cached !== undefined && this.#states.get(cached.key) === cached) {
      cached.live = true;
      return cached;
    }
    const key = keyOf(upstream);
    const found = this.#states.get(key);
    if (found) {
      found.live = true;
      this.#byUpstream.set(upstream, found);
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
      conns: UpstreamConnPool.forUrl(upstream.url),
    };
    this.#states.set(key, created);
    this.#byUpstream.set(upstream, created);
    return created;
  }
}

function keyOf(upstream: Upstream): string {
  return `${upstream.allocId} ${upstream.url}`;
}
