/**
 * The router's plain-HTTP listener: HTTP/1.1 on raw sockets (Bun.listen), instead of
 * Bun.serve. Bun.serve hands every request over as a Request and wants a Response back;
 * the two objects and their header maps cost about as much as the rest of a proxied
 * request. Here a request is parsed once into a flat field list (request-head.ts), turned
 * straight into the upstream's head, and the upstream's answer is written back as bytes.
 *
 * One connection carries one request at a time; pipelined requests wait in the receive
 * buffer and are parsed when the answer before them is complete. A request's body is read
 * whole first when small (so a refused connection can be retried), else streamed to the
 * upstream with backpressure (front-body.ts). A connection closes after an answer when
 * either side asked, when the body was not read to its end, and after a bad request.
 *
 * Idle connections (waiting for a request head, or for body bytes) are closed after
 * `clientIdleSeconds` by one sweep per second over all connections; a connection with a
 * request at the upstream or an answer streaming is never idle.
 */
import type { Socket, SocketHandler, TCPSocketListener } from 'bun';
import { assert } from '../../core/assert.ts';
import { limits } from '../../core/limits.ts';
import { SlotList, type Slotted } from '../../core/slot-list.ts';
import type { RouterLimits } from '../config.ts';
import { flushQueue, type QueuedPiece } from '../write-queue.ts';
import { FrontBody } from './front-body.ts';
import { FrontRequest } from './front-request.ts';
import { parseRequestHead, type RequestHead } from './request-head.ts';
import { statusLine } from './response-head.ts';
import type { Tunnel } from './tunnel.ts';

/** What the front asks of the router that owns it. */
export interface FrontHandler {
  /** A parsed request: answer it through `request` (reply, respond or tunnel), once. */
  request(request: FrontRequest): void;
  /** A request the front answered itself because it could not be parsed (for metrics). */
  refused(status: number, code: string): void;
}

export interface FrontOptions {
  hostname: string;
  port: number;
  limits: RouterLimits;
  proto: 'http' | 'https';
  handler: FrontHandler;
}

type Phase = 'head' | 'body' | 'wait' | 'tunnel' | 'closed';

/** Small bodies are written in one piece with their head. */
const coalesceBytesMax = 16_384;
/**
 * Where a head and a small body are joined before one write. The socket copies what it
 * takes at once; only a remainder it did not take is copied out, so answers cost no
 * allocation here (one thread: nothing else writes into it in between).
 */
const scratch = Buffer.allocUnsafe(coalesceBytesMax + limits.routerResponseHeadBytesMax);
/** Any char past ASCII: the string is written as latin1 bytes, not as UTF-8. */
const nonAsciiPattern = /[\u0080-\uffff]/;
const continueLine = 'HTTP/1.1 100 Continue\r\n\r\n';

export class Http1Front {
  readonly options: FrontOptions;
  /** Open connections; a SlotList, as clients that close after each request churn it. */
  readonly #conns = new SlotList<FrontConnection>();
  #listener: TCPSocketListener<FrontConnection | undefined> | undefined;
  #sweepTimer: Timer | undefined;
  #stopping = false;
  #whenQuiet: (() => void) | undefined;

  constructor(options: FrontOptions) {
    this.options = options;
  }

  /** Listens; throws (Bun's error) when the address is taken. */
  start(): void {
    assert(this.#listener === undefined, 'front already started');
    this.#listener = Bun.listen<FrontConnection | undefined>({
      hostname: this.options.hostname,
      port: this.options.port,
      socket: socketHandlers(this),
      data: undefined,
    });
    this.#sweepTimer = setInterval(() => this.#sweepIdle(), 1_000);
    this.#sweepTimer.unref();
  }

  get port(): number {
    assert(this.#listener !== undefined, 'front is not started');
    return this.#listener.port;
  }

  /** Connections open now (busy and idle). */
  get connections(): number {
    return this.#conns.size;
  }

  /**
   * Stops accepting. `force` cuts every connection; otherwise idle ones close now, busy ones
   * after their answer, and the promise resolves when no request is left (tunnels stay).
   */
  async stop(force: boolean): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweepTimer);
    this.#listener?.stop(force);
    this.#conns.forEach((conn) => {
      if (force) conn.destroy();
      else conn.closeIfIdle();
    });
    if (force || this.#busyCount() === 0) return;
    await new Promise<void>((resolve) => {
      this.#whenQuiet = resolve;
    });
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  added(conn: FrontConnection): void {
    if (this.#conns.size >= limits.routerClientConnsMax || this.#stopping) {
      conn.destroy();
      return;
    }
    this.#conns.add(conn);
  }

  removed(conn: FrontConnection): void {
    this.#conns.delete(conn);
    this.idleAgain();
  }

  /** A connection finished its work; a graceful stop may be complete. */
  idleAgain(): void {
    if (this.#whenQuiet && this.#busyCount() === 0) {
      const resolve = this.#whenQuiet;
      this.#whenQuiet = undefined;
      resolve();
    }
  }

  #busyCount(): number {
    let busy = 0;
    this.#conns.forEach((conn) => {
      if (conn.busy) busy += 1;
    });
    return busy;
  }

  #sweepIdle(): void {
    const idleSweepsMax = this.options.limits.clientIdleSeconds;
    this.#conns.forEach((conn) => {
      conn.sweep(idleSweepsMax);
    });
  }
}

