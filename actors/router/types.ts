/**
 * The router's data: what the agent hands in (jobs, allocations and nodes read from the
 * committed state) and the route table the proxy engine serves from. Plain data only, so
 * the table can be built and checked without sockets.
 */

/** One route of a job, as `src/spec/normalize.ts` stores it (`port` is a port label). */
export interface RouteSpec {
  hosts: readonly string[];
  paths: readonly string[];
  port: string;
  tls: boolean;
  /**
   * With tls: answer plain HTTP with a redirect to HTTPS once a certificate for the host
   * is served. Absent (specs stored before the field existed) means true.
   */
  redirectHttp?: boolean;
}

/** A job as the router needs it; `maintenance` set means every route answers 503. */
export interface RouteInputJob {
  name: string;
  routes: readonly RouteSpec[];
  maintenance?: { message: string } | undefined;
}

/** An allocation as the router needs it (a subset of the state's allocation view). */
export interface RouteInputAllocation {
  id: string;
  jobId: string;
  jobVersion: number;
  nodeId: string;
  /** Port label → host port. */
  ports: Readonly<Record<string, number>>;
  clientStatus: string;
  desiredStatus: string;
}

/** A node as the router needs it: `host` is the host part of its address. */
export interface RouteInputNode {
  id: string;
  host: string;
  status: string;
}

export interface RouteTableInput {
  jobs: readonly RouteInputJob[];
  allocations: readonly RouteInputAllocation[];
  nodes: readonly RouteInputNode[];
}

/** Where one healthy allocation is reached. */
export interface Upstream {
  allocId: string;
  version: number;
  /** `http://host:port`, no trailing slash. */
  url: string;
}

/** One route: a host pattern and a path prefix, owned by one job. */
export interface RouteEntry {
  /** Stable name used in logs and metric labels: `job host/prefix`. */
  id: string;
  job: string;
  /** Lower-case exact host, `*.example.com`, or `''` for any host. */
  host: string;
  /** Starts with `/`; `/` matches every path. */
  pathPrefix: string;
  tls: boolean;
  /** Plain HTTP is redirected to HTTPS (only with `tls`, and only once a certificate is served). */
  redirectHttp: boolean;
  /** Set while the job is in maintenance: the route answers 503 with this message. */
  maintenanceMessage: string | null;
  /** Sorted by allocation id, so every node builds the same order. */
  upstreams: readonly Upstream[];
}

/** Something the builder skipped, kept so the agent can log it. */
export interface RouteTableProblem {
  code: 'route_conflict' | 'port_missing' | 'routes_dropped' | 'upstreams_dropped';
  job: string;
  detail: string;
}

/**
 * The table: routes sorted (exact hosts, then wildcards, then any-host; longer prefixes
 * first) and indexes for matching. Treat it as immutable; the engine swaps whole tables.
 */
export interface RouteTable {
  routes: readonly RouteEntry[];
  /** Exact host → its routes, longest prefix first. */
  exact: ReadonlyMap<string, readonly RouteEntry[]>;
  /** Wildcard suffix (`.example.com`) → its routes, longest prefix first. */
  wildcard: ReadonlyMap<string, readonly RouteEntry[]>;
  /** Routes without hosts, longest prefix first. */
  anyHost: readonly RouteEntry[];
  problems: readonly RouteTableProblem[];
}

/** What the engine must do with one request. */
export type RouteDecision =
  | { kind: 'proxy'; route: RouteEntry }
  | { kind: 'maintenance'; route: RouteEntry; message: string }
  | { kind: 'no_upstream'; route: RouteEntry }
  | { kind: 'no_route' };
