/**
 * One keep-alive HTTP/1.1 connection from the router to an upstream, carrying one request
 * at a time (no pipelining). It writes the request head and body itself and parses the
 * response (upstream-conn-parse.ts), which costs far less per request than `fetch` does.
 *
 * The answer is handed over as soon as it can be: a small fixed-length body is read whole
 * first (one Response from bytes, no stream), anything else (chunked, read-until-close,
 * large) is streamed through a ReadableStream whose queue is bounded in bytes: when the
 * client reads slower than the upstream sends, the upstream socket is paused, so TCP
 * pushes back on the upstream instead of the router buffering the body.
 *
 * After a complete response the connection goes back to its pool (upstream-conn-pool.ts)
 * unless either side asked to close or the framing forbids reuse. A connection that was
 * reused and then closed before any byte of the answer arrived is reported as "retry
 * safe" for replayable requests: that is the upstream closing an idle keep-alive
 * connection while our request was on its way, not the upstream failing.
 */
import type { Socket, SocketHandler } from 'bun';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import {
  type BodyFraming,
  type ChunkedState,
  decodeChunked,
  latin1,
  newChunkedState,
  parseResponseHead,
  type ReplyHeaders,
} from './upstream-conn-parse.ts';
import { flushQueue, type QueuedPiece } from './write-queue.ts';

export type { ReplyHeaders } from './upstream-conn-parse.ts';

/** Why an exchange ended without an answer (timeouts and client aborts are the caller's). */
export type ExchangeFailureKind = 'connect' | 'reset';

/** The upstream's answer, ready to become a Response. */
export interface UpstreamReply {
  status: number;
  /** Hop-by-hop headers already removed. */
  headers: ReplyHeaders;
  /** The whole body (null: none) when it was read before answering, else a stream. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}

/**
 * One request to carry, and where its answer goes. The proxy's per-request object
 * implements it directly, so a request costs no extra promise or closure here.
 */
export interface Exchange {
  /** Request line and header section, ending with the blank line (latin1 text). */
  readonly head: string;
  /** The whole body (its length is in the head), or null. */
  readonly body: Uint8Array | null;
  /** The answer to HEAD has no body whatever its headers say. */
  readonly isHead: boolean;
  /** Safe to send again if a reused connection turns out closed (idempotent method). */
  readonly replayable: boolean;
  /** The answer arrived: its body complete, or a stream that ends later. */
  deliver(reply: UpstreamReply): void;
  /** No answer. `retrySafe`: the request provably never reached the upstream's application. */
  fail(kind: ExchangeFailureKind, retrySafe: boolean): void;
  /** A streamed body ended, failed or was cancelled; called once, never for a bytes body. */
  bodyEnded(): void;
}

/** The pool a connection returns to. */
export interface ConnectionOwner {
  /** The connection finished an exchange and may carry another. */
  release(conn: UpstreamConnection): void;
  /** The connection closed; forget it. */
  forget(conn: UpstreamConnection): void;
}

type Phase = 'idle' | 'head' | 'buffer' | 'stream';

/** Small request bodies are sent in the same write as the head. */
const coalesceBodyBytesMax = 16_384;
/** Any char past ASCII: then the head is written as latin1 bytes, not as UTF-8. */
const nonAsciiPattern = /[\u0080-\uffff]/;

export class UpstreamConnection {
  readonly #owner: ConnectionOwner;
  #socket: Socket<UpstreamConnection> | undefined;
  #closed = false;
  #exchange: Exchange | undefined;
  #phase: Phase = 'idle';
  /** Carried an exchange before the current one (so the upstream may have closed it). */
  #reused = false;
  /** Some byte of the current answer arrived. */
  #received = false;
  /** Request bytes the socket did not take yet (written on `drain`); strings are ASCII. */
  #unsent: QueuedPiece[] = [];
  #requestWritten = false;
  #anyWritten = false;
  /** Inside `send`: failures are reported later, never re-entrantly. */
  #sending = false;
  #partialHead: Buffer | undefined;
  #framing: BodyFraming = { kind: 'none' };
  #keepAlive = false;
  #remainingBytes = 0;
  #chunked: ChunkedState | undefined;
  #parts: Uint8Array[] = [];
  /** Status and headers of an answer whose small body is still being read. */
  #pendingReply: UpstreamReply | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #paused = false;