function socketHandlers(front: Http1Front): SocketHandler<FrontConnection | undefined> {
  return {
    binaryType: 'buffer',
    open(socket) {
      const conn = new FrontConnection(front, socket as Socket<FrontConnection | undefined>);
      socket.data = conn;
      socket.setNoDelay(true);
      front.added(conn);
    },
    data(socket, data) {
      socket.data?.received(data);
    },
    drain(socket) {
      socket.data?.drained();
    },
    close(socket) {
      socket.data?.closed();
    },
    error(socket) {
      socket.data?.closed();
    },
  };
}

/** One client connection: reads requests one at a time and writes their answers. */
export class FrontConnection implements Slotted {
  /** Where the front's connection list holds this connection (slot-list.ts). */
  slot = -1;
  readonly front: Http1Front;
  readonly ip: string | undefined;
  readonly #socket: Socket<FrontConnection | undefined>;
  #phase: Phase = 'head';
  /** Received bytes not consumed yet (a partial head, or pipelined requests). */
  #buffer: Buffer | undefined;
  #request: FrontRequest | undefined;
  #body: FrontBody | undefined;
  /** The answer to the current request is written whole. */
  #answered = false;
  /** The connection closes once the current answer is written. */
  #closeAfter = false;
  #unsent: QueuedPiece[] = [];
  #drainWaiters: Array<() => void> = [];
  /** Sweeps seen while idle; reset by progress. */
  #idleSweeps = 0;
  #paused = false;
  #pumping = false;
  /** An answer is done but its bytes are still queued: the next request waits for them. */
  #waitingForDrain = false;
  #tunnel: Tunnel | undefined;

  constructor(front: Http1Front, socket: Socket<FrontConnection | undefined>) {
    this.front = front;
    this.#socket = socket;
    this.ip = socket.remoteAddress || undefined;
  }

  get isClosed(): boolean {
    return this.#phase === 'closed';
  }

  /** A request is being read or answered (a graceful stop waits for it). */
  get busy(): boolean {
    return this.#phase === 'body' || this.#phase === 'wait';
  }

