import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { createApi } from './app.ts';
import type { ClusterService } from './cluster-service.ts';
import { JobSpecSchema } from './job-spec.ts';
import { LogCursor } from './routes-logs.ts';
import { createHarness, errorCode, type Harness, readLines, turn } from './test-harness.ts';

let h: Harness;
const t0 = 1_700_000_000_000;

beforeEach(async () => {
  h = await createHarness();
  const alloc = { jobVersion: 1, status: 'healthy' };
  await h.service.propose({
    type: 'job.register',
    job: JobSpecSchema.parse({ name: 'web', image: 'nginx:1', count: 2 }),
  });
  h.service.record('allocation.updated', { id: 'a1', job: 'web', node: 'n1', ...alloc });
  h.service.record('allocation.updated', { id: 'a2', job: 'web', node: 'n2', ...alloc });
  h.service.appendLog('a1', 'stdout', 'a1 first', t0 + 10);
  h.service.appendLog('a2', 'stderr', 'a2 first', t0 + 15);
  h.service.appendLog('a1', 'stdout', 'a1 second', t0 + 20);
});

afterEach(() => {
  h.service.close();
});

interface LogsBody {
  lines: { allocId?: string; stream: string; line: string; atMs: number }[];
  node?: string;
  errors?: { allocId: string; code: string }[];
}

async function json(res: Response): Promise<LogsBody> {
  expect(res.status).toBe(200);
  return (await res.json()) as LogsBody;
}

