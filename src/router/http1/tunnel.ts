/**
 * Upgraded requests (WebSocket) on the raw front: the router connects to an upstream of the
 * route, sends the client's handshake on (with forwarding headers, Connection/Upgrade kept),
 * and from then on copies bytes both ways, as nginx does. The upstream's own answer decides
 * the upgrade: a 101 opens the WebSocket end to end, anything else reaches the client as
 * the upstream sent it. Subprotocols, extensions and frames pass through untouched.
 *
 * A refused connection is retried on another upstream (the handshake is still ours to
 * resend); once connected the tunnel is tied to that upstream, not to the route table: a
 * table change never closes it, and the allocation counts it as in flight (draining waits
 * for it) until either side closes. Each direction has backpressure: when one side does not
 * take what the other sends, the sending side is paused.
 */
import type { Socket, SocketHandler } from 'bun';
import type { RouteEntry } from '../../../actors/router/index.ts';
import { errorResponse } from '../error-response.ts';
import { upstreamHeadFromFields } from '../headers.ts';
import type { ProxyContext } from '../proxy-http.ts';
import type { UpstreamState } from '../upstream-pool.ts';
import { flushQueue } from '../write-queue.ts';
import type { FrontRequest } from './front-request.ts';

/** Proxied WebSockets open now, shared with the router's gauge. */
export interface OpenTunnels {
  count: number;
}

const statusPattern = /^HTTP\/1\.[01] (\d{3})/;

/** Tunnels `request` (an upgrade) to an upstream of `route`, or answers why not. */
export function tunnelUpgrade(
  ctx: ProxyContext,
  route: RouteEntry,
  request: FrontRequest,
  open: OpenTunnels,
): void {
  if (open.count >= ctx.limits.webSocketsMax) {
    answerError(ctx, route, request, 'too_many_websockets', 'too many WebSockets are open');
    return;
  }
  new Tunnel(ctx, route, request, open).connect();
}

function answerError(
  ctx: ProxyContext,
  route: RouteEntry,
  request: FrontRequest,
  code: 'too_many_websockets' | 'upstream_unavailable' | 'upstream_timeout',
  message: string,
): void {
  const response = errorResponse(code, message, request.accept);
  ctx.metrics.request(route.id, response.status, (performance.now() - request.startMs) / 1000);
  request.respond(response);
}

/** Socket data: which attempt a socket belongs to (a late event of an earlier one is ignored). */
interface Attempt {
  tunnel: Tunnel;
  number: number;
}

export class Tunnel {
  readonly #ctx: ProxyContext;
  readonly #route: RouteEntry;
  readonly #request: FrontRequest;
  readonly #open: OpenTunnels;
  readonly #tried = new Set<string>();
  #attempts = 0;
  #state: UpstreamState | undefined;
  #socket: Socket<Attempt> | undefined;
  #connectTimer: Timer | undefined;
  /** Bytes toward the upstream that its socket did not take yet. */
  #toUpstream: Uint8Array[] = [];
  #statusSeen = false;
  #ended = false;

  constructor(ctx: ProxyContext, route: RouteEntry, request: FrontRequest, open: OpenTunnels) {
    this.#ctx = ctx;
    this.#route = route;
    this.#request = request;
    this.#open = open;
  }