  /** Opens a connection that will carry `exchange` once connected. */
  static open(
    owner: ConnectionOwner,
    hostname: string,
    port: number,
    exchange: Exchange,
  ): UpstreamConnection {
    const conn = new UpstreamConnection(owner);
    conn.#begin(exchange);
    Bun.connect<UpstreamConnection>({
      hostname,
      port,
      socket: UpstreamConnection.#handlers,
      data: conn,
    }).catch(() => {
      // Reported through connectError; the rejected promise carries nothing more.
    });
    return conn;
  }

  private constructor(owner: ConnectionOwner) {
    this.#owner = owner;
  }

  /**
   * Carries `exchange` on this idle, open connection. Never calls `exchange` back before
   * returning (a failed write is reported from a microtask), so the caller can record
   * which connection carries it first.
   */
  send(exchange: Exchange): void {
    assert(this.#phase === 'idle' && !this.#closed, 'send on a busy or closed connection');
    this.#socket!.timeout(0);
    this.#begin(exchange);
    this.#sending = true;
    this.#writeRequest();
    this.#sending = false;
  }

  /**
   * Cuts the connection if it still carries `exchange` (timeout, client gone) and
   * reports nothing back. A no-op once the exchange has its answer or moved on.
   */
  abort(exchange: Exchange): void {
    if (this.#exchange !== exchange || this.#phase === 'stream') return;
    this.#exchange = undefined;
    this.#phase = 'idle';
    this.#destroy();
  }

  /**
   * Closes an idle connection politely (FIN). It leaves the pool at once, so no request
   * is written to a socket that is already shutting down.
   */
  closeIdle(): void {
    if (this.#phase !== 'idle' || this.#closed) return;
    const socket = this.#socket;
    this.#closed = true;
    this.#socket = undefined;
    this.#owner.forget(this);
    socket?.end();
  }

  #begin(exchange: Exchange): void {
    this.#exchange = exchange;
    this.#phase = 'head';
    this.#received = false;
    this.#requestWritten = false;
    this.#anyWritten = false;
    this.#partialHead = undefined;
    const body = exchange.body;
    if ((body === null || body.byteLength === 0) && !nonAsciiPattern.test(exchange.head)) {
      // Bun writes a string as UTF-8, which is the head's latin1 bytes when it is ASCII;
      // that saves allocating a buffer per request (and the GC the time to free it).
      this.#unsent = [exchange.head];
      return;
    }
    const head = Buffer.from(exchange.head, 'latin1');
    if (body === null || body.byteLength === 0) this.#unsent = [head];
    else if (body.byteLength <= coalesceBodyBytesMax) this.#unsent = [Buffer.concat([head, body])];
    else this.#unsent = [head, body];
  }

  static readonly #handlers: SocketHandler<UpstreamConnection> = {
    binaryType: 'buffer',
    open(socket) {
      const conn = socket.data;
      conn.#socket = socket;
      socket.setNoDelay(true);
      // The client connections keep the process alive; pooled sockets must not.
      socket.unref();
      if (conn.#closed) socket.terminate();
      else conn.#writeRequest();
    },
    connectError(socket) {
      socket.data.#handleClose(true);
    },
    data(socket, data) {
      socket.data.#handleData(data);
    },
    drain(socket) {
      socket.data.#writeRequest();
    },
    close(socket) {
      socket.data.#handleClose(false);
    },
    timeout(socket) {
      // Only idle connections have a timeout armed; Bun closes the socket after this.
      socket.data.closeIdle();
    },
    error(socket) {
      // One of our handlers threw: whatever the exchange was doing is lost.
      socket.data.#handleClose(false);
      socket.terminate();
    },
  };

  /** Writes what the socket takes now; the rest waits for `drain`. */
  #writeRequest(): void {
    const socket = this.#socket;
    if (!socket || this.#exchange === undefined) return;
    const written = flushQueue(socket, this.#unsent);
    if (written < 0) {
      this.#failExchange('reset', !this.#anyWritten);
      return;
    }
    if (written > 0) this.#anyWritten = true;
    if (this.#unsent.length > 0) return;
    this.#requestWritten = true;
  }

  #handleData(data: Buffer): void {
    if (this.#exchange === undefined) {
      // Bytes nobody asked for: the upstream is out of step with us; never reuse it.
      this.#destroy();
      return;
    }
    this.#received = true;
    if (this.#phase === 'head') this.#readHead(data);
    else this.#readBody(data, 0);
  }

  /** Reads the response head, skipping interim (1xx) answers. */
  #readHead(data: Buffer): void {
    let bytes = this.#partialHead ? Buffer.concat([this.#partialHead, data]) : data;
    // Each pass consumes a whole interim head, so the loop ends within `bytes`.
    while (this.#exchange !== undefined) {
      const end = bytes.indexOf('\r\n\r\n');
      const tooLong =
        end < 0
          ? bytes.length > limits.routerResponseHeadBytesMax
          : end > limits.routerResponseHeadBytesMax;
      if (tooLong) {
        this.#failExchange('reset', false);
        return;
      }
      if (end < 0) {
        this.#partialHead = bytes;
        return;
      }
      const parsed = parseResponseHead(latin1(bytes, 0, end), this.#exchange.isHead);
      if (!parsed.ok || parsed.head.status === 101 || parsed.head.status > 599) {
        this.#failExchange('reset', false);
        return;
      }
      if (parsed.head.status >= 200) {
        this.#partialHead = undefined;
        this.#framing = parsed.head.framing;
        this.#keepAlive = parsed.head.keepAlive;
        this.#beginBody(parsed.head.status, parsed.head.headers, bytes, end + 4);
        return;
      }
      bytes = bytes.subarray(end + 4);
      if (bytes.length === 0) {
        this.#partialHead = undefined;
        return;
      }
    }
  }

  #beginBody(status: number, headers: ReplyHeaders, bytes: Buffer, offset: number): void {
    const framing = this.#framing;
    const available = bytes.length - offset;
    if (framing.kind === 'none') {
      this.#deliver({ status, headers, body: null });
      this.#finish(available === 0);
      return;
    }
    if (framing.kind === 'length') {
      if (available >= framing.lengthBytes) {
        const body = bytes.subarray(offset, offset + framing.lengthBytes);
        this.#deliver({ status, headers, body });
        this.#finish(available === framing.lengthBytes);
        return;
      }
      this.#remainingBytes = framing.lengthBytes;
      if (framing.lengthBytes <= limits.routerResponseBufferBytesMax) {
        this.#phase = 'buffer';
        this.#pendingReply = { status, headers, body: null };
        this.#parts = [];
        this.#readBody(bytes, offset);
        return;
      }
    }
    if (framing.kind === 'chunked') {
      this.#beginChunked(status, headers, bytes, offset);
      return;
    }
    this.#startStream(status, headers);
    this.#readBody(bytes, offset);
  }

  /** A chunked body that ends within these bytes is answered whole; else it streams. */
  #beginChunked(status: number, headers: ReplyHeaders, bytes: Buffer, offset: number): void {
    this.#chunked = newChunkedState();
    const parts: Uint8Array[] = [];
    const at = decodeChunked(this.#chunked, bytes, offset, parts);
    if (at < 0) {
      this.#failExchange('reset', false);
      return;
    }
    if (this.#chunked.phase === 'done') {
      this.#deliver({ status, headers, body: joinParts(parts) });
      this.#finish(at === bytes.length);
      return;
    }
    this.#startStream(status, headers);
    for (const part of parts) this.#enqueue(part);
  }

  /** Body bytes after the head, in the `buffer` or `stream` phase. */
  #readBody(bytes: Buffer, offset: number): void {
    if (offset >= bytes.length) return;
    const framing = this.#framing;
    if (framing.kind === 'chunked') {
      this.#readChunked(bytes, offset);
      return;
    }
    if (framing.kind === 'close') {
      this.#enqueue(bytes.subarray(offset));
      return;
    }
    const take = Math.min(this.#remainingBytes, bytes.length - offset);
    const part = bytes.subarray(offset, offset + take);
    this.#remainingBytes -= take;
    const exact = offset + take === bytes.length;
    if (this.#phase === 'buffer') {
      this.#parts.push(part);
      if (this.#remainingBytes > 0) return;
      const reply = this.#pendingReply!;
      this.#pendingReply = undefined;
      this.#deliver({ ...reply, body: joinParts(this.#parts) });
      this.#parts = [];
      this.#finish(exact);
      return;
    }
    this.#enqueue(part);
    if (this.#remainingBytes === 0) this.#endStream(exact);
  }

  #readChunked(bytes: Buffer, offset: number): void {
    const parts: Uint8Array[] = [];
    const at = decodeChunked(this.#chunked!, bytes, offset, parts);
    if (at < 0) {
      this.#controller?.error(new Error('malformed chunked body from upstream'));
      this.#endExchange();
      this.#destroy();
      return;
    }
    for (const part of parts) this.#enqueue(part);
    if (this.#chunked!.phase === 'done') this.#endStream(at === bytes.length);
  }

  #startStream(status: number, headers: ReplyHeaders): void {
    this.#phase = 'stream';
    this.#paused = false;
    // A finished stream may still be cancelled or pulled by its reader after this
    // connection has moved on to another exchange: both act only for their own exchange.
    const owner = this.#exchange;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          if (this.#exchange === owner) this.#resumeReading();
        },
        cancel: () => {
          if (this.#exchange === owner) this.#cancelBody();
        },
      },
      {
        highWaterMark: limits.routerResponseQueueBytesMax,
        size: (chunk) => chunk?.byteLength ?? 0,
      },
    );
    this.#deliver({ status, headers, body });
  }

  #enqueue(part: Uint8Array): void {
    const controller = this.#controller;
    if (!controller || part.byteLength === 0) return;
    controller.enqueue(part);
    const desired = controller.desiredSize;
    if (desired !== null && desired <= 0 && !this.#paused) {
      this.#paused = true;
      this.#socket?.pause();
    }
  }

  #resumeReading(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket?.resume();
  }

  /** The client went away mid-body: the rest of this answer is not wanted. */
  #cancelBody(): void {
    if (this.#phase !== 'stream') return;
    this.#controller = undefined;
    this.#endExchange();
    this.#destroy();
  }

  /** The streamed body is complete. */
  #endStream(exact: boolean): void {
    this.#controller?.close();
    this.#controller = undefined;
    this.#finish(exact);
  }