describe('GET /v1/allocations/:id/logs', () => {
  test('answers the lines and node; tail and since select them', async () => {
    // Proves the plain read (read-only token is enough) and both filters, oldest first.
    const all = await json(
      await h.call('GET', '/v1/allocations/a1/logs', { token: h.tokens.read }),
    );
    expect(all.node).toBe('n1');
    expect(all.lines).toEqual([
      { stream: 'stdout', line: 'a1 first', atMs: t0 + 10 },
      { stream: 'stdout', line: 'a1 second', atMs: t0 + 20 },
    ]);
    const tail = await json(await h.call('GET', '/v1/allocations/a1/logs?tail=1'));
    expect(tail.lines.map((l) => l.line)).toEqual(['a1 second']);
    const since = await json(await h.call('GET', `/v1/allocations/a1/logs?since=${t0 + 11}`));
    expect(since.lines.map((l) => l.line)).toEqual(['a1 second']);
  });

  test('garbage queries are 400 invalid_query; unknown ids 404', async () => {
    // Proves validation at the edge: no sign, exponent, hex, overflow or unknown key passes.
    for (const q of [
      'tail=abc',
      'tail=-1',
      'tail=1e3',
      'tail=0x10',
      `tail=${limits.apiLogLinesMax + 1}`,
      'since=yesterday',
      'since=-5',
      'follow=yes',
      'lines=3',
    ]) {
      const res = await h.call('GET', `/v1/allocations/a1/logs?${q}`);
      expect([q, res.status]).toEqual([q, 400]);
      expect(await errorCode(res)).toBe('invalid_query');
    }
    const missing = await h.call('GET', '/v1/allocations/nope/logs');
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('allocation_not_found');
    const long = await h.call('GET', `/v1/allocations/${'x'.repeat(300)}/logs`);
    expect(await errorCode(long)).toBe('allocation_not_found');
  });

  test('no token is 401, a revoked or unknown token 401, every role may read', async () => {
    // Proves the routes sit behind bearer auth and need only the read-only role.
    const none = await h.call('GET', '/v1/allocations/a1/logs', { token: null });
    expect(none.status).toBe(401);
    const bad = await h.call('GET', '/v1/jobs/web/logs', { token: 'berth_nope' });
    expect(bad.status).toBe(401);
    for (const token of [h.tokens.read, h.tokens.deploy, h.tokens.admin]) {
      expect((await h.call('GET', '/v1/jobs/web/logs', { token })).status).toBe(200);
    }
  });

  test('an unreachable node is 502 node_unreachable', async () => {
    // Proves the owning node's outage reaches the client with its own code.
    h.service.setNodeUnreachable('n1', true);
    const res = await h.call('GET', '/v1/allocations/a1/logs');
    expect(res.status).toBe(502);
    expect(await errorCode(res)).toBe('node_unreachable');
  });

  test('a service without allocationLogs answers 501 not_implemented', async () => {
    // Proves the method is optional: both routes refuse cleanly instead of crashing.
    const service = h.service;
    const bare = new Proxy(service, {
      get(target, key) {
        if (key === 'allocationLogs') return undefined;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as ClusterService;
    const app = createApi({ service: bare, clock: h.clock });
    const headers = { authorization: `Bearer ${h.tokens.read}` };
    for (const path of ['/v1/allocations/a1/logs', '/v1/jobs/web/logs?follow=true']) {
      const res = await app.request(path, { headers });
      expect(res.status).toBe(501);
      expect(await errorCode(res)).toBe('not_implemented');
    }
  });
});

describe('GET /v1/jobs/:name/logs', () => {
  test('merges the allocations by time, tags each line, and applies tail overall', async () => {
    // Proves the job view is one time-ordered list and tail counts across allocations.
    const body = await json(await h.call('GET', '/v1/jobs/web/logs'));
    expect(body.lines.map((l) => [l.allocId, l.line])).toEqual([
      ['a1', 'a1 first'],
      ['a2', 'a2 first'],
      ['a1', 'a1 second'],
    ]);
    expect(body.errors).toEqual([]);
    const tail = await json(await h.call('GET', '/v1/jobs/web/logs?tail=2'));
    expect(tail.lines.map((l) => l.line)).toEqual(['a2 first', 'a1 second']);
  });

  test('an unreachable node is listed in errors; the other lines still come', async () => {
    // Proves one node's outage does not hide the rest of the job's output.
    h.service.setNodeUnreachable('n2', true);
    const body = await json(await h.call('GET', '/v1/jobs/web/logs'));
    expect(body.lines.map((l) => l.line)).toEqual(['a1 first', 'a1 second']);
    expect(body.errors).toMatchObject([{ allocId: 'a2', code: 'node_unreachable' }]);
  });

  test('an unknown or invalid job name is 404 job_not_found; bad tail 400', async () => {
    // Proves the job is checked before any node is asked.
    for (const name of ['nope', 'Not%20A%20Name']) {
      const res = await h.call('GET', `/v1/jobs/${name}/logs`);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('job_not_found');
    }
    expect((await h.call('GET', '/v1/jobs/web/logs?tail=many')).status).toBe(400);
  });
});

/** One NDJSON object of a follow stream. */
interface StreamObject {
  line?: { allocId?: string; stream: string; line: string; atMs: number };
  skipped?: { allocId: string; code: string };
  heartbeat?: { atMs: number | null };
  error?: { code: string; message: string };
}

/** Opens a follow stream; `lines(n)` reads n NDJSON objects, polling the clock meanwhile. */
async function openFollow(path: string) {
  const controller = new AbortController();
  const res = await h.app.request(path, {
    headers: { authorization: `Bearer ${h.tokens.read}` },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/x-ndjson');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const carry = { text: '' };
  return {
    reader,
    read: (count: number) => readLines(reader, count, carry) as Promise<StreamObject[]>,
    /** Advances simulated time one poll interval, letting the poll's promises settle. */
    async tick(times = 1) {
      for (let i = 0; i < times; i++) {
        await turn();
        h.clock.advance(limits.apiLogFollowPollMs);
        await turn();
      }
    },
  };
}

describe('follow=true', () => {
  test('sends the backlog, then lines appended while open, and stops on cancel', async () => {
    // Proves live delivery by polling, no duplicates, no loss of a line printed in the same
    // millisecond as the last one sent, and that cancelling frees the stream's timers.
    const s = await openFollow('/v1/allocations/a1/logs?follow=true&tail=1');
    expect(await s.read(1)).toEqual([
      { line: { stream: 'stdout', line: 'a1 second', atMs: t0 + 20 } },
    ]);
    h.service.appendLog('a1', 'stderr', 'same ms', t0 + 20);
    h.service.appendLog('a1', 'stdout', 'later', t0 + 30);
    const next = s.read(2);
    await s.tick();
    expect((await next).map((l) => l.line?.line)).toEqual(['same ms', 'later']);
    h.service.appendLog('a1', 'stdout', 'last', t0 + 40);
    const more = s.read(1);
    await s.tick(2);
    expect((await more)[0]).toEqual({ line: { stream: 'stdout', line: 'last', atMs: t0 + 40 } });
    await s.reader.cancel();
    await turn();
    expect(h.clock.pendingCount()).toBe(0);
  });

  test('tail=0 sends nothing old; an idle stream sends heartbeats', async () => {
    // Proves tail=0 means "new lines only" and that idleness is visible as heartbeats.
    const s = await openFollow('/v1/allocations/a1/logs?follow=true&tail=0');
    const first = s.read(1);
    await s.tick(Math.ceil(limits.eventHeartbeatMs / limits.apiLogFollowPollMs) + 2);
    expect(await first).toEqual([{ heartbeat: { atMs: t0 + 20 } }]);
    h.service.appendLog('a1', 'stdout', 'fresh', t0 + 50);
    const next = s.read(1);
    await s.tick(2);
    expect((await next)[0]?.line?.line).toBe('fresh');
    await s.reader.cancel();
  });

  test('a job follow tags lines, reports an outage once, and picks up new allocations', async () => {
    // Proves job follow merges allocations, emits one `skipped` per outage, and re-lists.
    const s = await openFollow('/v1/jobs/web/logs?follow=true&tail=0');
    h.service.setNodeUnreachable('n2', true);
    h.service.record('allocation.updated', {
      id: 'a3',
      job: 'web',
      jobVersion: 1,
      node: 'n3',
      status: 'healthy',
    });
    h.service.appendLog('a3', 'stdout', 'from a3', t0 + 60);
    const got = s.read(2);
    await s.tick(3);
    expect(await got).toEqual([
      { skipped: expect.objectContaining({ allocId: 'a2', code: 'node_unreachable' }) },
      { line: { allocId: 'a3', stream: 'stdout', line: 'from a3', atMs: t0 + 60 } },
    ]);
    h.service.appendLog('a1', 'stdout', 'from a1', t0 + 70);
    const next = s.read(1);
    await s.tick(2);
    // No second `skipped` for the same outage: the next line is a1's.
    expect((await next)[0]).toEqual({
      line: { allocId: 'a1', stream: 'stdout', line: 'from a1', atMs: t0 + 70 },
    });
    await s.reader.cancel();
  });

  test('the stream ends with follow_limit after apiLogFollowMsMax', async () => {
    // Proves every follow has a bounded lifetime and says how to reconnect.
    const s = await openFollow('/v1/allocations/a1/logs?follow=true&tail=0');
    const last = s.read(1);
    await turn();
    h.clock.advance(limits.apiLogFollowMsMax);
    await s.tick(2);
    const [line] = await last;
    expect(line?.error?.code).toBe('follow_limit');
    expect(line?.error?.message).toContain(`since=${t0 + 20}`);
    expect((await s.reader.read()).done).toBe(true);
  });

  test('an allocation that disappears ends the stream with its code', async () => {
    // Proves a follow does not poll a gone allocation forever.
    h.service.record('allocation.updated', {
      id: 'gone',
      job: 'web',
      jobVersion: 1,
      node: 'n1',
      status: 'healthy',
    });
    // The test service cannot delete an allocation; its answer for this one is replaced.
    let removed = false;
    const original = h.service.allocationLogs.bind(h.service);
    h.service.allocationLogs = async (id, q) => {
      if (id === 'gone' && removed) {
        throw new BerthError('allocation_not_found', 'allocation gone was removed');
      }
      return original(id, q);
    };
    const s = await openFollow('/v1/allocations/gone/logs?follow=true');
    removed = true;
    const last = s.read(1);
    await s.tick(2);
    expect((await last)[0]?.error?.code).toBe('allocation_not_found');
  });
});

describe('follow=true back-pressure', () => {
  test('a client that stops reading is dropped with slow_consumer, freeing its slot', async () => {
    // Proves the bounded queue: the server stops polling, then ends the stream and counts it.
    const backlog = limits.apiLogStreamQueueLinesMax + 50;
    for (let i = 0; i < backlog; i++)
      h.service.appendLog('a1', 'stdout', `line ${i}`, t0 + 100 + i);
    const s = await openFollow(`/v1/allocations/a1/logs?follow=true&tail=${backlog}`);
    for (let i = 0; i < 5; i++) await turn();
    await turn();
    h.clock.advance(limits.eventStreamStallMsMax);
    const lines = await s.read(backlog + 1);
    expect(lines.length).toBe(limits.apiLogStreamQueueLinesMax + 1);
    expect(lines.at(-1)?.error?.code).toBe('slow_consumer');
    expect((await s.reader.read()).done).toBe(true);
    const metrics = h.metrics.expose();
    expect(metrics).toContain(
      'berth_api_event_streams_dropped_total{transport="ndjson",reason="slow_consumer"} 1',
    );
    expect(metrics).toContain('berth_api_event_streams{transport="ndjson"} 0');
  });
});

describe('LogCursor', () => {
  test('skips lines already sent at the last timestamp and keeps new ones', () => {
    // Proves inclusive `sinceMs` polls neither repeat nor lose same-millisecond lines.
    const c = new LogCursor();
    const l = (line: string, atMs: number) => ({ stream: 'stdout' as const, line, atMs });
    expect(c.query()).toEqual({});
    expect(c.fresh([l('a', 1), l('b', 2), l('c', 2)]).map((x) => x.line)).toEqual(['a', 'b', 'c']);
    expect(c.query()).toEqual({ sinceMs: 2 });
    expect(c.fresh([l('b', 2), l('c', 2), l('d', 2), l('e', 3)]).map((x) => x.line)).toEqual([
      'd',
      'e',
    ]);
    expect(c.fresh([l('e', 3)])).toEqual([]);
    expect(c.lastAtMs).toBe(3);
  });
});