  received(data: Buffer): void {
    if (this.#phase === 'tunnel') {
      this.#tunnel?.fromClient(data);
      return;
    }
    if (this.#phase === 'closed') return;
    if (this.#phase === 'body') {
      this.#idleSweeps = 0;
      const rest = this.#body!.feed(data);
      if (rest !== undefined) this.#keepAndPump(rest);
      return;
    }
    this.#keep(data);
    if (this.#phase === 'head') this.#pump();
    else if (this.#buffer!.length > limits.routerRequestHeadBytesMax && !this.#paused) {
      // A client pipelining far ahead of its answers waits in TCP, not in our memory.
      this.#pause();
    }
  }

  drained(): void {
    this.#flush();
    if (this.#phase === 'tunnel' && this.#unsent.length === 0) this.#tunnel?.clientDrained();
  }

  closed(): void {
    if (this.#phase === 'closed') return;
    const wasTunnel = this.#phase === 'tunnel';
    this.#phase = 'closed';
    this.#unsent = [];
    this.#buffer = undefined;
    this.#body?.abort();
    if (wasTunnel) this.#tunnel?.clientClosed();
    for (const wake of this.#drainWaiters.splice(0)) wake();
    this.front.removed(this);
  }

  /** Cuts the connection now (no FIN handshake wait). */
  destroy(): void {
    this.#socket.terminate();
    this.closed();
  }

  closeIfIdle(): void {
    if (this.#phase === 'head' && this.#request === undefined) this.#end();
  }

  sweep(idleSweepsMax: number): void {
    const waiting = this.#phase === 'head' || this.#phase === 'body' || this.#waitingForDrain;
    if (!waiting) return;
    if (this.#phase === 'body' && this.#body?.waitingForReader) return;
    this.#idleSweeps += 1;
    // More sweeps than seconds: idle at least `clientIdleSeconds`, at most one second more.
    if (this.#idleSweeps > idleSweepsMax) this.destroy();
  }

  /**
   * Writes `data`; false when the socket did not take all of it (the rest is queued: wait
   * for `whenDrained` before writing more of a large body).
   */
  write(data: string | Uint8Array): boolean {
    if (this.#phase === 'closed') return false;
    if (this.#unsent.length > 0) {
      this.#unsent.push(data);
      return false;
    }
    const written = this.#socket.write(data);
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (written >= size) return true;
    if (written < 0) {
      this.destroy();
      return false;
    }
    if (typeof data === 'string') this.#unsent.push(data.slice(written));
    else this.#unsent.push(data.subarray(written));
    return false;
  }

  /** Writes a head (latin1 text) and a body in as few writes as sensible. */
  writeHead(head: string, body: Uint8Array | null): boolean {
    const ascii = !nonAsciiPattern.test(head);
    if (body === null || body.byteLength === 0) {
      return this.write(ascii ? head : Buffer.from(head, 'latin1'));
    }
    if (body.byteLength > coalesceBytesMax) {
      this.write(ascii ? head : Buffer.from(head, 'latin1'));
      return this.write(body);
    }
    const size = head.length + body.byteLength;
    if (size > scratch.length) {
      this.write(ascii ? head : Buffer.from(head, 'latin1'));
      return this.write(body);
    }
    scratch.write(head, 0, 'latin1');
    scratch.set(body, head.length);
    return this.#writeScratch(size);
  }

  /** Writes the first `size` bytes of the scratch buffer; what the socket leaves is copied. */
  #writeScratch(size: number): boolean {
    if (this.#phase === 'closed') return false;
    if (this.#unsent.length > 0) {
      this.#unsent.push(Buffer.from(scratch.subarray(0, size)));
      return false;
    }
    // Offset and length instead of a view: a view is an object per answer.
    const written = this.#socket.write(scratch, 0, size);
    if (written >= size) return true;
    if (written < 0) {
      this.destroy();
      return false;
    }
    this.#unsent.push(Buffer.from(scratch.subarray(written, size)));
    return false;
  }

  /** Resolves when the queued bytes are written (or the connection closed). */
  whenDrained(): Promise<void> {
    if (this.#unsent.length === 0 || this.#phase === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Pauses or resumes reading from the client (a streamed request body's backpressure). */
  setReading(reading: boolean): void {
    if (reading) this.#resume();
    else this.#pause();
  }

  /** The answer to `request` is written; `reusable`: the connection may carry another. */
  answered(request: FrontRequest, reusable: boolean): void {
    if (request !== this.#request || this.#phase === 'closed') return;
    if (this.#phase === 'tunnel') {
      // The router's own answer after an upgrade went wrong: nothing more on this connection.
      this.endAfterWrites();
      return;
    }
    this.#answered = true;
    if (!reusable) this.#closeAfter = true;
    if (this.#phase === 'wait') this.#next();
  }

  /** The request's body was read to its end (or given up on). */
  bodyDone(complete: boolean): void {
    if (this.#phase !== 'body') return;
    this.#body = undefined;
    if (!complete) this.#closeAfter = true;
    this.#phase = 'wait';
    if (this.#answered) this.#next();
  }

  /** From now on the connection is a byte tunnel (an upgraded request). */
  becomeTunnel(tunnel: Tunnel): Buffer | undefined {
    this.#phase = 'tunnel';
    this.#tunnel = tunnel;
    const early = this.#buffer;
    this.#buffer = undefined;
    // Reading may have been paused while bytes piled up behind the handshake.
    this.#resume();
    this.front.idleAgain();
    return early;
  }

  /** Bytes queued toward the client (a tunnel bounds them). */
  get unsentBytes(): number {
    let bytes = 0;
    for (const piece of this.#unsent)
      bytes += typeof piece === 'string' ? piece.length : piece.byteLength;
    return bytes;
  }

  /** Closes after writing what is queued. */
  endAfterWrites(): void {
    if (this.#unsent.length === 0) this.#end();
    else this.#closeAfter = true;
  }

  #end(): void {
    if (this.#phase === 'closed') return;
    this.#socket.end();
    this.closed();
  }

  /** Bytes after a body's end: the next request (the pump runs if the connection is free). */
  #keepAndPump(data: Buffer): void {
    this.#keep(data);
    if (this.#phase === 'head') this.#pump();
  }

  #keep(data: Buffer): void {
    const buffer = this.#buffer;
    this.#buffer =
      buffer === undefined || buffer.length === 0 ? data : Buffer.concat([buffer, data]);
  }

  /** Parses and starts requests while the connection is free for one. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#phase === 'head' && this.#buffer !== undefined && this.#buffer.length > 0) {
        const result = parseRequestHead(this.#buffer, 0, limits.routerRequestHeadBytesMax);
        if (result.kind === 'incomplete') return;
        if (result.kind === 'error') {
          this.#refuse(result.status, result.code, result.reason);
          return;
        }
        const rest = this.#buffer.length - result.headBytes;
        // Most requests end their read: no empty view is made for what is left.
        this.#buffer = rest === 0 ? undefined : this.#buffer.subarray(result.headBytes);
        this.#start(result.head);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #start(head: RequestHead): void {
    const startMs = performance.now();
    this.#answered = false;
    this.#closeAfter = !head.keepAlive || this.front.stopping;
    this.#idleSweeps = 0;
    const { limits: routerLimits, handler, proto } = this.front.options;
    const length = head.contentLength;
    const hasBody = head.chunked || (length !== undefined && length > 0);
    if (!hasBody || head.upgrade !== undefined) {
      this.#dispatch(new FrontRequest(this, head, { kind: 'none' }, proto, startMs), handler);
      return;
    }
    if (length !== undefined && length > routerLimits.bodyBytesMax) {
      // The body is not read: the connection cannot carry another request after it.
      this.#closeAfter = true;
      this.#dispatch(new FrontRequest(this, head, { kind: 'too_large' }, proto, startMs), handler);
      return;
    }
    if (head.expectContinue) this.write(continueLine);
    const body = new FrontBody(this, head, routerLimits);
    this.#body = body;
    this.#phase = 'body';
    const rest = this.#buffer;
    this.#buffer = undefined;
    const dispatch = (prepared: FrontRequest['body']) =>
      this.#dispatch(new FrontRequest(this, head, prepared, proto, startMs), handler);
    body.begin(dispatch);
    if (rest !== undefined && rest.length > 0 && this.#phase === 'body') {
      const after = body.feed(rest);
      if (after !== undefined) this.#keep(after);
    }
  }

  #dispatch(request: FrontRequest, handler: FrontHandler): void {
    this.#request = request;
    if (this.#phase !== 'body') this.#phase = 'wait';
    handler.request(request);
  }

  /** Both the answer and the body are done: next request, or close. */
  #next(): void {
    this.#request = undefined;
    this.#answered = false;
    if (this.#closeAfter || this.front.stopping) {
      this.endAfterWrites();
      return;
    }
    if (this.#unsent.length > 0) {
      // The client is not reading its answers: pipelined requests wait until it does, so
      // their answers do not pile up here.
      this.#waitingForDrain = true;
      return;
    }
    this.#phase = 'head';
    this.#idleSweeps = 0;
    this.#resume();
    this.front.idleAgain();
    this.#pump();
  }

  #refuse(status: number, code: string, reason: string): void {
    this.front.options.handler.refused(status, code);
    const body = JSON.stringify({ error: { code, message: reason } });
    const head =
      `${statusLine(status)}content-type: application/json\r\ncache-control: no-store\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
    this.#buffer = undefined;
    this.#phase = 'wait';
    this.write(head + body);
    this.endAfterWrites();
  }

  #flush(): void {
    // The client reads: it is not idle.
    this.#idleSweeps = 0;
    if (flushQueue(this.#socket, this.#unsent) < 0) {
      this.destroy();
      return;
    }
    if (this.#unsent.length > 0) return;
    for (const wake of this.#drainWaiters.splice(0)) wake();
    if (this.#closeAfter && (this.#request === undefined || this.#phase === 'tunnel')) {
      this.#end();
    } else if (this.#waitingForDrain) {
      this.#waitingForDrain = false;
      this.#next();
    }
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
  }
}
