import { describe, expect, test } from 'bun:test';
import { buildRouteTable, type RouteTable } from '../../actors/router/index.ts';
import { UpstreamPool, type UpstreamState } from './upstream-pool.ts';

function tableOf(allocIds: string[]): RouteTable {
  return buildRouteTable({
    jobs: [{ name: 'web', routes: [{ hosts: [], paths: [], port: 'http', tls: false }] }],
    allocations: allocIds.map((id, i) => ({
      id,
      jobId: 'web',
      jobVersion: 1,
      nodeId: 'n1',
      ports: { http: 9000 + i },
      clientStatus: 'healthy',
      desiredStatus: 'run',
    })),
    nodes: [{ id: 'n1', host: '127.0.0.1', status: 'up' }],
  });
}

function setup(allocIds: string[]) {
  let now = 1_000;
  const pool = new UpstreamPool({ ejectBaseMs: 100, ejectCapMs: 400 }, () => now);
  const table = tableOf(allocIds);
  pool.sync(table);
  return {
    pool,
    route: table.routes[0]!,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const none = new Set<string>();

describe('UpstreamPool', () => {
  test('round-robin visits every upstream in turn', () => {
    // Proves the default balancing spreads requests evenly and deterministically.
    const { pool, route } = setup(['a', 'b', 'c']);
    const picks = Array.from({ length: 6 }, () => pool.pick(route, 'round-robin', none)!.allocId);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('least-outstanding prefers the upstream with fewest requests in flight', () => {
    // Proves least-outstanding balancing reads the acquire/release counts.
    const { pool, route } = setup(['a', 'b']);
    const a = pool.pick(route, 'least-outstanding', none)!;
    pool.acquire(a);
    pool.acquire(a);
    for (let i = 0; i < 4; i++) {
      expect(pool.pick(route, 'least-outstanding', none)!.allocId).toBe('b');
    }
    pool.release(a);
    pool.release(a);
    const both = new Set([0, 1].map(() => pool.pick(route, 'least-outstanding', none)!.allocId));
    expect([...both].sort()).toEqual(['a', 'b']);
  });

  test('least-outstanding skips excluded and ejected upstreams and rotates among equals', () => {
    // Proves the allocation-free pick keeps the rules: exclusions, ejections, ties in turn.
    const { pool, route } = setup(['a', 'b', 'c', 'd']);
    const states = ['a', 'b', 'c', 'd'].map(() => pool.pick(route, 'round-robin', none)!);
    const [a, b, c, d] = states as [UpstreamState, UpstreamState, UpstreamState, UpstreamState];
    pool.acquire(a);
    pool.reportConnectFailure(d);
    const picks = Array.from(
      { length: 4 },
      () => pool.pick(route, 'least-outstanding', new Set([b.key]))!.allocId,
    );
    // a is busy, b excluded, d ejected: only c is left, every time.
    expect(picks).toEqual(['c', 'c', 'c', 'c']);
    pool.release(a);
    const spread = new Set(
      Array.from(
        { length: 3 },
        () => pool.pick(route, 'least-outstanding', new Set([c.key]))!.allocId,
      ),
    );
    expect([...spread].sort()).toEqual(['a', 'b']);
  });

  test('a refused upstream is ejected with doubling backoff, then probed half-open', () => {
    // Proves passive health: ejection, exponential period with a cap, one probe, recovery.
    const { pool, route, advance } = setup(['a', 'b']);
    const a = pool.pick(route, 'round-robin', none)!;
    expect(a.allocId).toBe('a');
    pool.reportConnectFailure(a);
    for (let i = 0; i < 3; i++) expect(pool.pick(route, 'round-robin', none)!.allocId).toBe('b');
    advance(100);
    // Period over: `a` gets exactly one probe request while the verdict is pending.
    const picks = Array.from({ length: 4 }, () => pool.pick(route, 'round-robin', none)!.allocId);
    expect(picks.filter((id) => id === 'a')).toHaveLength(1);
    pool.reportConnectFailure(a);
    advance(199);
    expect(pool.stats().ejected).toBe(1);
    advance(1);
    expect(pool.stats().ejected).toBe(0);
    pool.reportConnectFailure(a);
    pool.reportConnectFailure(a);
    expect(a.ejectedUntilMs - 1_300).toBe(400);
    pool.reportSuccess(a);
    expect(pool.stats().ejected).toBe(0);
  });

  test('when every upstream is ejected, the one whose ejection ends first is tried', () => {
    // Proves a route never goes dark just because all upstreams once failed.
    const { pool, route, advance } = setup(['a', 'b']);
    const a = pool.pick(route, 'round-robin', none)!;
    pool.reportConnectFailure(a);
    advance(10);
    const b = pool.pick(route, 'round-robin', none)!;
    pool.reportConnectFailure(b);
    expect(pool.pick(route, 'round-robin', none)!.allocId).toBe('a');
    expect(pool.pick(route, 'round-robin', new Set([a.key]))!.allocId).toBe('b');
    expect(pool.pick(route, 'round-robin', new Set([a.key, b.key]))).toBeUndefined();
  });

  test('an upstream that leaves the table is kept until its requests finish', () => {
    // Proves draining bookkeeping: inFlight counts survive a table swap and then drop to 0.
    const { pool, route } = setup(['a', 'b']);
    const a = pool.pick(route, 'round-robin', none)!;
    pool.acquire(a);
    pool.sync(tableOf(['b']));
    expect(pool.inFlight('a')).toBe(1);
    expect(pool.stats().tracked).toBe(2);
    pool.release(a);
    expect(pool.inFlight('a')).toBe(0);
    expect(pool.stats().tracked).toBe(1);
  });
});
