/**
 * Request matching: exact host first, then the `*.example.com` wildcard (one label deep,
 * as kamal-proxy does), then routes without hosts; within a host, the longest path prefix
 * that matches on a segment boundary (`/api` matches `/api` and `/api/x`, not `/apix`).
 */
import { normalizeHost } from './build-table.ts';
import type { RouteDecision, RouteEntry, RouteTable } from './types.ts';

/** The route serving `host` + `path`, or undefined. `host` may carry a port. */
export function matchRoute(table: RouteTable, host: string, path: string): RouteEntry | undefined {
  const bare = normalizeHost(host);
  const exact = table.exact.get(bare);
  const fromExact = exact && longestPrefix(exact, path);
  if (fromExact) return fromExact;
  const dot = bare.indexOf('.');
  if (dot > 0) {
    const wild = table.wildcard.get(bare.slice(dot));
    const fromWild = wild && longestPrefix(wild, path);
    if (fromWild) return fromWild;
  }
  return longestPrefix(table.anyHost, path);
}

/** What to do with a request: proxy, answer maintenance, or report no route / no upstream. */
export function decideRoute(table: RouteTable, host: string, path: string): RouteDecision {
  const route = matchRoute(table, host, path);
  if (!route) return { kind: 'no_route' };
  if (route.maintenanceMessage !== null) {
    return { kind: 'maintenance', route, message: route.maintenanceMessage };
  }
  if (route.upstreams.length === 0) return { kind: 'no_upstream', route };
  return { kind: 'proxy', route };
}

/** `routes` are sorted longest prefix first, so the first match is the longest. */
function longestPrefix(routes: readonly RouteEntry[], path: string): RouteEntry | undefined {
  for (const route of routes) if (prefixMatches(route.pathPrefix, path)) return route;
  return undefined;
}

export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charCodeAt(prefix.length);
  // NaN: the path is the prefix itself. Otherwise the prefix must end on a segment.
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */;
}
