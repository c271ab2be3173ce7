/**
 * A raw HTTP/1.1 client for wire-level tests: it writes exactly the bytes a test gives it
 * (malformed ones included, which fetch would refuse to send), and parses what comes back
 * by the message-framing rules of RFC 9112 §6.3 (no body, chunked, Content-Length, or
 * until close). Every read is bounded by a timeout, and everything a connection buffers
 * is bounded too, so a misbehaving server fails the test instead of hanging it.
 *
 * It also encodes and decodes the few WebSocket frames (RFC 6455 §5.2) a test needs.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'bun';

/** Bytes one connection may hold unread; a runaway server fails the test past this. */
const receivedBytesMax = 8 * 1024 * 1024;
/** Bytes one connection may hold waiting for the socket to drain. */
const outboxBytesMax = 8 * 1024 * 1024;
/** Header lines one response may carry before it is taken as malformed. */
const headerLinesMax = 512;
/** Chunks one chunked body may carry before it is taken as malformed. */
const chunksMax = 100_000;
/** Default bound on one read, in ms. */
const readTimeoutMsDefault = 3_000;

/** One response as it came off the wire. */
export interface WireResponse {
  /** The status line's version, e.g. `HTTP/1.1`. */
  version: string;
  status: number;
  reason: string;
  /** Header fields in wire order, names lower-cased, values trimmed. */
  headers: Array<[string, string]>;
  /** The body with its framing removed (chunk sizes and trailers gone). */
  body: Buffer;
  /** The head exactly as received, up to and including the blank line. */
  rawHead: string;
}

/** The first value of header `name` (any case), or undefined. */
export function headerOf(response: WireResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  return response.headers.find(([n]) => n === lower)?.[1];
}

/** Every value of header `name` (any case), in wire order. */
export function headersOf(response: WireResponse, name: string): string[] {
  const lower = name.toLowerCase();
  return response.headers.filter(([n]) => n === lower).map(([, v]) => v);
}

/** The body as JSON. */
export function jsonOf<T = unknown>(response: WireResponse): T {
  return JSON.parse(response.body.toString('utf8')) as T;
}

/** A WebSocket frame as read from the server (servers never mask). */
export interface WireFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

interface Waiter {
  check: () => boolean;
}

/** One TCP connection to 127.0.0.1 with a receive buffer and bounded reads. */
export class WireConnection {
  readonly #socket: Socket<undefined>;
  #received: Buffer = Buffer.alloc(0);
  #outbox: Buffer = Buffer.alloc(0);
  #closed = false;
  #overflowed = false;
  readonly #waiters = new Set<Waiter>();

  private constructor(socket: Socket<undefined>) {
    this.#socket = socket;
  }

  /** Connects to 127.0.0.1:`port`; rejects when the connection is refused. */
  static async open(port: number): Promise<WireConnection> {
    let connection: WireConnection | undefined;
    const early: Buffer[] = [];
    let closedEarly = false;
    const socket = await Bun.connect<undefined>({
      hostname: '127.0.0.1',
      port,
      socket: {
        data(_socket, data) {
          if (connection) connection.#onData(data);
          else early.push(Buffer.from(data));
        },
        drain() {
          if (connection) connection.#flush();
        },
        close() {
          if (connection) connection.#onClose();
          else closedEarly = true;
        },
        error() {
          // A reset shows up as close right after; the close handler records it.
        },
      },
    });
    connection = new WireConnection(socket);
    for (const data of early) connection.#onData(data);
    if (closedEarly) connection.#onClose();
    return connection;
  }

  /** True once the peer closed (or reset) the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not yet taken by a read. */
  get pending(): Buffer {
    return this.#received;
  }

  /** Writes `data` (a string is written as latin1, byte for byte); queues what does not fit. */
  write(data: string | Uint8Array): void {
    if (this.#closed) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    if (this.#outbox.length + bytes.length > outboxBytesMax) {
      throw new Error(`wire client: more than ${outboxBytesMax} bytes waiting to be sent`);
    }
    this.#outbox = this.#outbox.length === 0 ? bytes : Buffer.concat([this.#outbox, bytes]);
    this.#flush();
  }

