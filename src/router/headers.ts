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
const hopByHopNames = new Set(hopByHop);
/** Request targets the raw upstream client writes as they are: visible ASCII only. */
export const plainTargetPattern = /^\/[\x21-\x7e]*$/;

/** True for the fixed hop-by-hop header names (`lowerName` must be lower case). */
export function isHopByHop(lowerName: string): boolean {
  return hopByHopNames.has(lowerName);
}

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

/**
 * The request line and header section sent on a raw upstream connection, ending with the
 * blank line. The same rewriting as `toUpstreamRequestHeaders`, but written straight into
 * the head instead of into a Headers copy. The client's own framing headers are dropped:
 * `bodyBytes` is the length of the body that follows (undefined: no Content-Length).
 * Header names come lower-cased from Bun; values were validated by Bun's parser.
 */
export function upstreamRequestHead(
  method: string,
  pathAndQuery: string,
  headers: Headers,
  client: ClientFacts,
  bodyBytes: number | undefined,
): string {
  const fields: string[] = [];
  for (const [name, value] of headers) fields.push(name, value);
  const named = connectionNamed(headers.get('connection'));
  return upstreamHeadFromFields(method, pathAndQuery, fields, named, client, bodyBytes);
}

/**
 * `upstreamRequestHead` over a flat [name, value, …] list with lower-cased names, as the
 * raw HTTP/1.1 front parses it; `connectionTokens` are the names listed in Connection.
 */
export function upstreamHeadFromFields(
  method: string,
  pathAndQuery: string,
  fields: readonly string[],
  connectionTokens: readonly string[] | undefined,
  client: ClientFacts,
  bodyBytes: number | undefined,
): string {
  const named = connectionTokens && connectionTokens.length > 0 ? connectionTokens : undefined;
  let head = `${method} ${pathAndQuery} HTTP/1.1\r\n`;
  let priorFor: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (hopByHopNames.has(name) || name === 'content-length' || name === 'expect') continue;
    if (name.startsWith('x-forwarded-')) {
      if (name === 'x-forwarded-for') priorFor = priorFor ? `${priorFor}, ${value}` : value;
      else if (name !== 'x-forwarded-proto' && name !== 'x-forwarded-host') {
        head += `${name}: ${value}\r\n`;
      }
      continue;
    }
    // Host stays whatever Connection says: an HTTP/1.1 request must carry it.
    if (name !== 'host' && named?.includes(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  if (client.ip)
    head += `x-forwarded-for: ${priorFor ? `${priorFor}, ${client.ip}` : client.ip}\r\n`;
  else if (priorFor) head += `x-forwarded-for: ${priorFor}\r\n`;
  head += `x-forwarded-proto: ${client.proto}\r\nx-forwarded-host: ${client.host}\r\n`;
  if (bodyBytes !== undefined) head += `content-length: ${bodyBytes}\r\n`;
  return `${head}\r\n`;
}

/** Lower-cased header names listed in a Connection header, if any. */
function connectionNamed(value: string | null): string[] | undefined {
  if (!value) return undefined;
  const names: string[] = [];
  for (const name of value.split(',')) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed) names.push(trimmed);
  }
  return names;
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