  #deliver(reply: UpstreamReply): void {
    this.#exchange!.deliver(reply);
  }

  /** The answer is complete: tell the exchange, then reuse or close the connection. */
  #finish(exact: boolean): void {
    this.#endExchange();
    const reusable = exact && this.#keepAlive && this.#requestWritten && !this.#closed;
    if (!reusable) {
      this.#destroy();
      return;
    }
    this.#reused = true;
    // The read that ended a streamed body may also have filled its queue and paused the
    // socket; an idle connection must read, or the next answer on it is never seen.
    this.#resumeReading();
    this.#socket!.timeout(limits.routerUpstreamIdleSeconds);
    this.#owner.release(this);
  }

  /** Detaches the exchange; a streamed body's end is reported exactly once, here. */
  #endExchange(): void {
    const exchange = this.#exchange;
    const streamed = this.#phase === 'stream';
    this.#exchange = undefined;
    this.#phase = 'idle';
    this.#unsent = [];
    if (streamed) exchange?.bodyEnded();
  }

  #failExchange(kind: ExchangeFailureKind, retrySafe: boolean): void {
    const exchange = this.#exchange;
    this.#endExchange();
    this.#destroy();
    if (exchange !== undefined) this.#reportFailure(exchange, kind, retrySafe);
  }

  /** Tells `exchange` it failed; later when inside `send`, which must not re-enter it. */
  #reportFailure(exchange: Exchange, kind: ExchangeFailureKind, retrySafe: boolean): void {
    if (this.#sending) queueMicrotask(() => exchange.fail(kind, retrySafe));
    else exchange.fail(kind, retrySafe);
  }

  #handleClose(connectFailed: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket = undefined;
    this.#owner.forget(this);
    const exchange = this.#exchange;
    if (exchange === undefined) return;
    if (connectFailed) {
      this.#endExchange();
      this.#reportFailure(exchange, 'connect', false);
    } else if (this.#phase === 'stream') {
      if (this.#framing.kind === 'close') this.#controller?.close();
      else this.#controller?.error(new Error('upstream closed the connection mid-body'));
      this.#controller = undefined;
      this.#endExchange();
    } else {
      const stale = this.#reused && !this.#received;
      const retrySafe = stale && (exchange.replayable || !this.#anyWritten);
      this.#endExchange();
      this.#reportFailure(exchange, 'reset', retrySafe);
    }
  }

  #destroy(): void {
    const socket = this.#socket;
    if (!this.#closed) {
      this.#closed = true;
      this.#socket = undefined;
      this.#owner.forget(this);
    }
    socket?.terminate();
  }
}

function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
}
