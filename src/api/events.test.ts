import { describe, expect, test } from 'bun:test';
import { limits } from '../core/limits.ts';
import {
  advanceClock,
  createHarness,
  errorCode,
  type Harness,
  readLines,
  sampleJob,
  turn,
} from './test-harness.ts';

type Line = {
  event?: { index: number; topic: string; type: string; data: Record<string, unknown> };
  heartbeat?: { index: number };
  error?: { code: string; message: string };
};

async function openStream(h: Harness, query: string) {
  const res = await h.call('GET', `/v1/events${query}`, { token: h.tokens.read });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/x-ndjson');
  return { res, reader: res.body!.getReader() };
}

function openStreams(h: Harness): string {
  const line = h.metrics
    .expose()
    .split('\n')
    .find((l) => l.startsWith('berth_api_event_streams{transport="ndjson"}'));
  return line?.split(' ')[1] ?? '0';
}

describe('/v1/events (NDJSON)', () => {
  test('?index= resumes after a log index and ?topic= filters, in log order', async () => {
    // Proves resume semantics (strictly after the given index) and topic filtering.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    const firstJobIndex = h.commitIndex();
    await h.call('PUT', '/v1/secrets/KEY', { body: { value: 'v' } });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, name: 'api' } });
    await h.call('DELETE', '/v1/jobs/web');
    const { reader } = await openStream(h, `?index=${firstJobIndex}&topic=job`);
    const lines = (await readLines(reader, 2)) as Line[];
    expect(lines.map((l) => [l.event?.type, l.event?.index])).toEqual([
      ['job.registered', firstJobIndex + 2],
      ['job.stopped', firstJobIndex + 3],
    ]);
    await reader.cancel();
    const all = await openStream(h, '?index=0');
    const everything = (await readLines(all.reader, h.commitIndex())) as Line[];
    expect(everything.map((l) => l.event?.index)).toEqual(
      Array.from({ length: h.commitIndex() }, (_, i) => i + 1),
    );
    await all.reader.cancel();
  });

  test('a live stream delivers new commits; cancelling frees its slot', async () => {
    // Proves push on commit (no polling) and that a closed client releases its stream slot.
    const h = await createHarness();
    const { reader } = await openStream(h, '?topic=job,deployment');
    expect(openStreams(h)).toBe('1');
    await turn();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    h.service.record('deployment.updated', {
      id: 'd1',
      job: 'web',
      jobVersion: 1,
      status: 'running',
    });
    const lines = (await readLines(reader, 2)) as Line[];
    expect(lines.map((l) => l.event?.topic)).toEqual(['job', 'deployment']);
    expect(lines[0]!.event!.data).toMatchObject({ job: { name: 'web' } });
    await reader.cancel();
    expect(openStreams(h)).toBe('0');
  });

  test('secret and token events carry identifiers only', async () => {
    // Proves credentials (ciphertext, token hashes) never appear in the event stream.
    const h = await createHarness();
    await h.call('PUT', '/v1/secrets/KEY', { body: { value: 'super-secret' } });
    const { reader } = await openStream(h, '?index=0&topic=secret,token');
    const lines = (await readLines(reader, 4)) as Line[];
    await reader.cancel();
    expect(lines.map((l) => l.event?.type)).toEqual([
      'token.created',
      'token.created',
      'token.created',
      'secret.put',
    ]);
    expect(Object.keys(lines[0]!.event!.data).sort()).toEqual(['id', 'name', 'role']);
    expect(lines[3]!.event!.data).toEqual({ name: 'KEY' });
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hashHex');
    expect(text).not.toContain('ciphertext');
  });

  test('an idle stream sends heartbeats with the position to resume from', async () => {
    // Proves heartbeats on the (simulated) clock and that they report filtered-out progress.
    const h = await createHarness({ limits: { eventHeartbeatMs: 1_000 } });
    const { reader } = await openStream(h, '?index=0&topic=allocation');
    const pending = readLines(reader, 1);
    await advanceClock(h.clock, 1_000, 250);
    const [line] = (await pending) as Line[];
    expect(line).toEqual({ heartbeat: { index: h.commitIndex() } });
    await reader.cancel();
  });

  test('resuming from a compacted index is 410 events_compacted', async () => {
    // Proves a client is told to re-read state when the log no longer holds its position.
    const h = await createHarness();
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    await h.call('POST', '/v1/jobs', { body: { ...sampleJob, name: 'api' } });
    h.service.events.compact(3);
    const res = await h.call('GET', '/v1/events?index=1');
    expect(res.status).toBe(410);
    expect(await errorCode(res)).toBe('events_compacted');
    const ok = await openStream(h, '?index=3');
    const lines = (await readLines(ok.reader, 2)) as Line[];
    expect(lines.map((l) => l.event?.index)).toEqual([4, 5]);
    await ok.reader.cancel();
    expect(openStreams(h)).toBe('0');
  });

  test('a client that stops reading is dropped with slow_consumer after the stall time', async () => {
    // Proves the bounded queue: the server stops reading the log, then ends the stream.
    const h = await createHarness({ limits: { eventStallMs: 2_000 } });
    for (let i = 0; i < limits.eventStreamQueueLinesMax + 50; i++) {
      h.service.record('node.registered', {
        id: `n${i}`,
        name: 'n',
        address: 'a',
        status: 'ready',
        voter: false,
      });
    }
    const { reader } = await openStream(h, '?index=0&topic=node');
    for (let i = 0; i < 5; i++) await turn();
    await advanceClock(h.clock, 2_000, 500);
    const lines = (await readLines(reader, limits.eventStreamQueueLinesMax + 50)) as Line[];
    const last = lines.at(-1)!;
    expect(last.error?.code).toBe('slow_consumer');
    expect(lines.length).toBeLessThanOrEqual(limits.eventStreamQueueLinesMax + 1);
    expect((await reader.read()).done).toBe(true);
    expect(openStreams(h)).toBe('0');
    expect(h.metrics.expose()).toContain(
      'berth_api_event_streams_dropped_total{transport="ndjson",reason="slow_consumer"} 1',
    );
  });

  test('bad query values are 400 and the WebSocket path needs a server', async () => {
    // Proves stream parameters are validated and upgrade without Bun.serve is refused clearly.
    const h = await createHarness();
    for (const q of ['?index=-1', '?index=x', '?topic=Bad!', '?since=3']) {
      const res = await h.call('GET', `/v1/events${q}`);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('invalid_query');
    }
    const ws = await h.call('GET', '/v1/events', { headers: { upgrade: 'websocket' } });
    expect(ws.status).toBe(426);
    expect(await errorCode(ws)).toBe('upgrade_required');
  });

  test('streams beyond eventStreamsMax are refused with 503 too_many_streams', async () => {
    // Proves the bound on open streams, and that closing one makes room again.
    const h = await createHarness();
    const readers: Array<{ cancel(): Promise<void> }> = [];
    for (let i = 0; i < limits.eventStreamsMax; i++) readers.push((await openStream(h, '')).reader);
    const refused = await h.call('GET', '/v1/events');
    expect(refused.status).toBe(503);
    expect(await errorCode(refused)).toBe('too_many_streams');
    await readers.pop()!.cancel();
    const again = await h.call('GET', '/v1/events');
    expect(again.status).toBe(200);
    await again.body!.cancel();
    for (const reader of readers) await reader.cancel();
    expect(openStreams(h)).toBe('0');
  });
});