  /**
   * Reads the next complete response. `head: true` when it answers a HEAD request (no body
   * whatever the headers say). Undefined when the connection closed before a whole one.
   */
  nextResponse(
    options: { head?: boolean; timeoutMs?: number } = {},
  ): Promise<WireResponse | undefined> {
    const timeoutMs = options.timeoutMs ?? readTimeoutMsDefault;
    return this.#until(timeoutMs, 'a response', () => {
      const parsed = parseResponse(this.#received, options.head ?? false, this.#closed);
      if (parsed === 'incomplete') return this.#closed ? { value: undefined } : undefined;
      this.#received = this.#received.subarray(parsed.consumedBytes);
      return { value: parsed.response };
    });
  }

  /** Like `nextResponse`, but a close before a whole response fails the test. */
  async readResponse(options: { head?: boolean; timeoutMs?: number } = {}): Promise<WireResponse> {
    const response = await this.nextResponse(options);
    if (!response) {
      throw new Error(`connection closed before a whole response; had ${this.#describe()}`);
    }
    return response;
  }

  /** Waits until the unread bytes satisfy `ready` (they stay unread). */
  waitForBytes(
    ready: (pending: Buffer) => boolean,
    timeoutMs = readTimeoutMsDefault,
  ): Promise<void> {
    return this.#until(timeoutMs, 'bytes', () => {
      if (ready(this.#received)) return { value: undefined };
      if (this.#closed) throw new Error(`closed while waiting for bytes; had ${this.#describe()}`);
      return undefined;
    });
  }

  /** Waits until the peer closes; false when it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = readTimeoutMsDefault): Promise<boolean> {
    try {
      await this.#until(timeoutMs, 'close', () =>
        this.#closed ? { value: undefined } : undefined,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Reads the next WebSocket frame. */
  readFrame(timeoutMs = readTimeoutMsDefault): Promise<WireFrame> {
    return this.#until(timeoutMs, 'a WebSocket frame', () => {
      const parsed = parseFrame(this.#received);
      if (parsed === undefined) {
        if (this.#closed) throw new Error(`closed before a frame; had ${this.#describe()}`);
        return undefined;
      }
      this.#received = this.#received.subarray(parsed.consumedBytes);
      return { value: parsed.frame };
    });
  }

  /** Closes our side at once. */
  close(): void {
    if (!this.#closed) this.#socket.terminate();
  }

  #flush(): void {
    while (this.#outbox.length > 0 && !this.#closed) {
      const written = this.#socket.write(this.#outbox);
      if (written <= 0) return;
      this.#outbox = this.#outbox.subarray(written);
    }
  }

  #onData(data: Uint8Array): void {
    if (this.#received.length + data.byteLength > receivedBytesMax) {
      this.#overflowed = true;
      this.#socket.terminate();
      return;
    }
    this.#received = Buffer.concat([this.#received, data]);
    this.#wake();
  }

  #onClose(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  /**
   * Resolves with what `take` returns once it returns something, re-checked after every
   * arrival and at close; rejects after `timeoutMs` or when `take` throws.
   */
  #until<T>(timeoutMs: number, what: string, take: () => { value: T } | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          let taken: { value: T } | undefined;
          try {
            if (this.#overflowed) throw new Error(`received more than ${receivedBytesMax} bytes`);
            taken = take();
          } catch (error) {
            finish();
            reject(error);
            return true;
          }
          if (!taken) return false;
          finish();
          resolve(taken.value);
          return true;
        },
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; had ${this.#describe()}`),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
      waiter.check();
    });
  }

  #describe(): string {
    const shown = this.#received.subarray(0, 200).toString('latin1');
    return `${this.#received.length} unread bytes ${JSON.stringify(shown)}, closed=${this.#closed}`;
  }
}

type Parsed = { response: WireResponse; consumedBytes: number } | 'incomplete';