  /** Connects to the next upstream not tried yet, or answers 502 when none is left. */
  connect(): void {
    const { pool, balancing, limits } = this.#ctx;
    const state =
      this.#attempts > limits.retriesMax
        ? undefined
        : pool.pick(this.#route, balancing, this.#tried);
    const address = state?.conns?.address;
    if (!state || !address) {
      this.#ended = true;
      answerError(
        this.#ctx,
        this.#route,
        this.#request,
        'upstream_unavailable',
        `${this.#route.job} could not be reached`,
      );
      return;
    }
    this.#attempts += 1;
    this.#tried.add(state.key);
    this.#state = state;
    pool.acquire(state);
    this.#open.count += 1;
    const attempt = this.#attempts;
    this.#connectTimer = setTimeout(
      () => this.#connectFailed(attempt, 'timeout'),
      limits.upstreamTimeoutMs,
    );
    Bun.connect<Attempt>({
      hostname: address.hostname,
      port: address.port,
      socket: Tunnel.#handlers,
      data: { tunnel: this, number: this.#attempts },
    }).catch(() => {
      // Reported through connectError.
    });
  }

  /** Client bytes after the handshake. */
  fromClient(data: Uint8Array): void {
    if (this.#ended) return;
    this.#sendUpstream(data);
  }

  /** The client socket took everything queued: upstream reading may go on. */
  clientDrained(): void {
    this.#socket?.resume();
  }

  clientClosed(): void {
    this.#socket?.end();
    this.#end();
  }

  static readonly #handlers: SocketHandler<Attempt> = {
    binaryType: 'buffer',
    open(socket) {
      socket.data.tunnel.#opened(socket);
    },
    connectError(socket) {
      socket.data.tunnel.#connectFailed(socket.data.number, 'connect');
    },
    data(socket, data) {
      socket.data.tunnel.#fromUpstream(data);
    },
    drain(socket) {
      socket.data.tunnel.#flushUpstream();
    },
    close(socket) {
      socket.data.tunnel.#upstreamClosed(socket.data.number);
    },
    error(socket) {
      socket.data.tunnel.#upstreamClosed(socket.data.number);
    },
  };

  #opened(socket: Socket<Attempt>): void {
    if (this.#ended || socket.data.number !== this.#attempts || this.#request.conn.isClosed) {
      // A late connection of an attempt already given up, or nobody left to tunnel for.
      socket.terminate();
      if (socket.data.number === this.#attempts) this.#end();
      return;
    }
    clearTimeout(this.#connectTimer);
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#ctx.pool.reportSuccess(this.#state!);
    const { head, client } = this.#request;
    const upgrade = `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n`;
    const rest = upstreamHeadFromFields(
      head.method,
      head.target,
      head.fields,
      head.connectionTokens,
      client,
      undefined,
    );
    // The request line first, then Connection/Upgrade, then the rewritten fields.
    const lineEnd = rest.indexOf('\r\n') + 2;
    const handshake = rest.slice(0, lineEnd) + upgrade + rest.slice(lineEnd);
    const early = this.#request.conn.becomeTunnel(this);
    this.#sendUpstream(Buffer.from(handshake, 'latin1'));
    if (early !== undefined && early.length > 0) this.#sendUpstream(early);
  }

  #connectFailed(attempt: number, kind: 'connect' | 'timeout'): void {
    if (attempt !== this.#attempts || this.#socket !== undefined || this.#ended) return;
    clearTimeout(this.#connectTimer);
    const state = this.#state!;
    this.#release();
    this.#ctx.metrics.upstreamError(this.#route.id, kind);
    if (kind === 'timeout') {
      this.#ended = true;
      answerError(
        this.#ctx,
        this.#route,
        this.#request,
        'upstream_timeout',
        `${this.#route.job} did not answer in time`,
      );
      return;
    }
    this.#ctx.pool.reportConnectFailure(state);
    if (this.#request.conn.isClosed) {
      this.#ended = true;
      return;
    }
    this.connect();
  }

  #fromUpstream(data: Buffer): void {
    if (!this.#statusSeen) {
      this.#statusSeen = true;
      const status = Number(statusPattern.exec(data.toString('latin1', 0, 16))?.[1] ?? 502);
      const seconds = (performance.now() - this.#request.startMs) / 1000;
      this.#ctx.metrics.request(this.#route.id, status, seconds);
    }
    const conn = this.#request.conn;
    if (!conn.write(data)) this.#socket?.pause();
  }

  #sendUpstream(data: Uint8Array): void {
    const socket = this.#socket;
    if (!socket) return;
    if (this.#toUpstream.length > 0) {
      this.#toUpstream.push(data);
      return;
    }
    const written = socket.write(data);
    if (written >= data.byteLength) return;
    this.#toUpstream.push(data.subarray(Math.max(0, written)));
    this.#request.conn.setReading(false);
  }

  #flushUpstream(): void {
    const socket = this.#socket;
    // A closed upstream socket ends the tunnel through its close handler.
    if (!socket || flushQueue(socket, this.#toUpstream) < 0) return;
    if (this.#toUpstream.length > 0) return;
    this.#request.conn.setReading(true);
  }

  #upstreamClosed(attempt: number): void {
    if (this.#socket === undefined) {
      this.#connectFailed(attempt, 'connect');
      return;
    }
    this.#request.conn.endAfterWrites();
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#connectTimer);
    this.#release();
  }

  #release(): void {
    const state = this.#state;
    if (!state) return;
    this.#state = undefined;
    this.#open.count -= 1;
    this.#ctx.pool.release(state);
  }
}
