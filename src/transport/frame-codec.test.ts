import { describe, expect, test } from 'bun:test';
import {
  batchBodyBytes,
  encodeBatch,
  encodeMessage,
  FrameDecoder,
  frameBody,
  keepaliveFrame,
} from './frame-codec.ts';

const text = new TextDecoder();

describe('frame codec', () => {
  test('a batch decodes back to the same messages, whatever the chunking', () => {
    // Proves frames survive TCP splitting them at any byte, including inside the header.
    const msgs = [{ a: 1 }, { b: 'ü' }, { c: [1, 2, 3] }];
    const frame = encodeBatch(msgs.map(encodeMessage));
    const stream = new Uint8Array([...frame, ...keepaliveFrame, ...frame]);
    for (const chunkBytes of [1, 2, 3, 5, 7, stream.length]) {
      const decoder = new FrameDecoder(1024);
      const bodies: string[] = [];
      for (let at = 0; at < stream.length; at += chunkBytes) {
        const result = decoder.push(stream.subarray(at, at + chunkBytes));
        if (!result.ok) throw new Error('unexpected decode failure');
        bodies.push(...result.bodies.map((b) => text.decode(b)));
      }
      expect(bodies.map((b) => JSON.parse(b))).toEqual([msgs, [], msgs]);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  test('a length above the limit is reported, not buffered', () => {
    // Proves a hostile length prefix cannot make the reader allocate or wait for gigabytes.
    const decoder = new FrameDecoder(16);
    expect(decoder.push(frameBody(new Uint8Array(16))).ok).toBe(true);
    expect(decoder.push(frameBody(new Uint8Array(17)))).toEqual({
      ok: false,
      code: 'frame_too_large',
      lengthBytes: 17,
    });
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('batch sizing matches the encoded body', () => {
    // Proves the sender's byte accounting equals what goes on the wire.
    const parts = [encodeMessage({ x: 1 }), encodeMessage('yy'), encodeMessage(null)];
    expect(encodeBatch(parts).byteLength).toBe(4 + batchBodyBytes(parts));
    expect(batchBodyBytes([])).toBe(2);
    expect(text.decode(encodeBatch([]).subarray(4))).toBe('[]');
  });
});
