/**
 * The peer wire format: a 4-byte big-endian body length, then the body, a UTF-8 JSON
 * array of Raft messages (one batch). An empty array is a keepalive. JSON keeps frames
 * readable in a packet capture and is parsed by the same zod schema as every other
 * trust boundary; the length prefix lets a reader find frame ends without scanning.
 */
import { assert } from '../core/assert.ts';

/** Bytes in the length prefix. */
export const frameHeaderBytes = 4;

const encoder = new TextEncoder();

/** Wraps already-encoded JSON body bytes in a frame. */
export function frameBody(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(frameHeaderBytes + body.byteLength);
  new DataView(frame.buffer).setUint32(0, body.byteLength, false);
  frame.set(body, frameHeaderBytes);
  return frame;
}

/** The keepalive frame: an empty batch. */
export const keepaliveFrame: Uint8Array = frameBody(encoder.encode('[]'));

/**
 * Packs pre-encoded JSON messages into one frame body `[m1,m2,…]`. The caller keeps
 * the total under the frame limit (see `batchBodyBytes`).
 */
export function encodeBatch(encodedMessages: readonly Uint8Array[]): Uint8Array {
  const bodyBytes = batchBodyBytes(encodedMessages);
  const frame = new Uint8Array(frameHeaderBytes + bodyBytes);
  const view = new DataView(frame.buffer);
  view.setUint32(0, bodyBytes, false);
  let at = frameHeaderBytes;
  frame[at++] = 0x5b; // [
  encodedMessages.forEach((bytes, i) => {
    if (i > 0) frame[at++] = 0x2c; // ,
    frame.set(bytes, at);
    at += bytes.byteLength;
  });
  frame[at++] = 0x5d; // ]
  assert(at === frame.byteLength, 'batch frame length miscounted');
  return frame;
}

/** Body size of a batch of pre-encoded messages: brackets plus separating commas. */
export function batchBodyBytes(encodedMessages: readonly Uint8Array[]): number {
  let total = 2 + Math.max(0, encodedMessages.length - 1);
  for (const bytes of encodedMessages) total += bytes.byteLength;
  return total;
}

/** Encodes one message's JSON once, so a batch can be sized before it is built. */
export function encodeMessage(msg: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(msg));
}

export type DecodeResult =
  | { ok: true; bodies: Uint8Array[] }
  | { ok: false; code: 'frame_too_large'; lengthBytes: number };

/**
 * Splits a byte stream into frame bodies. A length above `frameBytesMax` means the
 * stream is garbage or hostile; the reader cannot resynchronise, so the link must close.
 * Chunks are kept as a list and each byte is copied once, when its frame is complete,
 * so a large frame arriving in many small TLS records costs linear time, not quadratic.
 */
export class FrameDecoder {
  readonly #frameBytesMax: number;
  #chunks: Uint8Array[] = [];
  /** Read position inside `#chunks[0]`. */
  #offset = 0;
  #bufferedBytes = 0;
  /** Body length of the frame being read, once its header has arrived. */
  #bodyBytes: number | undefined;

  constructor(frameBytesMax: number) {
    assert(frameBytesMax > 0, 'frame limit must be positive');
    this.#frameBytesMax = frameBytesMax;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  push(chunk: Uint8Array): DecodeResult {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#bufferedBytes += chunk.byteLength;
    }
    const bodies: Uint8Array[] = [];
    // Each pass consumes a header or a body, so the loop is bounded by the bytes held.
    for (;;) {
      if (this.#bodyBytes === undefined) {
        if (this.#bufferedBytes < frameHeaderBytes) break;
        const header = this.#take(frameHeaderBytes);
        const lengthBytes = new DataView(header.buffer).getUint32(0, false);
        if (lengthBytes > this.#frameBytesMax) {
          this.#reset();
          return { ok: false, code: 'frame_too_large', lengthBytes };
        }
        this.#bodyBytes = lengthBytes;
      }
      if (this.#bufferedBytes < this.#bodyBytes) break;
      bodies.push(this.#take(this.#bodyBytes));
      this.#bodyBytes = undefined;
    }
    return { ok: true, bodies };
  }

  /** Removes and returns the next `count` buffered bytes (the caller checked they exist). */
  #take(count: number): Uint8Array {
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const head = this.#chunks[0];
      assert(head, 'frame decoder ran out of buffered bytes');
      const n = Math.min(count - filled, head.byteLength - this.#offset);
      out.set(head.subarray(this.#offset, this.#offset + n), filled);
      filled += n;
      this.#offset += n;
      if (this.#offset === head.byteLength) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#bufferedBytes -= count;
    return out;
  }

  #reset(): void {
    this.#chunks = [];
    this.#offset = 0;
    this.#bufferedBytes = 0;
    this.#bodyBytes = undefined;
  }
}
