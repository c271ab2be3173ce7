/**
 * `createApi`: the HTTP API under `/v1` plus `/metrics` (DESIGN.md §8). Layout, in the order
 * a request meets it: request metrics → method-not-allowed → body limit → bearer auth (all
 * of `/v1/*` and `/metrics`) → one route module per resource → one error handler.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { matchedRoutes } from 'hono/route';
import { assert } from '../core/assert.ts';
import { type Clock, realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { exposition004ContentType, MetricsRegistry } from '../metrics/registry.ts';
import { authenticate, requireRole } from './auth.ts';
import type { ClusterService } from './cluster-service.ts';
import type { ApiDeps } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { errorResponse } from './errors.ts';
import { EventHub } from './event-feed.ts';
import { holdWhileLeaderless, leaderHoldMsDefault } from './hold.ts';
import { JobSpecSchema } from './job-spec.ts';
import { registerCertificateRoutes } from './routes-certs.ts';
import { registerClusterRoutes } from './routes-cluster.ts';
import { registerEventRoutes } from './routes-events.ts';
import { registerJobRoutes } from './routes-jobs.ts';
import { registerLogRoutes } from './routes-logs.ts';
import { registerSecretRoutes } from './routes-secrets.ts';
import { registerTokenRoutes } from './routes-tokens.ts';

/** Tunables of one API server; every field has a default and a ceiling in core/limits. */
export interface ApiLimits {
  /** Longest hold of a write or read barrier while no leader is known, in ms. Default 5000. */
  leaderHoldMs: number;
  /** Largest request body, in bytes. Default limits.apiBodyBytesMax. */
  bodyBytesMax: number;
  /** Heartbeat interval of idle event streams, in ms. Default limits.eventHeartbeatMs. */
  eventHeartbeatMs: number;
  /** A stream client that accepts nothing for this long is dropped, in ms. */
  eventStallMs: number;
}

export interface ApiOptions {
  service: ClusterService;
  logger?: Logger;
  limits?: Partial<ApiLimits>;
  /** Time source for holds, stream timers and latency; a SimClock in tests. */
  clock?: Clock;
  /** Registry `/metrics` exposes; API metrics are added to it. */
  metrics?: MetricsRegistry;
  /** The job spec schema (defaults to the API's own, see job-spec.ts). */
  jobSpecSchema?: typeof JobSpecSchema;
}

/** HTTP methods kept as metric labels; anything else counts as OTHER (bounded labels). */
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

function resolveLimits(partial: Partial<ApiLimits> | undefined): ApiLimits {
  const resolved: ApiLimits = {
    leaderHoldMs: leaderHoldMsDefault,
    bodyBytesMax: limits.apiBodyBytesMax,
    eventHeartbeatMs: limits.eventHeartbeatMs,
    eventStallMs: limits.eventStreamStallMsMax,
    ...partial,
  };
  assert(
    resolved.leaderHoldMs >= 0 && resolved.leaderHoldMs <= limits.apiLeaderHoldMsMax,
    'leaderHoldMs out of range',
  );
  assert(
    resolved.bodyBytesMax >= 1 && resolved.bodyBytesMax <= limits.apiBodyBytesMax,
    'bodyBytesMax out of range',
  );
  assert(resolved.eventStallMs <= limits.eventStreamStallMsMax, 'eventStallMs above its ceiling');
  return resolved;
}

/** Builds the API. Serve it with `serveApi` (server.ts), or call `app.request()` in tests. */
export function createApi(options: ApiOptions): Hono<ApiEnv> {
  const logger = (options.logger ?? silentLogger).child({ actor: 'api' });
  const clock = options.clock ?? realClock;
  const metrics = options.metrics ?? new MetricsRegistry();
  const apiLimits = resolveLimits(options.limits);
  const app = new Hono<ApiEnv>();

  instrument(app, metrics, clock);
  const deps: ApiDeps = {
    service: options.service,
    logger,
    hold: (attempt) => holdWhileLeaderless(attempt, { holdMs: apiLimits.leaderHoldMs, clock }),
    jobSpecSchema: options.jobSpecSchema ?? JobSpecSchema,
    hub: new EventHub(options.service, {
      clock,
      heartbeatMs: apiLimits.eventHeartbeatMs,
      stallMs: apiLimits.eventStallMs,
      openStreams: metrics.gauge('berth_api_event_streams', 'Event streams open now.', [
        'transport',
      ]),
    }),
    streamsDropped: metrics.counter(
      'berth_api_event_streams_dropped_total',
      'Event streams the server ended because the client was too slow.',
      ['transport', 'reason'],
    ),
  };

  installGuards(app, options.service, apiLimits.bodyBytesMax, logger);

  registerClusterRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerSecretRoutes(app, deps);
  registerTokenRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerLogRoutes(app, deps);
  registerCertificateRoutes(app, deps);
  app.get('/metrics', requireRole('read-only'), (c) =>
    c.body(metrics.expose(), 200, { 'Content-Type': exposition004ContentType }),
  );

  app.notFound((c) =>
    errorResponse(c, new BerthError('not_found', `no route ${c.req.method} ${c.req.path}`), logger),
  );
  app.onError((error, c) => errorResponse(c, error, logger));
  return app;
}

/** Method-not-allowed, the body bound and bearer auth, in the order a request meets them. */
function installGuards(
  app: Hono<ApiEnv>,
  service: ClusterService,
  bodyBytesMax: number,
  logger: Logger,
): void {
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c,
          new BerthError(
            'method_not_allowed',
            `${c.req.method} is not allowed here; use ${methods.join(', ')}`,
            { allow: methods },
          ),
          logger,
        ),
    }),
  );
  app.use(
    bodyLimit({
      maxSize: bodyBytesMax,
      onError: () => {
        throw new BerthError('body_too_large', `the body is over ${bodyBytesMax} bytes`, {
          bytesMax: bodyBytesMax,
        });
      },
    }),
  );
  app.use('/v1/*', authenticate(service));
  app.use('/metrics', authenticate(service));
}

/** Counts requests by method, route template and status, and times them. */
function instrument(app: Hono<ApiEnv>, metrics: MetricsRegistry, clock: Clock): void {
  const requests = metrics.counter(
    'berth_api_requests_total',
    'HTTP requests answered, by method, route template and status.',
    ['method', 'route', 'status'],
  );
  const latency = metrics.histogram(
    'berth_api_request_duration_seconds',
    'Time to answer an HTTP request (until headers for streams), in seconds.',
    ['method', 'route'],
  );
  app.use(async (c, next) => {
    const startMs = clock.nowMs();
    await next();
    const method = knownMethods.has(c.req.method) ? c.req.method : 'OTHER';
    // The template (`/v1/jobs/:name`), never the raw path: label values must stay bounded.
    const handler = matchedRoutes(c)
      .filter((r) => r.method !== 'ALL')
      .at(-1);
    const route = handler?.path ?? 'unmatched';
    requests.inc({ method, route, status: String(c.res.status) });
    latency.observe({ method, route }, (clock.nowMs() - startMs) / 1000);
  });
}
