/**
 * The router's Prometheus metrics: requests by route and status, latency by route,
 * upstream errors by route and kind, and live gauges (in flight, ejected, WebSockets,
 * client connections).
 * The route label is the route id (`job host/prefix`) or `none` when nothing matched.
 */
import { type Counter, type Gauge, type Histogram, MetricsRegistry } from '../metrics/registry.ts';

/** What the live gauges show, read at each scrape. */
export interface LiveCounts {
  tracked: number;
  ejected: number;
  outstanding: number;
  webSockets: number;
  /** Client connections open on the plain-HTTP listener (busy and idle keep-alive). */
  clientConnections: number;
}

/** Why an attempt to reach an upstream failed. */
export type UpstreamErrorKind = 'connect' | 'reset' | 'timeout' | 'body_too_large';

export class RouterMetrics {
  readonly registry: MetricsRegistry;
  readonly #requests: Counter;
  readonly #latency: Histogram;
  readonly #upstreamErrors: Counter;
  readonly #retries: Counter;

  constructor(registry: MetricsRegistry | undefined, live: () => LiveCounts) {
    this.registry = registry ?? new MetricsRegistry();
    this.#requests = this.registry.counter(
      'berth_router_requests_total',
      'Requests answered by the router, by route and HTTP status.',
      ['route', 'status'],
    );
    this.#latency = this.registry.histogram(
      'berth_router_request_duration_seconds',
      'Time from request to response headers, by route, in seconds.',
      ['route'],
    );
    this.#upstreamErrors = this.registry.counter(
      'berth_router_upstream_errors_total',
      'Failed attempts to reach an upstream, by route and kind.',
      ['route', 'kind'],
    );
    this.#retries = this.registry.counter(
      'berth_router_retries_total',
      'Requests retried on another upstream after a failed connection, by route.',
      ['route'],
    );
    this.#registerGauges(live);
  }

  request(route: string, status: number, seconds: number): void {
    this.#requests.inc({ route, status: String(status) });
    this.#latency.observe({ route }, seconds);
  }

  upstreamError(route: string, kind: UpstreamErrorKind): void {
    this.#upstreamErrors.inc({ route, kind });
  }

  retry(route: string): void {
    this.#retries.inc({ route });
  }

  #registerGauges(live: () => LiveCounts): void {
    const gauges: Array<[Gauge, keyof ReturnType<typeof live>]> = [
      [
        this.registry.gauge('berth_router_upstreams', 'Upstreams tracked (live and draining).'),
        'tracked',
      ],
      [
        this.registry.gauge(
          'berth_router_upstreams_ejected',
          'Upstreams ejected by passive health.',
        ),
        'ejected',
      ],
      [
        this.registry.gauge(
          'berth_router_in_flight_requests',
          'Requests sent upstream and not finished.',
        ),
        'outstanding',
      ],
      [this.registry.gauge('berth_router_websockets', 'Proxied WebSockets open.'), 'webSockets'],
      [
        this.registry.gauge(
          'berth_router_client_connections',
          'Client connections open on the plain-HTTP listener (busy and idle keep-alive).',
        ),
        'clientConnections',
      ],
    ];
    this.registry.onCollect(() => {
      const now = live();
      for (const [gauge, field] of gauges) gauge.set(undefined, now[field]);
    });
  }
}
