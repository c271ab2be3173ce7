import { describe, expect, test } from 'bun:test';
import { BerthError } from '../../core/errors.ts';
import { DockerLogDemuxer, parseRfc3339Ms } from './log-stream.ts';

function frame(stream: 1 | 2, text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + payload.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, 8);
  return out;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const ts = '2026-01-02T03:04:05.678901234Z';
const tsMs = Date.parse('2026-01-02T03:04:05.678Z');

describe('DockerLogDemuxer', () => {
  test('separates stdout and stderr frames and strips timestamps', () => {
    // Proves the 8-byte header is read: stream byte picks the stream, size bounds the payload.
    const demuxer = new DockerLogDemuxer();
    const lines = demuxer.push(join(frame(1, `${ts} out\n`), frame(2, `${ts} err\n`)));
    expect(lines).toEqual([
      { stream: 'stdout', line: 'out', atMs: tsMs },
      { stream: 'stderr', line: 'err', atMs: tsMs },
    ]);
  });

  test('reassembles frames split at every byte boundary', () => {
    // Proves a header or payload cut across chunks is carried to the next push.
    const bytes = join(frame(1, `${ts} hello\n`), frame(2, `${ts} world\n`));
    for (let cut = 1; cut < bytes.length; cut++) {
      const demuxer = new DockerLogDemuxer();
      const lines = [...demuxer.push(bytes.subarray(0, cut)), ...demuxer.push(bytes.subarray(cut))];
      expect(lines.map((l) => `${l.stream}:${l.line}`)).toEqual(['stdout:hello', 'stderr:world']);
    }
  });

  test('joins a line spread over frames and flushes an unfinished one at the end', () => {
    // Proves per-stream partial lines survive interleaving with the other stream.
    const demuxer = new DockerLogDemuxer();
    const first = demuxer.push(
      join(frame(1, `${ts} par`), frame(2, `${ts} e\n`), frame(1, 'tial\n')),
    );
    expect(first.map((l) => l.line)).toEqual(['e', 'partial']);
    expect(demuxer.push(frame(1, `${ts} tail`))).toEqual([]);
    expect(demuxer.end()).toEqual([{ stream: 'stdout', line: 'tail', atMs: tsMs }]);
  });

  test('refuses a corrupt header', () => {
    // Proves garbage (an unknown stream byte) ends the stream with a coded error.
    const bad = frame(1, 'x');
    bad[0] = 7;
    expect(() => new DockerLogDemuxer().push(bad)).toThrow(BerthError);
  });
});

describe('parseRfc3339Ms', () => {
  test('reads nanosecond and offset timestamps, refuses garbage', () => {
    // Proves Docker's timestamps become epoch ms.
    expect(parseRfc3339Ms(ts)).toBe(tsMs);
    expect(parseRfc3339Ms('2026-01-02T03:04:05+01:00')).toBe(Date.parse('2026-01-02T02:04:05Z'));
    expect(parseRfc3339Ms('yesterday')).toBeUndefined();
  });
});