/** Parses one response from the start of `bytes`; throws when the bytes are not HTTP. */
export function parseResponse(bytes: Buffer, isHead: boolean, closed: boolean): Parsed {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return 'incomplete';
  const rawHead = bytes.toString('latin1', 0, headEnd + 4);
  const lines = rawHead.slice(0, -4).split('\r\n');
  const statusMatch = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!statusMatch) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
  if (lines.length > headerLinesMax) throw new Error(`more than ${headerLinesMax} header lines`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line)}`);
    headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const response: WireResponse = {
    version: statusMatch[1]!,
    status: Number(statusMatch[2]),
    reason: statusMatch[3] ?? '',
    headers,
    body: Buffer.alloc(0),
    rawHead,
  };
  const bodyStart = headEnd + 4;
  const framed = takeBody(bytes, bodyStart, response, isHead, closed);
  if (framed === 'incomplete') return 'incomplete';
  response.body = framed.body;
  return { response, consumedBytes: framed.end };
}

/** The body after `start` by the framing rules of RFC 9112 §6.3. */
function takeBody(
  bytes: Buffer,
  start: number,
  response: WireResponse,
  isHead: boolean,
  closed: boolean,
): { body: Buffer; end: number } | 'incomplete' {
  const { status } = response;
  if (isHead || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { body: Buffer.alloc(0), end: start };
  }
  const transferEncoding = headerOf(response, 'transfer-encoding');
  if (transferEncoding !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) {
      throw new Error(`unsupported transfer-encoding ${transferEncoding}`);
    }
    return takeChunked(bytes, start);
  }
  const lengths = headersOf(response, 'content-length');
  if (lengths.length > 0) {
    const length = Number(lengths[0]);
    if (!Number.isSafeInteger(length) || length < 0 || lengths.some((l) => l !== lengths[0])) {
      throw new Error(`bad content-length ${lengths.join(', ')}`);
    }
    if (bytes.length < start + length) return 'incomplete';
    return { body: Buffer.from(bytes.subarray(start, start + length)), end: start + length };
  }
  // No framing: the body runs until the server closes.
  if (!closed) return 'incomplete';
  return { body: Buffer.from(bytes.subarray(start)), end: bytes.length };
}

/** A chunked body (RFC 9112 §7.1) after `start`, trailers skipped. */
function takeChunked(bytes: Buffer, start: number): { body: Buffer; end: number } | 'incomplete' {
  const parts: Buffer[] = [];
  let at = start;
  for (let chunks = 0; chunks < chunksMax; chunks++) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return 'incomplete';
    const sizeText = bytes.toString('latin1', at, lineEnd).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size ${sizeText}`);
    const size = Number.parseInt(sizeText, 16);
    at = lineEnd + 2;
    if (size === 0) {
      // Trailer fields, if any, then the blank line.
      const trailerEnd = bytes.indexOf('\r\n', at);
      if (trailerEnd < 0) return 'incomplete';
      if (trailerEnd === at) return { body: Buffer.concat(parts), end: at + 2 };
      const blank = bytes.indexOf('\r\n\r\n', at);
      if (blank < 0) return 'incomplete';
      return { body: Buffer.concat(parts), end: blank + 4 };
    }
    if (bytes.length < at + size + 2) return 'incomplete';
    parts.push(Buffer.from(bytes.subarray(at, at + size)));
    if (bytes.toString('latin1', at + size, at + size + 2) !== '\r\n') {
      throw new Error('chunk data not followed by CRLF');
    }
    at += size + 2;
  }
  throw new Error(`more than ${chunksMax} chunks`);
}

/** One frame from the start of `bytes`, or undefined when it is not all there yet. */
function parseFrame(bytes: Buffer): { frame: WireFrame; consumedBytes: number } | undefined {
  if (bytes.length < 2) return undefined;
  const first = bytes[0]!;
  const second = bytes[1]!;
  let length = second & 0x7f;
  let at = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    at = 10;
  }
  const masked = (second & 0x80) !== 0;
  const mask = masked ? bytes.subarray(at, at + 4) : undefined;
  if (masked) at += 4;
  if (bytes.length < at + length) return undefined;
  const payload = Buffer.from(bytes.subarray(at, at + length));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return {
    frame: { fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload },
    consumedBytes: at + length,
  };
}

/** A final, masked client frame (clients must mask, RFC 6455 §5.3). */
export function encodeClientFrame(
  opcode: number,
  payload: Uint8Array,
  maskKey: Uint8Array,
): Buffer {
  if (maskKey.length !== 4) throw new Error('a mask key is 4 bytes');
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const frame = Buffer.alloc(2 + lengthBytes + 4 + length);
  frame[0] = 0x80 | (opcode & 0x0f);
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const at = 2 + lengthBytes;
  frame.set(maskKey, at);
  for (let i = 0; i < length; i++) frame[at + 4 + i] = payload[i]! ^ maskKey[i % 4]!;
  return frame;
}

/** The Sec-WebSocket-Accept a server must answer to `key` (RFC 6455 §4.2.2). */
export function webSocketAccept(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}
