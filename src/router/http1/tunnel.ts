/**
 * Upgraded requests (WebSocket) on the raw front: the router connects to an upstream of the
 * route, sends the client's handshake on (with forwarding headers, Connection/Upgrade kept),
 * and from then on copies bytes both ways, as nginx does. The upstream's own answer decides
 * the upgrade: a 101 opens the WebSocket end to end. Any other answer (a 401, a 404, …) is
 * relayed with its body and the client connection then closes: it must not stay a raw
 * pipe to that upstream, where later requests would skip routing and the forwarding
 * headers the router sets. Subprotocols, extensions and frames pass through untouched.
 *
 * A refused connection is retried on another upstream (the handshake is still ours to
 * resend), and the upstream has `upstreamTimeoutMs` to connect and again to answer it (else
 * 504); once connected the tunnel is tied to that upstream, not to the route table: a
 * table change never closes it, and the allocation counts it as in flight (draining waits
 * for it) until either side closes. Each direction has backpressure: when one side does not
 * take what the other sends, the sending side is paused.
 */
import type { Socket, SocketHandler } from 'bun';
import type { RouteEntry } from '../../../actors/router/index.ts';
import { limits as globalLimits } from '../../core/limits.ts';
import { errorResponse } from '../error-response.ts';
import { upstreamHeadFromFields } from '../headers.ts';
import type { ProxyContext } from '../proxy-http.ts';
import {
  type BodyFraming,
  type ChunkedState,
  decodeChunked,
  latin1,
  newChunkedState,
  parseResponseHead,
  type ResponseHead,
} from '../upstream-conn-parse.ts';
import type { UpstreamState } from '../upstream-pool.ts';
import { flushQueue } from '../write-queue.ts';
import type { FrontRequest } from './front-request.ts';
import { type ClientFraming, replyHead } from './response-head.ts';

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

/** The answer to a refused upgrade, relayed to its end; then the client connection closes. */
interface Refusal {
  framing: BodyFraming;
  /** Body bytes still to come (framing `length`). */
  remainingBytes: number;
  /** Where the chunked body is (framing `chunked`). */
  chunked: ChunkedState | undefined;
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
  /** Times the connect, then the wait for the upstream's answer to the handshake. */
  #timer: Timer | undefined;
  /** Bytes toward the upstream that its socket did not take yet. */
  #toUpstream: Uint8Array[] = [];
  /**
   * Client bytes that came before the upstream's 101 (RFC 6455 §4.1: a client waits for
   * it): sent once the upgrade is accepted, dropped if it is refused. Reading pauses while
   * any are held.
   */
  #held: Uint8Array[] = [];
  /** The upstream answered 101: everything from it now goes to the client as it comes. */
  #upgraded = false;
  /** Bytes of the upstream's answer head so far (it decides what the connection becomes). */
  #headBytes: Buffer | undefined;
  #refusal: Refusal | undefined;
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
    this.#timer = setTimeout(
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
    // After a refused upgrade nothing more goes to that upstream.
    if (this.#ended || this.#refusal !== undefined) return;
    if (this.#upgraded) this.#sendUpstream(data);
    else this.#hold(data);
  }

  #hold(data: Uint8Array): void {
    this.#held.push(data);
    this.#request.conn.setReading(false);
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
    clearTimeout(this.#timer);
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
    if (early !== undefined && early.length > 0) this.#hold(early);
    this.#timer = setTimeout(() => this.#answerTimedOut(), this.#ctx.limits.upstreamTimeoutMs);
  }

  /** Connected, but no final answer to the handshake in time: 504, and both sides close. */
  #answerTimedOut(): void {
    if (this.#ended || this.#upgraded || this.#refusal !== undefined) return;
    this.#ctx.metrics.upstreamError(this.#route.id, 'timeout');
    this.#abandon(() => this.#answerTimeout());
  }

  /** The upstream took too long (to connect, or to answer the handshake): 504. */
  #answerTimeout(): void {
    const message = `${this.#route.job} did not answer in time`;
    answerError(this.#ctx, this.#route, this.#request, 'upstream_timeout', message);
  }

  /**
   * Connected, but the upgrade cannot go on: the router answers the client itself, and both
   * sides close. The answer goes first: cutting the upstream may close the client at once
   * (its close handler); the client connection closes once the answer is written
   * (FrontConnection.answered).
   */
  #abandon(answer: () => void): void {
    this.#end();
    answer();
    this.#socket?.terminate();
  }

