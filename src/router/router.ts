/**
 * The router's proxy engine: an HTTP listener and, optionally, an HTTPS listener (SNI
 * selects among the certificates given to `setCertificates`), both serving from the
 * current route table and upstream pool. `setTable` swaps the whole table at once, so
 * each request sees one consistent table; requests already sent to an upstream that left
 * the table run to completion (draining), and `inFlight(allocId)` says when none are left.
 *
 * The HTTP listener is the router's own HTTP/1.1 front on raw sockets (http1/front.ts),
 * which costs far less per request than Bun.serve; HTTPS is Bun.serve with SNI.
 *
 * The HTTP listener also answers ACME HTTP-01 challenges and redirects routes with `tls`
 * to HTTPS once their host's certificate is served (acme-challenge.ts, redirect-https.ts).
 */
import type { Server, TLSOptions } from 'bun';
import {
  decideRoute,
  emptyRouteTable,
  normalizeHost,
  type RouteEntry,
  type RouteTable,
} from '../../actors/router/index.ts';
import { assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { MetricsRegistry } from '../metrics/registry.ts';
import {
  type AcmeChallengeLookup,
  answerAcmeChallenge,
  isAcmeChallengePath,
} from './acme-challenge.ts';
import { type Balancing, type RouterLimits, resolveRouterLimits } from './config.ts';
import { errorResponse } from './error-response.ts';
import type { ClientFacts } from './headers.ts';
import { Http1Front } from './http1/front.ts';
import type { FrontRequest } from './http1/front-request.ts';
import { tunnelUpgrade } from './http1/tunnel.ts';
import { type ProxyContext, proxyHttp } from './proxy-http.ts';
import { type ProxiedSocket, proxyWebSocket, webSocketHandler } from './proxy-ws.ts';
import { httpsRedirectLocation, redirectResponse } from './redirect-https.ts';
import { RouterMetrics } from './router-metrics.ts';
import { proxyServed } from './serve-forward.ts';
import {
  buildSniSet,
  type SniSet,
  sniCovers,
  type TlsCertificate,
  type TlsCertificateProblem,
} from './tls-certificates.ts';
import { TlsListener } from './tls-listener.ts';
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
  /**
   * Where to serve HTTPS (X-Forwarded-Proto `https`), from certificates given to
   * `setCertificates`. Absent: no HTTPS, and no redirects.
   */
  listenTls?: { hostname: string; port: number } | undefined;
  /**
   * Presented to HTTPS clients whose SNI names no host we hold a certificate for, instead
   * of another site's certificate. The HTTPS listener binds when the first certificate
   * arrives either way (tls-listener.ts).
   */
  tlsFallback?: { certPem: string; keyPem: string } | undefined;
  /** Answers ACME HTTP-01 challenges on the HTTP listener; absent: the path is routed as any. */
  acmeChallenge?: AcmeChallengeLookup | undefined;
}

/** What `setCertificates` did: problems are certificates or hosts left out. */
export interface SetCertificatesResult {
  outcome: 'unchanged' | 'started' | 'replaced' | 'closed' | 'listen_failed';
  problems: readonly TlsCertificateProblem[];
  /** Set with `listen_failed`: the listener's error; the previous certificates stay served. */
  error?: BerthError;
}

type RouterState = 'created' | 'running' | 'stopped';

