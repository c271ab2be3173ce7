import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import type { LogLine } from '../driver.ts';

/**
 * Demultiplexes Docker's non-TTY log stream. Each frame is an 8-byte header — byte 0 the
 * stream (1 stdout, 2 stderr), bytes 4..7 the payload size, big-endian — then the payload.
 * Frames split anywhere across chunks and a line may span frames, so both the frame and
 * each stream's unfinished line are carried between `push` calls. Lines are requested with
 * `timestamps=1`, so each starts with an RFC 3339 timestamp and a space.
 */
export class DockerLogDemuxer {
  #pending: Uint8Array = new Uint8Array(0);
  #partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };

  /** Feeds a chunk; returns the lines it completed. */
  push(chunk: Uint8Array): LogLine[] {
    this.#pending = concat(this.#pending, chunk);
    const lines: LogLine[] = [];
    for (;;) {
      if (this.#pending.length < 8) break;
      const view = new DataView(this.#pending.buffer, this.#pending.byteOffset, 8);
      const streamByte = view.getUint8(0);
      const size = view.getUint32(4);
      if (size > limits.dockerLogFrameBytesMax || (streamByte !== 1 && streamByte !== 2)) {
        throw new BerthError('driver_error', 'corrupt Docker log frame', { streamByte, size });
      }
      if (this.#pending.length < 8 + size) break;
      const payload = this.#pending.subarray(8, 8 + size);
      this.#pending = this.#pending.subarray(8 + size);
      const stream = streamByte === 1 ? 'stdout' : 'stderr';
      const text = this.#partial[stream] + this.#decoders[stream].decode(payload, { stream: true });
      const parts = text.split('\n');
      this.#partial[stream] = parts.pop() ?? '';
      for (const raw of parts) lines.push(parseTimestamped(stream, raw));
    }
    return lines;
  }

  /** Flushes unfinished lines at the end of the stream. */
  end(): LogLine[] {
    const lines: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') lines.push(parseTimestamped(stream, this.#partial[stream]));
      this.#partial[stream] = '';
    }
    return lines;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function parseTimestamped(stream: 'stdout' | 'stderr', raw: string): LogLine {
  const space = raw.indexOf(' ');
  const atMs = space > 0 ? parseRfc3339Ms(raw.slice(0, space)) : undefined;
  const body = atMs === undefined ? raw : raw.slice(space + 1);
  const line = body.endsWith('\r') ? body.slice(0, -1) : body;
  return { stream, line: line.slice(0, limits.driverLogLineBytesMax), atMs: atMs ?? 0 };
}

/** Parses Docker's nanosecond RFC 3339 timestamps to ms (Date.parse wants at most ms). */
export function parseRfc3339Ms(text: string): number | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!match) return undefined;
  const fraction = (match[2] ?? '').slice(0, 3).padEnd(3, '0');
  const ms = Date.parse(`${match[1]}.${fraction}${match[3]}`);
  return Number.isNaN(ms) ? undefined : ms;
}
