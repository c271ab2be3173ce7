/**
 * One request read by the raw HTTP/1.1 front, as proxy-http.ts carries it (ForwardRequest)
 * and where its answer goes (AnswerSink): the upstream's reply is written back as bytes,
 * with the client's own framing (response-head.ts); a whole Response (the router's own
 * answers, fetch's) is written the same way.
 */
import {
  type ClientFacts,
  plainTargetPattern,
  toUpstreamRequestHeaders,
  upstreamHeadFromFields,
} from '../headers.ts';
import {
  type AnswerSink,
  type ForwardRequest,
  forwardedBodyBytes,
  type PreparedBody,
} from '../proxy-http.ts';
import type { UpstreamReply } from '../upstream-conn-pool.ts';
import type { FrontConnection } from './front.ts';
import type { RequestHead } from './request-head.ts';
import {
  type ClientFraming,
  replyContentLength,
  replyHead,
  responseHead,
  statusHasNoBody,
} from './response-head.ts';

const noFraming: ClientFraming = { kind: 'none' };
const chunkedFraming: ClientFraming = { kind: 'chunked' };
const closeFraming: ClientFraming = { kind: 'close' };
const lastChunk = '0\r\n\r\n';

export class FrontRequest implements ForwardRequest, AnswerSink {
  readonly head: RequestHead;
  readonly method: string;
  readonly pathAndQuery: string;
  readonly client: ClientFacts;
  readonly startMs: number;
  readonly rawHead: string;
  readonly body: PreparedBody;
  readonly sink: AnswerSink = this;
  readonly conn: FrontConnection;
  #answered = false;

  constructor(
    conn: FrontConnection,
    head: RequestHead,
    body: PreparedBody,
    proto: 'http' | 'https',
    startMs: number,
  ) {
    this.conn = conn;
    this.head = head;
    this.method = head.method;
    this.pathAndQuery = head.target;
    this.client = { ip: conn.ip, proto, host: head.host };
    this.startMs = startMs;
    this.body = body;
    this.rawHead = rawHeadOf(head, this.client, body);
  }

  get accept(): string | null {
    return this.header('accept') ?? null;
  }

  /** The first value of header `lowerName`, or undefined. */
  header(lowerName: string): string | undefined {
    const fields = this.head.fields;
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === lowerName) return fields[i + 1];
    return undefined;
  }

  fetchHeaders(): Headers {
    const headers = new Headers();
    const fields = this.head.fields;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      // The front answered Expect itself and frames the body for fetch.
      if (name === 'expect' || name === 'content-length') continue;
      headers.append(name, fields[i + 1]!);
    }
    return toUpstreamRequestHeaders(headers, this.client);
  }

  gone(): boolean {
    return this.conn.isClosed;
  }

  streaming(): void {
    // The front's idle sweep never touches a connection with an answer in progress.
  }

  /** Whether the connection may carry another request after this answer (not while stopping). */
  get #keepAlive(): boolean {
    return this.head.keepAlive && !this.conn.front.stopping;
  }

  reply(reply: UpstreamReply): void {
    if (!this.#claim()) return;
    const { status, headers, body } = reply;
    const http10 = this.head.minorVersion === 0;
    const isHead = this.method === 'HEAD';
    if (!(body instanceof ReadableStream)) {
      const framing: ClientFraming = statusHasNoBody(status)
        ? noFraming
        : { kind: 'length', lengthBytes: isHead ? undefined : (body?.byteLength ?? 0) };
      const keepAlive = this.#keepAlive;
      const text = replyHead(status, headers, { framing, keepAlive, http10 });
      this.conn.writeHead(text, isHead ? null : body);
      this.conn.answered(this, keepAlive);
      return;
    }
    const lengthBytes = replyContentLength(headers);
    const framing: ClientFraming =
      lengthBytes !== undefined
        ? { kind: 'length', lengthBytes }
        : http10
          ? closeFraming
          : chunkedFraming;
    const keepAlive = this.#keepAlive && framing.kind !== 'close';
    this.conn.writeHead(replyHead(status, headers, { framing, keepAlive, http10 }), null);
    void this.#pipe(body, framing.kind === 'chunked', keepAlive);
  }

  respond(response: Response): void {
    if (!this.#claim()) return;
    const http10 = this.head.minorVersion === 0;
    const noBody = this.method === 'HEAD' || statusHasNoBody(response.status);
    const lengthHeader = response.headers.get('content-length');
    const body = response.body;
    if (body === null || noBody) {
      const framing: ClientFraming = statusHasNoBody(response.status)
        ? noFraming
        : { kind: 'length', lengthBytes: lengthHeader === null ? 0 : undefined };
      const keepAlive = this.#keepAlive;
      this.conn.writeHead(responseHead(response, { framing, keepAlive, http10 }), null);
      if (body !== null) void body.cancel();
      this.conn.answered(this, keepAlive);
      return;
    }
    const framing: ClientFraming =
      lengthHeader !== null
        ? { kind: 'length', lengthBytes: undefined }
        : http10
          ? closeFraming
          : chunkedFraming;
    const keepAlive = this.#keepAlive && framing.kind !== 'close';
    this.conn.writeHead(responseHead(response, { framing, keepAlive, http10 }), null);
    void this.#pipe(body, framing.kind === 'chunked', keepAlive);
  }

  /** True the first time: a request is answered once. */
  #claim(): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    return true;
  }

  /**
   * Copies `body` to the client, waiting for the socket to take each piece before reading
   * the next (so a slow client slows the upstream, not our memory). A body that breaks
   * midway cuts the client connection: the client must not take a short body for whole.
   */
  async #pipe(
    body: ReadableStream<Uint8Array>,
    chunked: boolean,
    keepAlive: boolean,
  ): Promise<void> {
    const reader = body.getReader();
    const conn = this.conn;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (conn.isClosed) {
          await reader.cancel();
          return;
        }
        if (value.byteLength === 0) continue;
        const taken = chunked ? conn.write(chunkOf(value)) : conn.write(value);
        if (!taken) await conn.whenDrained();
      }
    } catch {
      conn.destroy();
      return;
    }
    if (chunked) conn.write(lastChunk);
    conn.answered(this, keepAlive);
  }
}

/** One chunk of a chunked body: size line, data, CRLF, in one buffer (one write). */
function chunkOf(data: Uint8Array): Buffer {
  const sizeLine = `${data.byteLength.toString(16)}\r\n`;
  const out = Buffer.allocUnsafe(sizeLine.length + data.byteLength + 2);
  out.write(sizeLine, 0, 'latin1');
  out.set(data, sizeLine.length);
  out.write('\r\n', sizeLine.length + data.byteLength, 'latin1');
  return out;
}

/**
 * The head the raw upstream client sends, or '' when fetch must carry the request: a
 * streamed body (fetch pipes it), no Host (an HTTP/1.0 client), or a target that needs
 * encoding.
 */
function rawHeadOf(head: RequestHead, client: ClientFacts, body: PreparedBody): string {
  if (body.kind === 'stream' || client.host === '') return '';
  // `*` is OPTIONS' asterisk-form (the parser admits it for OPTIONS only).
  if (head.target !== '*' && !plainTargetPattern.test(head.target)) return '';
  const method = head.method;
  const bodyBytes = forwardedBodyBytes(method, body);
  return upstreamHeadFromFields(
    method,
    head.target,
    head.fields,
    head.connectionTokens,
    client,
    bodyBytes,
  );
}