  #connectFailed(attempt: number, kind: 'connect' | 'timeout'): void {
    if (attempt !== this.#attempts || this.#socket !== undefined || this.#ended) return;
    clearTimeout(this.#timer);
    const state = this.#state!;
    this.#release();
    this.#ctx.metrics.upstreamError(this.#route.id, kind);
    if (kind === 'timeout') {
      this.#ended = true;
      this.#answerTimeout();
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
    if (this.#upgraded) {
      if (!this.#request.conn.write(data)) this.#socket?.pause();
      return;
    }
    if (this.#refusal !== undefined) {
      this.#relayRefusal(data, 0);
      return;
    }
    this.#readAnswerHead(data);
  }

  /**
   * Gathers the upstream's answer head. A 101 turns the connection into the tunnel; an
   * interim answer (100, 103) is passed on and the next head awaited; any other answer is
   * relayed as a refusal. A head that is too long or unreadable gets the client a 502.
   */
  #readAnswerHead(data: Buffer): void {
    let bytes = this.#headBytes === undefined ? data : Buffer.concat([this.#headBytes, data]);
    this.#headBytes = undefined;
    const conn = this.#request.conn;
    // Each pass consumes one whole interim head, so the loop ends within `bytes`.
    for (;;) {
      const end = bytes.indexOf('\r\n\r\n');
      if (end < 0) {
        if (bytes.length > globalLimits.routerResponseHeadBytesMax) this.#badAnswer();
        else this.#headBytes = bytes;
        return;
      }
      if (end > globalLimits.routerResponseHeadBytesMax) {
        this.#badAnswer();
        return;
      }
      const status = Number(statusPattern.exec(latin1(bytes, 0, 16))?.[1] ?? 0);
      if (status === 101) {
        clearTimeout(this.#timer);
        this.#upgraded = true;
        this.#record(101);
        if (!conn.write(bytes)) this.#socket?.pause();
        this.#releaseHeld();
        return;
      }
      const parsed = parseResponseHead(latin1(bytes, 0, end), false);
      if (!parsed.ok) {
        this.#badAnswer();
        return;
      }
      if (status >= 200) {
        clearTimeout(this.#timer);
        this.#record(status);
        this.#refuse(parsed.head, bytes, end + 4);
        return;
      }
      conn.write(bytes.subarray(0, end + 4));
      bytes = bytes.subarray(end + 4);
      if (bytes.length === 0) return;
    }
  }

  /** The upgrade is accepted: what the client sent early goes on, and reading resumes. */
  #releaseHeld(): void {
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    for (const data of held) this.#sendUpstream(data);
    if (this.#toUpstream.length === 0) this.#request.conn.setReading(true);
  }

  #record(status: number): void {
    const seconds = (performance.now() - this.#request.startMs) / 1000;
    this.#ctx.metrics.request(this.#route.id, status, seconds);
  }

  /** The upstream's answer cannot be relayed: 502, and both connections close. */
  #badAnswer(): void {
    const message = `${this.#route.job} sent an answer the router cannot read`;
    this.#abandon(() =>
      answerError(this.#ctx, this.#route, this.#request, 'upstream_unavailable', message),
    );
  }

  /** The upstream answered the upgrade with a final non-101 answer: relay it, then close. */
  #refuse(head: ResponseHead, bytes: Buffer, offset: number): void {
    this.#held = [];
    const { framing } = head;
    const clientFraming: ClientFraming =
      framing.kind === 'length' ? { kind: 'length', lengthBytes: framing.lengthBytes } : framing;
    const text = replyHead(head.status, head.headers, {
      framing: clientFraming,
      keepAlive: false,
      http10: false,
    });
    this.#request.conn.writeHead(text, null);
    this.#refusal = {
      framing,
      remainingBytes: framing.kind === 'length' ? framing.lengthBytes : 0,
      chunked: framing.kind === 'chunked' ? newChunkedState() : undefined,
    };
    if (framing.kind === 'none') {
      this.#refusalDone();
      return;
    }
    this.#relayRefusal(bytes, offset);
  }

  /** Passes on the refused answer's body as framed by the upstream, up to its end. */
  #relayRefusal(bytes: Buffer, offset: number): void {
    const refusal = this.#refusal!;
    if (offset >= bytes.length) return;
    let end = bytes.length;
    let done = false;
    if (refusal.framing.kind === 'length') {
      end = Math.min(bytes.length, offset + refusal.remainingBytes);
      refusal.remainingBytes -= end - offset;
      done = refusal.remainingBytes === 0;
    } else if (refusal.chunked !== undefined) {
      // Chunked bytes pass as they came; the decoder only finds where the body ends.
      const at = decodeChunked(refusal.chunked, bytes, offset, []);
      if (at < 0) {
        this.#request.conn.destroy();
        this.#refusalDone();
        return;
      }
      end = at;
      done = refusal.chunked.phase === 'done';
    }
    const taken = this.#request.conn.write(bytes.subarray(offset, end));
    if (done) this.#refusalDone();
    else if (!taken) this.#socket?.pause();
  }

  /** The refused answer is relayed whole: the upstream connection and then the client's close. */
  #refusalDone(): void {
    this.#socket?.end();
    this.#end();
    this.#request.conn.endAfterWrites();
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
    // A tunnel that ended on its own (refusal relayed, bad answer) has closed the client.
    if (this.#ended) return;
    this.#request.conn.endAfterWrites();
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
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
