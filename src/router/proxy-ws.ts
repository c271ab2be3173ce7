/**
 * WebSocket pass-through. The router first opens a WebSocket to an upstream (so a dead
 * upstream gives the client a 502, not an upgrade that closes at once), then upgrades the
 * client and pipes messages both ways. A close on either side closes the other with the
 * same code and reason. A proxied socket is tied to its upstream, not to the route table:
 * a table change never closes it; stopping the allocation does.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun';
import type { RouteEntry } from '../../actors/router/index.ts';
import { limits as globalLimits } from '../core/limits.ts';
import { errorResponse } from './error-response.ts';
import type { ClientFacts } from './headers.ts';
import { upstreamWebSocketHeaders } from './headers.ts';
import type { ProxyContext } from './proxy-http.ts';
import type { UpstreamState } from './upstream-pool.ts';

type Payload = string | ArrayBuffer | Uint8Array;

/** Per-connection data Bun keeps on the client socket. */
export interface ProxiedSocket {
  upstream: WebSocket;
  /** Upstream messages that arrived before the client side opened (bounded). */
  pending: Payload[];
  client: ServerWebSocket<ProxiedSocket> | undefined;
  release: () => void;
  /** Bytes either side may buffer before the socket is closed as too slow. */
  bufferedBytesMax: number;
}

/** A WebSocket handshake Bun.serve received (HTTPS; the raw front tunnels its own). */
export interface WebSocketForward {
  req: Request;
  server: Server<ProxiedSocket>;
  pathAndQuery: string;
  client: ClientFacts;
  startMs: number;
}

/** Opens the upstream, then upgrades the client. Resolves to a Response only on failure. */
export async function proxyWebSocket(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: WebSocketForward,
  openSockets: { count: number },
): Promise<Response | undefined> {
  const accept = forward.req.headers.get('accept');
  if (openSockets.count >= ctx.limits.webSocketsMax) {
    return errorResponse('too_many_websockets', 'too many WebSockets are open', accept);
  }
  const tried = new Set<string>();
  for (let attempt = 0; attempt <= ctx.limits.retriesMax; attempt++) {
    const state = ctx.pool.pick(route, ctx.balancing, tried);
    if (!state) break;
    tried.add(state.key);
    const upstream = await openUpstream(ctx, state, forward);
    if (upstream === 'timeout') {
      ctx.metrics.upstreamError(route.id, 'timeout');
      return errorResponse('upstream_timeout', `${route.job} did not answer in time`, accept);
    }
    if (upstream === 'failed') {
      ctx.metrics.upstreamError(route.id, 'connect');
      ctx.pool.reportConnectFailure(state);
      continue;
    }
    ctx.pool.reportSuccess(state);
    if (upgradeClient(ctx, state, forward, upstream, openSockets)) {
      ctx.metrics.request(route.id, 101, (performance.now() - forward.startMs) / 1000);
      return undefined;
    }
    upstream.close(1011, 'client upgrade failed');
    return new Response('WebSocket upgrade failed', { status: 400 });
  }
  ctx.metrics.request(route.id, 502, (performance.now() - forward.startMs) / 1000);
  return errorResponse('upstream_unavailable', `${route.job} could not be reached`, accept);
}

/** The `websocket` handler set for Bun.serve. */
export function webSocketHandler(): WebSocketHandler<ProxiedSocket> {
  return {
    open(ws) {
      ws.data.client = ws;
      for (const message of ws.data.pending.splice(0)) ws.send(message);
    },
    message(ws, message) {
      const { upstream } = ws.data;
      if (upstream.readyState !== WebSocket.OPEN) return;
      if (upstream.bufferedAmount > ws.data.bufferedBytesMax) {
        ws.close(1013, 'upstream too slow');
        return;
      }
      upstream.send(message);
    },
    close(ws, code, reason) {
      closeQuietly(ws.data.upstream, code, reason);
      ws.data.release();
    },
  };
}

function openUpstream(
  ctx: ProxyContext,
  state: UpstreamState,
  forward: WebSocketForward,
): Promise<WebSocket | 'failed' | 'timeout'> {
  const url = `ws${state.url.slice(4)}${forward.pathAndQuery}`;
  const protocols = (forward.req.headers.get('sec-websocket-protocol') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const headers = upstreamWebSocketHeaders(forward.req.headers, forward.client);
  const upstream = new WebSocket(url, { headers, protocols } as unknown as string[]);
  upstream.binaryType = 'arraybuffer';
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      upstream.close();
      resolve('timeout');
    }, ctx.limits.upstreamTimeoutMs);
    upstream.onopen = () => {
      clearTimeout(timer);
      resolve(upstream);
    };
    upstream.onerror = () => {
      clearTimeout(timer);
      resolve('failed');
    };
  });
}

function upgradeClient(
  ctx: ProxyContext,
  state: UpstreamState,
  forward: WebSocketForward,
  upstream: WebSocket,
  openSockets: { count: number },
): boolean {
  let released = false;
  const data: ProxiedSocket = {
    upstream,
    pending: [],
    client: undefined,
    bufferedBytesMax: ctx.limits.wsBufferedBytesMax,
    release: () => {
      if (released) return;
      released = true;
      openSockets.count -= 1;
      ctx.pool.release(state);
    },
  };
  const server = forward.server;
  const headers = upstream.protocol ? { 'sec-websocket-protocol': upstream.protocol } : undefined;
  if (!server?.upgrade(forward.req, { data, headers })) return false;
  openSockets.count += 1;
  ctx.pool.acquire(state);
  upstream.onmessage = (event: MessageEvent) => forwardToClient(data, event.data as Payload);
  upstream.onclose = (event: CloseEvent) => {
    if (data.client) closeQuietly(data.client, event.code, event.reason);
    data.release();
  };
  upstream.onerror = () => {
    if (data.client) data.client.close(1011, 'upstream error');
    data.release();
  };
  return true;
}

function forwardToClient(data: ProxiedSocket, message: Payload): void {
  const { client } = data;
  if (!client) {
    if (data.pending.length >= globalLimits.routerWsPendingMessagesMax) {
      data.upstream.close(1013, 'client not ready');
      return;
    }
    data.pending.push(message);
    return;
  }
  if (client.getBufferedAmount() > data.bufferedBytesMax) {
    client.close(1013, 'client too slow');
    return;
  }
  client.send(message);
}

/**
 * Closes with the peer's code where the protocol allows sending it. 1005 (no code) becomes
 * 1000; 1006/1015 (connection lost, TLS failure) become 1011 so the client sees an error.
 */
function closeQuietly(
  socket: { close(code?: number, reason?: string): void },
  code: number,
  reason: string,
): void {
  const sendable =
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999);
  const mapped = sendable ? code : code === 1005 ? 1000 : 1011;
  try {
    socket.close(mapped, reason.slice(0, 120));
  } catch {
    // Already closed: nothing to propagate.
  }
}
