/**
 * The proxy engine's tunables. Defaults come from `src/core/limits.ts`; a caller (the
 * agent, a test) may lower or raise them per Router.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';

/** How a route spreads requests over its upstreams. */
export type Balancing = 'round-robin' | 'least-outstanding';

export interface RouterLimits {
  /** Largest request body, in bytes; bigger gets 413 `body_too_large`. */
  bodyBytesMax: number;
  /** Bodies up to this size are read first so a refused connection can be retried, in bytes. */
  bodyBufferBytesMax: number;
  /** Time one upstream has to send response headers, in ms. */
  upstreamTimeoutMs: number;
  /** Time all attempts of one request together have to get response headers, in ms. */
  requestTimeoutMs: number;
  /** Extra attempts on other upstreams after a failed connection. */
  retriesMax: number;
  /** First ejection after a refused connection, in ms; doubles per consecutive failure. */
  ejectBaseMs: number;
  /** Cap on the ejection period, in ms. */
  ejectCapMs: number;
  /** Bytes a proxied WebSocket may buffer toward a slow side before it is closed. */
  wsBufferedBytesMax: number;
  /** Proxied WebSockets open at once. */
  webSocketsMax: number;
  /** Idle client connections are closed after this, in seconds (streams are exempt). */
  clientIdleSeconds: number;
}

export const defaultRouterLimits: RouterLimits = {
  bodyBytesMax: limits.routerBodyBytesMax,
  bodyBufferBytesMax: limits.routerBodyBufferBytesMax,
  upstreamTimeoutMs: limits.routerUpstreamTimeoutMs,
  requestTimeoutMs: limits.routerRequestTimeoutMs,
  retriesMax: limits.routerRetriesMax,
  ejectBaseMs: limits.routerEjectBaseMs,
  ejectCapMs: limits.routerEjectCapMs,
  wsBufferedBytesMax: limits.routerWsBufferedBytesMax,
  webSocketsMax: limits.routerWebSocketsMax,
  clientIdleSeconds: limits.routerClientIdleSeconds,
};

/** Merges overrides over the defaults and checks the relations between them. */
export function resolveRouterLimits(overrides: Partial<RouterLimits> = {}): RouterLimits {
  const merged = { ...defaultRouterLimits, ...overrides };
  for (const [name, value] of Object.entries(merged)) {
    assert(Number.isFinite(value) && value >= 0, `router limit ${name} must be >= 0`);
  }
  assert(merged.bodyBufferBytesMax <= merged.bodyBytesMax, 'router buffer above body limit');
  assert(merged.ejectBaseMs <= merged.ejectCapMs, 'router ejection base above cap');
  assert(merged.upstreamTimeoutMs <= merged.requestTimeoutMs, 'upstream timeout above request');
  assert(merged.clientIdleSeconds <= 255, 'Bun caps idle timeouts at 255 s');
  return merged;
}
