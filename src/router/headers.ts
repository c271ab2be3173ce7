/**
 * Header rewriting between client and upstream: hop-by-hop headers stay on their hop
 * (RFC 9110 §7.6.1), the original Host is kept (as kamal-proxy does), and the
 * X-Forwarded-For/-Proto/-Host headers tell the upstream who asked.
 */

const hopByHop = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Facts about the client the upstream should see. */
export interface ClientFacts {
  ip: string | undefined;
  proto: 'http' | 'https';
  host: string;
}

/**
 * Turns the client's request headers into the upstream's, in place (the request is ours
 * alone and copying costs on every request): hop-by-hop removed, forwarding ones added.
 */
export function toUpstreamRequestHeaders(headers: Headers, client: ClientFacts): Headers {
  const prior = headers.get('x-forwarded-for');
  stripHopByHop(headers);
  if (client.ip) headers.set('x-forwarded-for', prior ? `${prior}, ${client.ip}` : client.ip);
  headers.set('x-forwarded-proto', client.proto);
  headers.set('x-forwarded-host', client.host);
  return headers;
}

/** Turns the upstream's response headers into the client's, in place. */
export function toClientResponseHeaders(headers: Headers): Headers {
  stripHopByHop(headers);
  return headers;
}

/** WebSocket handshakes: the Sec-WebSocket-* headers belong to the upstream handshake. */
export function upstreamWebSocketHeaders(source: Headers, client: ClientFacts): Headers {
  const headers = toUpstreamRequestHeaders(new Headers(source), client);
  for (const name of [...headers.keys()]) {
    if (name.startsWith('sec-websocket-')) headers.delete(name);
  }
  return headers;
}

function stripHopByHop(headers: Headers): void {
  // Headers named in Connection are hop-by-hop too.
  const named = headers.get('connection');
  if (named) {
    for (const name of named.split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed) headers.delete(trimmed);
    }
  }
  for (const name of hopByHop) headers.delete(name);
}
