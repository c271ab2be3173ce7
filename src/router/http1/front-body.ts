/**
 * A request body as the raw front reads it (RFC 9112 §6): a small Content-Length body is
 * read whole before the request is sent on (so a refused connection can be retried on
 * another upstream); anything larger, and every chunked body, is streamed to the upstream
 * as it arrives, with backpressure: when the stream's queue is full the client socket is
 * paused, so TCP slows the client instead of the router buffering its upload.
 *
 * Bytes after the body's end belong to the next (pipelined) request and are handed back.
 */
import { limits } from '../../core/limits.ts';
import type { RouterLimits } from '../config.ts';
import type { PreparedBody } from '../proxy-http.ts';
import { type ChunkedState, decodeChunked, newChunkedState } from '../upstream-conn-parse.ts';
import type { FrontConnection } from './front.ts';
import type { RequestHead } from './request-head.ts';

type Mode = 'buffer' | 'length' | 'chunked' | 'done';

export class FrontBody {
  readonly #conn: FrontConnection;
  readonly #bodyBytesMax: number;
  #mode: Mode;
  /** Bytes left (modes `buffer` and `length`). */
  #remainingBytes: number;
  #parts: Uint8Array[] = [];
  #chunked: ChunkedState | undefined;
  #receivedBytes = 0;
  #tooLarge = false;
  #dispatch: ((body: PreparedBody) => void) | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #paused = false;

  constructor(conn: FrontConnection, head: RequestHead, routerLimits: RouterLimits) {
    this.#conn = conn;
    this.#bodyBytesMax = routerLimits.bodyBytesMax;
    const length = head.contentLength;
    if (head.chunked) {
      this.#mode = 'chunked';
      this.#remainingBytes = 0;
      this.#chunked = newChunkedState();
    } else {
      this.#remainingBytes = length ?? 0;
      this.#mode = this.#remainingBytes <= routerLimits.bodyBufferBytesMax ? 'buffer' : 'length';
    }
  }

  /** The stream is paused for its reader (not an idle client). */
  get waitingForReader(): boolean {
    return this.#paused;
  }

  /** Hands the body to `dispatch`: now for a stream, once read for a buffered body. */
  begin(dispatch: (body: PreparedBody) => void): void {
    if (this.#mode === 'buffer') {
      this.#dispatch = dispatch;
      return;
    }
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#setPaused(false),
        cancel: () => this.#giveUp(),
      },
      {
        highWaterMark: limits.routerResponseQueueBytesMax,
        size: (chunk) => chunk?.byteLength ?? 0,
      },
    );
    dispatch({ kind: 'stream', stream, tooLarge: () => this.#tooLarge });
  }

  /** Takes body bytes from `data`; returns the bytes after the body's end, if any. */
  feed(data: Buffer): Buffer | undefined {
    if (this.#mode === 'done') return data;
    if (this.#mode === 'chunked') return this.#feedChunked(data);
    const take = Math.min(this.#remainingBytes, data.length);
    const part = data.subarray(0, take);
    this.#remainingBytes -= take;
    if (this.#mode === 'buffer') this.#parts.push(part);
    else this.#enqueue(part);
    if (this.#remainingBytes > 0) return undefined;
    this.#complete();
    return take < data.length ? data.subarray(take) : undefined;
  }

  /** The client went away mid-body. */
  abort(): void {
    if (this.#mode === 'done') return;
    this.#mode = 'done';
    this.#controller?.error(new Error('the client closed the connection mid-body'));
    this.#controller = undefined;
  }

  #feedChunked(data: Buffer): Buffer | undefined {
    const parts: Uint8Array[] = [];
    const at = decodeChunked(this.#chunked!, data, 0, parts);
    if (at < 0) {
      // A malformed chunk: the rest of the stream cannot be framed; the connection closes.
      this.#mode = 'done';
      this.#controller?.error(new Error('malformed chunked request body'));
      this.#controller = undefined;
      this.#conn.bodyDone(false);
      return undefined;
    }
    for (const part of parts) this.#enqueue(part);
    if (this.#chunked!.phase !== 'done') return undefined;
    this.#complete();
    return at < data.length ? data.subarray(at) : undefined;
  }

  #enqueue(part: Uint8Array): void {
    if (part.byteLength === 0 || this.#controller === undefined) return;
    this.#receivedBytes += part.byteLength;
    if (this.#receivedBytes > this.#bodyBytesMax) {
      this.#tooLarge = true;
      this.#controller.error(new Error('request body over the router limit'));
      this.#controller = undefined;
      this.#mode = 'done';
      this.#conn.bodyDone(false);
      return;
    }
    // The socket hands us a view of its own buffer: copy what a reader may hold on to.
    this.#controller.enqueue(new Uint8Array(part));
    const desired = this.#controller.desiredSize;
    if (desired !== null && desired <= 0) this.#setPaused(true);
  }

  #complete(): void {
    const mode = this.#mode;
    this.#mode = 'done';
    this.#setPaused(false);
    if (mode === 'buffer') {
      const bytes = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#parts = [];
      this.#conn.bodyDone(true);
      this.#dispatch?.({ kind: 'buffered', bytes });
      return;
    }
    this.#controller?.close();
    this.#controller = undefined;
    this.#conn.bodyDone(true);
  }

  /** The reader cancelled (the upstream attempt ended): the body is not read further. */
  #giveUp(): void {
    if (this.#mode === 'done') return;
    this.#mode = 'done';
    this.#controller = undefined;
    this.#setPaused(false);
    this.#conn.bodyDone(false);
  }

  #setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    this.#conn.setReading(!paused);
  }
}
