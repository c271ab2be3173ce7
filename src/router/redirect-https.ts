/**
 * HTTP → HTTPS for routes with `tls`: plain HTTP gets a 308 (method and body kept, unlike
 * 301/302) to the same host, path and query over HTTPS, but only once a certificate for
 * the request's host is served. Until then the site keeps answering over HTTP, so a new
 * site is reachable while its first certificate is being ordered.
 */
import type { RouteEntry } from '../../actors/router/index.ts';
import { normalizeHost } from '../../actors/router/index.ts';

/** What the redirect rule needs to know about the HTTPS side. */
export interface HttpsSide {
  /** The port HTTPS is served on; 443 is left out of the location. */
  port: number;
  /** True when a certificate for `host` (lower case, no port) is served. */
  covers(host: string): boolean;
}

/**
 * The location to redirect to, or undefined to serve over HTTP: the route must have
 * `tls` and `redirectHttp`, HTTPS must be listening, and a certificate must cover the host.
 */
export function httpsRedirectLocation(
  route: Pick<RouteEntry, 'tls' | 'redirectHttp'>,
  hostHeader: string,
  pathAndQuery: string,
  https: HttpsSide | undefined,
): string | undefined {
  if (!route.tls || !route.redirectHttp || https === undefined) return undefined;
  const host = normalizeHost(hostHeader);
  if (host === '' || !https.covers(host)) return undefined;
  const port = https.port === 443 ? '' : `:${https.port}`;
  return `https://${host}${port}${pathAndQuery.startsWith('/') ? pathAndQuery : '/'}`;
}

/** The 308 answer for `location`. */
export function redirectResponse(location: string): Response {
  return new Response(null, {
    status: 308,
    headers: { location, 'cache-control': 'no-store' },
  });
}
