import { describe, expect, test } from 'bun:test';
import { buildRouteTable, emptyRouteTable, hostFromAddress } from './build-table.ts';
import { decideRoute, matchRoute } from './match.ts';
import type { RouteInputAllocation, RouteInputJob, RouteInputNode } from './types.ts';

const nodes: RouteInputNode[] = [
  { id: 'n1', host: '10.0.0.1', status: 'up' },
  { id: 'n2', host: '10.0.0.2', status: 'up' },
];

function alloc(
  id: string,
  jobId: string,
  version: number,
  over: Partial<RouteInputAllocation> = {},
): RouteInputAllocation {
  return {
    id,
    jobId,
    jobVersion: version,
    nodeId: 'n1',
    ports: { http: 8000 + Number(id.replace(/\D/g, '') || 0) },
    clientStatus: 'healthy',
    desiredStatus: 'run',
    ...over,
  };
}

function job(name: string, hosts: string[], paths: string[] = []): RouteInputJob {
  return { name, routes: [{ hosts, paths, port: 'http', tls: false }] };
}

function upstreamIds(table: ReturnType<typeof buildRouteTable>, host: string, path: string) {
  return matchRoute(table, host, path)?.upstreams.map((u) => u.allocId);
}

describe('buildRouteTable', () => {
  test('only healthy, desired-run allocations on up nodes become upstreams', () => {
    // Proves the three admission conditions each keep an allocation out of the table.
    const table = buildRouteTable({
      jobs: [job('web', ['app.test'])],
      allocations: [
        alloc('a1', 'web', 1),
        alloc('a2', 'web', 1, { clientStatus: 'running' }),
        alloc('a3', 'web', 1, { desiredStatus: 'stop' }),
        alloc('a4', 'web', 1, { nodeId: 'n3' }),
        alloc('a5', 'web', 1, { nodeId: 'n2' }),
      ],
      nodes: [...nodes, { id: 'n3', host: '10.0.0.3', status: 'down' }],
    });
    const route = matchRoute(table, 'app.test', '/');
    expect(route?.upstreams).toEqual([
      { allocId: 'a1', version: 1, url: 'http://10.0.0.1:8001' },
      { allocId: 'a5', version: 1, url: 'http://10.0.0.2:8005' },
    ]);
  });

  test('version switch: v2 enters only when healthy, v1 leaves when marked stop', () => {
    // Proves the atomic switch sequence a rolling deploy goes through.
    const jobs = [job('web', ['app.test'])];
    const v1 = [alloc('a1', 'web', 1), alloc('a2', 'web', 1)];
    const starting = buildRouteTable({
      jobs,
      allocations: [...v1, alloc('b1', 'web', 2, { clientStatus: 'running' })],
      nodes,
    });
    expect(upstreamIds(starting, 'app.test', '/')).toEqual(['a1', 'a2']);
    const switched = buildRouteTable({
      jobs,
      allocations: [
        ...v1.map((a) => ({ ...a, desiredStatus: 'stop' })),
        alloc('b1', 'web', 2),
        alloc('b2', 'web', 2),
      ],
      nodes,
    });
    const route = matchRoute(switched, 'app.test', '/');
    expect(route?.upstreams.map((u) => [u.allocId, u.version])).toEqual([
      ['b1', 2],
      ['b2', 2],
    ]);
  });

  test('a node going down removes its allocations at once', () => {
    // Proves NodeDown takes effect on the next table without waiting for allocation updates.
    const allocations = [alloc('a1', 'web', 1), alloc('a2', 'web', 1, { nodeId: 'n2' })];
    const down = buildRouteTable({
      jobs: [job('web', [])],
      allocations,
      nodes: [nodes[0]!, { ...nodes[1]!, status: 'down' }],
    });
    expect(upstreamIds(down, 'any.host', '/x')).toEqual(['a1']);
  });

  test('an allocation without the route port label is skipped and reported', () => {
    // Proves a bad port mapping is a visible problem, not a crash or a wrong URL.
    const table = buildRouteTable({
      jobs: [job('web', ['app.test'])],
      allocations: [alloc('a1', 'web', 1, { ports: { admin: 9000 } })],
      nodes,
    });
    expect(upstreamIds(table, 'app.test', '/')).toEqual([]);
    expect(table.problems.map((p) => p.code)).toEqual(['port_missing']);
  });

  test('two jobs claiming one host and path: the first by name wins, deterministically', () => {
    // Proves conflict resolution does not depend on input order.
    const input = {
      jobs: [job('zeta', ['app.test']), job('alpha', ['app.test'])],
      allocations: [alloc('a1', 'alpha', 1), alloc('z1', 'zeta', 1)],
      nodes,
    };
    const forward = buildRouteTable(input);
    const backward = buildRouteTable({ ...input, jobs: [...input.jobs].reverse() });
    expect(matchRoute(forward, 'app.test', '/')?.job).toBe('alpha');
    expect(forward.routes).toEqual(backward.routes);
    expect(forward.problems).toEqual([
      { code: 'route_conflict', job: 'zeta', detail: 'app.test/ is already routed to alpha' },
    ]);
  });

  test('IPv6 node hosts are bracketed and addresses split correctly', () => {
    // Proves upstream URLs are valid for IPv6 nodes and host extraction from addresses.
    const table = buildRouteTable({
      jobs: [job('web', [])],
      allocations: [alloc('a1', 'web', 1)],
      nodes: [{ id: 'n1', host: '::1', status: 'up' }],
    });
    expect(matchRoute(table, 'x', '/')?.upstreams[0]?.url).toBe('http://[::1]:8001');
    expect(hostFromAddress('10.0.0.9:7000')).toBe('10.0.0.9');
    expect(hostFromAddress('[::1]:7000')).toBe('[::1]');
    expect(hostFromAddress('node-a')).toBe('node-a');
  });
});