export class Router {
  readonly #options: RouterOptions;
  readonly #limits: RouterLimits;
  readonly #pool: UpstreamPool;
  readonly #metrics: RouterMetrics;
  readonly #ctx: ProxyContext;
  readonly #webSockets = { count: 0 };
  readonly #tls: TlsListener<ProxiedSocket> | undefined;
  #table: RouteTable = emptyRouteTable();
  #front: Http1Front | undefined;
  #state: RouterState = 'created';
  /** The certificates last given, served once the listener runs. */
  #wanted: SniSet | undefined;

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#limits = resolveRouterLimits(options.limits);
    const nowMs = options.nowMs ?? (() => performance.now());
    this.#pool = new UpstreamPool(this.#limits, nowMs);
    this.#metrics = new RouterMetrics(options.metrics, () => ({
      ...this.#pool.stats(),
      webSockets: this.#webSockets.count,
      clientConnections: this.#front?.connections ?? 0,
    }));
    this.#ctx = {
      pool: this.#pool,
      limits: this.#limits,
      balancing: options.balancing ?? 'round-robin',
      metrics: this.#metrics,
      logger: options.logger.child({ actor: 'router' }),
    };
    const { listenTls } = options;
    this.#tls =
      listenTls &&
      new TlsListener<ProxiedSocket>({
        hostname: listenTls.hostname,
        port: listenTls.port,
        fallback: options.tlsFallback,
        open: (listen, tls) => this.#serve(listen, tls),
        logger: this.#ctx.logger,
      });
  }

  /**
   * Starts the HTTP listener; throws (Bun's error) when the address is taken. HTTPS binds
   * once there is a certificate to serve (`setCertificates`, before or after this).
   */
  start(): void {
    assert(this.#state === 'created', `router cannot start when ${this.#state}`);
    const proto = this.#options.proto ?? 'http';
    const front = new Http1Front({
      ...this.#options.listen,
      limits: this.#limits,
      proto,
      handler: {
        request: (request) => this.#handleFront(request, proto),
        refused: (status) => this.#metrics.request('none', status, 0),
      },
    });
    front.start();
    this.#front = front;
    this.#state = 'running';
    const error = this.#wanted && this.#serveWanted(this.#wanted).error;
    if (error) this.#ctx.logger.error('https listener failed', { error: error.message });
  }

  /**
   * Serves `certs` over HTTPS, chosen by SNI, to new connections from now on; connections
   * already open finish with the certificate they have (tls-listener.ts). The listener
   * binds with the first certificate and closes when none is left. A pair that is not
   * valid, or a host its certificate does not cover, is left out and reported. Does
   * nothing when the set is unchanged (compared by host and chain fingerprint). Before
   * `start()`, or without `listenTls`, the certificates are only remembered.
   */
  setCertificates(certs: readonly TlsCertificate[]): SetCertificatesResult {
    const set = buildSniSet(certs);
    this.#wanted = set;
    if (this.#state !== 'running') return { outcome: 'unchanged', problems: set.problems };
    return this.#serveWanted(set);
  }

  /** True when HTTPS is served for `host` (exact or by wildcard certificate). */
  hasCertificate(host: string): boolean {
    return this.#tls !== undefined && sniCovers(this.#tls.served, normalizeHost(host));
  }

  /** The bound HTTPS port, or undefined while HTTPS is not listening. */
  get tlsPort(): number | undefined {
    return this.#tls?.port;
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
    assert(this.#front !== undefined, 'router is not started');
    return this.#front.port;
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
    const force = options.force ?? false;
    await Promise.all([this.#front?.stop(force), this.#tls?.stop(force)]);
    // Idle keep-alive sockets to upstreams would otherwise linger until their idle timeout.
    this.#pool.closeConnections();
  }

  #serveWanted(set: SniSet): SetCertificatesResult {
    if (!this.#tls) return { outcome: 'unchanged', problems: set.problems };
    try {
      return { outcome: this.#tls.serve(set), problems: set.problems };
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      return { outcome: 'listen_failed', problems: set.problems, error };
    }
  }

  /** The HTTPS listener: Bun.serve with SNI (tls-listener.ts swaps it on certificate changes). */
  #serve(listen: { hostname: string; port: number }, tls: TLSOptions[]): Server<ProxiedSocket> {
    return Bun.serve<ProxiedSocket>({
      hostname: listen.hostname,
      port: listen.port,
      idleTimeout: this.#limits.clientIdleSeconds,
      // The limit is enforced by the proxy (Content-Length check, then a counting stream)
      // so the client gets our 413 with its code; Bun's own check would answer first.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      // Replaced HTTPS listeners share the port with their successor (tls-listener.ts).
      tls,
      reusePort: true,
      fetch: (req, server) => this.#handleServed(req, server),
      websocket: webSocketHandler(),
    });
  }

  /** A request on the HTTPS listener. */
  #handleServed(
    req: Request,
    server: Server<ProxiedSocket>,
  ): Promise<Response | undefined> | Response {
    const startMs = performance.now();
    const host = req.headers.get('host') ?? '';
    const pathAndQuery = pathOf(req.url);
    const accept = () => req.headers.get('accept');
    const decided = this.#decide(req.method, host, pathAndQuery, accept, false, startMs);
    if (decided instanceof Response) return decided;
    const client: ClientFacts = { ip: server.requestIP(req)?.address, proto: 'https', host };
    if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const forward = { req, server, pathAndQuery, client, startMs };
      return proxyWebSocket(this.#ctx, decided, forward, this.#webSockets);
    }
    return proxyServed(this.#ctx, decided, req, server as Server<unknown>, {
      pathAndQuery,
      client,
      startMs,
    });
  }

  /** A request on the HTTP listener (the raw front). */
  #handleFront(request: FrontRequest, proto: 'http' | 'https'): void {
    const { head } = request;
    const plain = proto === 'http';
    const accept = () => request.accept;
    const decided = this.#decide(
      head.method,
      head.host,
      head.target,
      accept,
      plain,
      request.startMs,
    );
    if (decided instanceof Response) {
      request.respond(decided);
      return;
    }
    if (head.upgrade !== undefined) {
      tunnelUpgrade(this.#ctx, decided, request, this.#webSockets);
      return;
    }
    proxyHttp(this.#ctx, decided, request);
  }

  /**
   * Where a request goes: the route to proxy it to, or the router's own answer (ACME
   * challenge, HTTPS redirect, maintenance, no route or no upstream), already recorded.
   * `plain`: it came over plain HTTP (challenges and redirects apply).
   */
  #decide(
    method: string,
    host: string,
    pathAndQuery: string,
    accept: () => string | null,
    plain: boolean,
    startMs: number,
  ): RouteEntry | Response {
    const challenge = this.#options.acmeChallenge;
    if (plain && challenge && isAcmeChallengePath(pathAndQuery)) {
      return this.#answerChallenge(method, pathAndQuery, challenge, accept(), startMs);
    }
    const decision = decideRoute(this.#table, host, pathAndQuery);
    if (plain && decision.kind !== 'no_route' && decision.route.tls) {
      const redirect = this.#maybeRedirect(decision.route, host, pathAndQuery, startMs);
      if (redirect) return redirect;
    }
    if (decision.kind !== 'proxy') return this.#answerLocally(accept(), decision, startMs);
    return decision.route;
  }

  #answerChallenge(
    method: string,
    pathAndQuery: string,
    lookup: AcmeChallengeLookup,
    accept: string | null,
    startMs: number,
  ): Response {
    const response = answerAcmeChallenge(method, pathAndQuery, lookup, accept);
    this.#metrics.request('acme-challenge', response.status, (performance.now() - startMs) / 1000);
    return response;
  }

  #maybeRedirect(
    route: RouteEntry,
    host: string,
    pathAndQuery: string,
    startMs: number,
  ): Response | undefined {
    const tls = this.#tls;
    const port = tls?.port;
    const https =
      tls && port !== undefined
        ? { port, covers: (h: string) => sniCovers(tls.served, h) }
        : undefined;
    const location = httpsRedirectLocation(route, host, pathAndQuery, https);
    if (location === undefined) return undefined;
    this.#metrics.request(route.id, 308, (performance.now() - startMs) / 1000);
    return redirectResponse(location);
  }

  #answerLocally(
    accept: string | null,
    decision: Exclude<ReturnType<typeof decideRoute>, { kind: 'proxy' }>,
    startMs: number,
  ): Response {
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
