/**
 * Builds the route table from committed state. A pure function: the same input gives the
 * same table on every node, which is what makes the version switch atomic per route: an
 * allocation is an upstream exactly while it is healthy, desired `run` and on an `up`
 * node. A new version therefore enters only once healthy, and an allocation the scheduler
 * marks `stop` leaves at once, so new requests go to the new version while the engine lets
 * requests already sent to the old one finish (draining).
 */
import { limits } from '../../src/core/limits.ts';
import type {
  RouteEntry,
  RouteInputAllocation,
  RouteInputJob,
  RouteSpec,
  RouteTable,
  RouteTableInput,
  RouteTableProblem,
  Upstream,
} from './types.ts';

/** Builds the table; problems (conflicts, missing ports, overflow) are listed, never thrown. */
export function buildRouteTable(input: RouteTableInput): RouteTable {
  const problems: RouteTableProblem[] = [];
  const hostsById = new Map<string, string>();
  for (const node of input.nodes) if (node.status === 'up') hostsById.set(node.id, node.host);
  const allocsByJob = groupServing(input.allocations, hostsById);
  const byKey = new Map<string, RouteEntry>();
  const jobs = [...input.jobs].sort((a, b) => compareText(a.name, b.name));
  for (const job of jobs) {
    for (const spec of job.routes) {
      const upstreams = upstreamsFor(job, spec.port, allocsByJob.get(job.name) ?? [], hostsById);
      problems.push(...upstreams.problems);
      for (const host of spec.hosts.length === 0 ? [''] : spec.hosts) {
        for (const path of spec.paths.length === 0 ? ['/'] : spec.paths) {
          const entry = makeEntry(job, normalizeHost(host), normalizePrefix(path), spec);
          addEntry(byKey, { ...entry, upstreams: upstreams.list }, problems);
        }
      }
    }
  }
  return indexRoutes([...byKey.values()], problems);
}

/** Allocations that may receive traffic, grouped by job (healthy, desired run, node up). */
function groupServing(
  allocations: readonly RouteInputAllocation[],
  hostsById: ReadonlyMap<string, string>,
): Map<string, RouteInputAllocation[]> {
  const byJob = new Map<string, RouteInputAllocation[]>();
  for (const alloc of allocations) {
    if (alloc.clientStatus !== 'healthy' || alloc.desiredStatus !== 'run') continue;
    if (!hostsById.has(alloc.nodeId)) continue;
    const list = byJob.get(alloc.jobId) ?? [];
    list.push(alloc);
    byJob.set(alloc.jobId, list);
  }
  for (const list of byJob.values()) list.sort((a, b) => compareText(a.id, b.id));
  return byJob;
}

function upstreamsFor(
  job: RouteInputJob,
  portLabel: string,
  allocs: readonly RouteInputAllocation[],
  hostsById: ReadonlyMap<string, string>,
): { list: Upstream[]; problems: RouteTableProblem[] } {
  const list: Upstream[] = [];
  const problems: RouteTableProblem[] = [];
  for (const alloc of allocs) {
    const port = alloc.ports[portLabel];
    if (port === undefined) {
      problems.push({
        code: 'port_missing',
        job: job.name,
        detail: `allocation ${alloc.id} has no port labelled ${portLabel}`,
      });
      continue;
    }
    if (list.length >= limits.routerUpstreamsPerRouteMax) {
      problems.push({ code: 'upstreams_dropped', job: job.name, detail: `after ${list.length}` });
      break;
    }
    const host = hostsById.get(alloc.nodeId)!;
    list.push({ allocId: alloc.id, version: alloc.jobVersion, url: upstreamUrl(host, port) });
  }
  return { list, problems };
}

/** `http://host:port`; an IPv6 literal gets its brackets. */
export function upstreamUrl(host: string, port: number): string {
  const bare = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
  return `http://${bare}:${port}`;
}

function makeEntry(
  job: RouteInputJob,
  host: string,
  pathPrefix: string,
  spec: RouteSpec,
): Omit<RouteEntry, 'upstreams'> {
  return {
    id: `${job.name} ${host === '' ? '*' : host}${pathPrefix}`,
    job: job.name,
    host,
    pathPrefix,
    tls: spec.tls,
    redirectHttp: spec.tls && spec.redirectHttp !== false,
    maintenanceMessage: job.maintenance ? job.maintenance.message : null,
  };
}

/** Jobs are visited in name order, so on a conflict the first name wins on every node. */
function addEntry(
  byKey: Map<string, RouteEntry>,
  entry: RouteEntry,
  problems: RouteTableProblem[],
): void {
  const key = `${entry.host}\u0000${entry.pathPrefix}`;
  const existing = byKey.get(key);
  if (existing) {
    if (existing.job === entry.job) {
      // The same job lists one host/path twice (two routes, two ports): keep the first.
      return;
    }
    problems.push({
      code: 'route_conflict',
      job: entry.job,
      detail: `${entry.host || '*'}${entry.pathPrefix} is already routed to ${existing.job}`,
    });
    return;
  }
  if (byKey.size >= limits.routerRoutesMax) {
    problems.push({ code: 'routes_dropped', job: entry.job, detail: `after ${byKey.size}` });
    return;
  }
  byKey.set(key, entry);
}

function indexRoutes(entries: RouteEntry[], problems: RouteTableProblem[]): RouteTable {
  entries.sort(compareEntries);
  const exact = new Map<string, RouteEntry[]>();
  const wildcard = new Map<string, RouteEntry[]>();
  const anyHost: RouteEntry[] = [];
  for (const entry of entries) {
    if (entry.host === '') anyHost.push(entry);
    else if (entry.host.startsWith('*.')) pushTo(wildcard, entry.host.slice(1), entry);
    else pushTo(exact, entry.host, entry);
  }
  return { routes: entries, exact, wildcard, anyHost, problems };
}

function pushTo(map: Map<string, RouteEntry[]>, key: string, entry: RouteEntry): void {
  const list = map.get(key) ?? [];
  list.push(entry);
  map.set(key, list);
}

/** Exact hosts, then wildcards, then any-host; by host; then longer prefixes first. */
function compareEntries(a: RouteEntry, b: RouteEntry): number {
  const rank = hostRank(a.host) - hostRank(b.host);
  if (rank !== 0) return rank;
  const host = compareText(a.host, b.host);
  if (host !== 0) return host;
  const length = b.pathPrefix.length - a.pathPrefix.length;
  return length !== 0 ? length : compareText(a.pathPrefix, b.pathPrefix);
}

function hostRank(host: string): number {
  if (host === '') return 2;
  return host.startsWith('*.') ? 1 : 0;
}

/** Hosts compare case-insensitively and without a port. */
export function normalizeHost(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.indexOf(':');
  const bare = colon >= 0 && lower.indexOf(':', colon + 1) < 0 ? lower.slice(0, colon) : lower;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/** A prefix starts with `/` and has no trailing `/` (except the root itself). */
export function normalizePrefix(path: string): string {
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.length > 1 && withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

/** Byte-order comparison (never locale-dependent), so every node sorts alike. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A table with no routes: every request gets 404 `no_route`. */
export function emptyRouteTable(): RouteTable {
  return buildRouteTable({ jobs: [], allocations: [], nodes: [] });
}

/** The host part of a node's `host:port` address (`[v6]:port` keeps its brackets). */
export function hostFromAddress(address: string): string {
  if (address.startsWith('[')) return address.slice(0, address.indexOf(']') + 1);
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}
