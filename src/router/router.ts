/**
 * The router's proxy engine: one Bun.serve listener that serves from the current route
 * table. `setTable` swaps the whole table at once, so each request sees one consistent
 * table; requests already sent to an upstream that left the table run to completion
 * (draining), and `inFlight(allocId)` says when none are left.
 */
import type { Server } from 'bun';
import { decideRoute, emptyRouteTable, type RouteTable } from '../../actors/router/index.ts';
import { assert } from '../core/assert.ts';
import type { Logger } from '../core/logger.ts';
import type { MetricsRegistry } from '../metrics/registry.ts';
import { type Balancing, type RouterLimits, resolveRouterLimits } from './config.ts';
import { errorResponse } from './error-response.ts';
import type { ClientFacts } from './headers.ts';
import { type ForwardRequest, type ProxyContext, proxyHttp } from './proxy-http.ts';
import { type ProxiedSocket, proxyWebSocket, webSocketHandler } from './proxy-ws.ts';
import { RouterMetrics } from './router-metrics.ts';
import { UpstreamPool } from './upstream-pool.ts';

export interface RouterOptions {
  /** Where to listen; port 0 picks a free port (read it back from `port`). */
  listen: { hostname: string; port: number };
  logger: Logger;
  /** Overrides of the defaults in `src/core/limits.ts`. */
  limits?: Partial<RouterLimits>;
  /** Default `round-robin`. */
  balancing?: Balancing;
  /** The scheme clients used to reach this listener, for X-Forwarded-Proto. Default `http`. */
  proto?: 'http' | 'https';
  /** Register metrics here (e.g. the agent's /metrics registry); default a private one. */
  metrics?: MetricsRegistry;
  /** Monotonic milliseconds; default performance.now (tests may inject a clock). */
  nowMs?: () => number;
}

type RouterState = 'created' | 'running' | 'stopped';

export class Router {
  readonly #options: RouterOptions;
  readonly #limits: RouterLimits;
  readonly #pool: UpstreamPool;
  readonly #metrics: RouterMetrics;
  readonly #ctx: ProxyContext;
  readonly #webSockets = { count: 0 };
  #table: RouteTable = emptyRouteTable();
  #server: Server<ProxiedSocket> | undefined;
  #state: RouterState = 'created';

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#limits = resolveRouterLimits(options.limits);
    const nowMs = options.nowMs ?? (() => performance.now());
    this.#pool = new UpstreamPool(this.#limits, nowMs);
    this.#metrics = new RouterMetrics(options.metrics, () => ({
      ...this.#pool.stats(),
      webSockets: this.#webSockets.count,
    }));
    this.#ctx = {
      pool: this.#pool,
      limits: this.#limits,
      balancing: options.balancing ?? 'round-robin',
      metrics: this.#metrics,
      logger: options.logger.child({ actor: 'router' }),
      server: () => this.#server as Server<unknown> | undefined,
    };
  }

  /** Starts listening. Throws (Bun's error) when the address is taken. */
  start(): void {
    assert(this.#state === 'created', `router cannot start when ${this.#state}`);
    this.#server = Bun.serve<ProxiedSocket>({
      hostname: this.#options.listen.hostname,
      port: this.#options.listen.port,
      idleTimeout: this.#limits.clientIdleSeconds,
      // The limit is enforced by proxy-http (Content-Length check, then a counting stream)
      // so the client gets our 413 with its code; Bun's own check would answer first.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch: (req, server) => this.#handle(req, server),
      websocket: webSocketHandler(),
    });
    this.#state = 'running';
  }

  /** Swaps the route table; in-flight requests keep the upstream they were sent to. */
  setTable(table: RouteTable): void {
    this.#table = table;
    this.#pool.sync(table);
  }

  /** The table requests are served from now. */
  table(): RouteTable {
    return this.#table;
  }

  /** The bound port (useful with `listen.port: 0`). */
  get port(): number {
    assert(this.#server !== undefined, 'router is not started');
    return this.#server.port!;
  }

  /** Requests (and WebSockets) still open to an allocation: 0 means it is drained. */
  inFlight(allocId: string): number {
    return this.#pool.inFlight(allocId);
  }

  /** Prometheus text (format 0.0.4) of this router's registry. */
  metrics(): string {
    return this.#metrics.registry.expose();
  }

  /**
   * Stops listening. By default waits for in-flight requests to finish; `force` cuts
   * every connection, proxied WebSockets included.
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    await this.#server?.stop(options.force ?? false);
  }

  async #handle(req: Request, server: Server<ProxiedSocket>): Promise<Response | undefined> {
    const startMs = performance.now();
    const host = req.headers.get('host') ?? '';
    const pathAndQuery = pathOf(req.url);
    const decision = decideRoute(this.#table, host, pathAndQuery);
    if (decision.kind !== 'proxy') return this.#answerLocally(req, decision, startMs);
    const client: ClientFacts = {
      ip: server.requestIP(req)?.address,
      proto: this.#options.proto ?? 'http',
      host,
    };
    const forward: ForwardRequest = { req, pathAndQuery, client, startMs };
    if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      return proxyWebSocket(this.#ctx, decision.route, forward, this.#webSockets);
    }
    return proxyHttp(this.#ctx, decision.route, forward);
  }

  #answerLocally(
    req: Request,
    decision: Exclude<ReturnType<typeof decideRoute>, { kind: 'proxy' }>,
    startMs: number,
  ): Response {
    const accept = req.headers.get('accept');
    let response: Response;
    if (decision.kind === 'maintenance') {
      response = errorResponse('maintenance', decision.message, accept);
    } else if (decision.kind === 'no_upstream') {
      response = errorResponse(
        'no_upstream',
        `${decision.route.job} has no healthy allocation`,
        accept,
      );
    } else {
      response = errorResponse('no_route', 'no route matches this host and path', accept);
    }
    const route = decision.kind === 'no_route' ? 'none' : decision.route.id;
    this.#metrics.request(route, response.status, (performance.now() - startMs) / 1000);
    return response;
  }
}

/** The path and query of an absolute request URL, without parsing the whole URL. */
function pathOf(url: string): string {
  const scheme = url.indexOf('://');
  const slash = url.indexOf('/', scheme < 0 ? 0 : scheme + 3);
  return slash < 0 ? '/' : url.slice(slash);
}