describe('matching', () => {
  const table = buildRouteTable({
    jobs: [
      job('site', ['example.com']),
      job('api', ['example.com'], ['/api', '/v1/']),
      job('tenant', ['*.example.com']),
      job('fallback', []),
    ],
    allocations: [
      alloc('s1', 'site', 1),
      alloc('p1', 'api', 1),
      alloc('t1', 'tenant', 1),
      alloc('f1', 'fallback', 1),
    ],
    nodes,
  });

  test('longest path prefix wins, on segment boundaries only', () => {
    // Proves prefix precedence and that /apix does not match the /api prefix.
    expect(matchRoute(table, 'example.com', '/api')?.job).toBe('api');
    expect(matchRoute(table, 'example.com', '/api/users?x=1')?.job).toBe('api');
    expect(matchRoute(table, 'example.com', '/api?x=1')?.job).toBe('api');
    expect(matchRoute(table, 'example.com', '/apix')?.job).toBe('site');
    expect(matchRoute(table, 'example.com', '/v1/things')?.job).toBe('api');
    expect(matchRoute(table, 'example.com', '/')?.job).toBe('site');
  });

  test('hosts match exactly (case and port ignored), then by wildcard, then catch-all', () => {
    // Proves host precedence: exact > *.wildcard (one label) > routes without hosts.
    expect(matchRoute(table, 'EXAMPLE.com:8080', '/')?.job).toBe('site');
    expect(matchRoute(table, 'acme.example.com', '/')?.job).toBe('tenant');
    expect(matchRoute(table, 'a.b.example.com', '/')?.job).toBe('fallback');
    expect(matchRoute(table, 'other.test', '/')?.job).toBe('fallback');
  });

  test('maintenance answers with its message even when upstreams are healthy', () => {
    // Proves a job in maintenance is never proxied to.
    const maint = buildRouteTable({
      jobs: [{ ...job('web', ['app.test']), maintenance: { message: 'back at 5' } }],
      allocations: [alloc('a1', 'web', 1)],
      nodes,
    });
    const decision = decideRoute(maint, 'app.test', '/');
    expect(decision.kind).toBe('maintenance');
    expect(decision.kind === 'maintenance' && decision.message).toBe('back at 5');
  });

  test('a route without healthy upstreams is no_upstream; an unknown host is no_route', () => {
    // Proves the two empty cases are told apart (503 no_upstream vs 404 no_route).
    const empty = buildRouteTable({ jobs: [job('web', ['app.test'])], allocations: [], nodes });
    expect(decideRoute(empty, 'app.test', '/').kind).toBe('no_upstream');
    expect(decideRoute(empty, 'other.test', '/').kind).toBe('no_route');
    expect(decideRoute(emptyRouteTable(), 'app.test', '/').kind).toBe('no_route');
    expect(decideRoute(table, 'example.com', '/api').kind).toBe('proxy');
  });

  test('redirectHttp follows tls: on by default, off when the spec says so, never without tls', () => {
    // Proves the redirect flag a route carries: a stored spec without the field redirects,
    // `redirect_http: false` does not, and a plain-HTTP route never does.
    const route = (name: string, tls: boolean, redirectHttp?: boolean): RouteInputJob => ({
      name,
      routes: [{ hosts: [`${name}.test`], paths: [], port: 'http', tls, redirectHttp }],
    });
    const flags = buildRouteTable({
      jobs: [route('a', true), route('b', true, false), route('c', false, true)],
      allocations: [],
      nodes,
    });
    const pick = (host: string) => matchRoute(flags, host, '/');
    expect([pick('a.test')?.tls, pick('a.test')?.redirectHttp]).toEqual([true, true]);
    expect([pick('b.test')?.tls, pick('b.test')?.redirectHttp]).toEqual([true, false]);
    expect([pick('c.test')?.tls, pick('c.test')?.redirectHttp]).toEqual([false, false]);
  });
});
