import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { createApi } from './app.ts';
import type { EventSocketData } from './event-socket.ts';
import { serveApi } from './server.ts';
import { mintToken, readLines, sampleJob } from './test-harness.ts';
import { TestClusterService } from './test-service.ts';

type Line = { event?: { index: number; type: string; topic: string } };

let service: TestClusterService;
let server: Server<EventSocketData>;
let base: string;
let token: string;

beforeAll(async () => {
  service = new TestClusterService();
  token = await mintToken(service, 'admin');
  server = serveApi(createApi({ service }), { hostname: '127.0.0.1', port: 0 });
  base = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.stop(true);
  service.close();
});

async function registerJob(name: string): Promise<number> {
  const res = await fetch(`http://${base}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...sampleJob, name }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { index: number }).index;
}

/** Collects WebSocket messages and lets a test wait for the n-th one. */
function collect(ws: WebSocket) {
  const lines: Line[] = [];
  let wake: (() => void) | undefined;
  ws.addEventListener('message', (m) => {
    lines.push(JSON.parse(String(m.data)));
    wake?.();
  });
  return {
    lines,
    async waitFor(count: number): Promise<Line[]> {
      while (lines.length < count) await new Promise<void>((resolve) => (wake = resolve));
      return lines;
    },
  };
}

describe('event stream over a real socket', () => {
  test('NDJSON resumes from ?index= and then follows new commits', async () => {
    // Proves resume and live delivery through Bun.serve's streaming response.
    const first = await registerJob('alpha');
    await registerJob('beta');
    const res = await fetch(`http://${base}/v1/events?index=${first}&topic=job`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const carry = { text: '' };
    const backlog = (await readLines(reader, 1, carry)) as Line[];
    expect(backlog.map((l) => l.event?.index)).toEqual([first + 1]);
    const gamma = await registerJob('gamma');
    const live = (await readLines(reader, 1, carry)) as Line[];
    expect(live.map((l) => l.event?.index)).toEqual([gamma]);
    await reader.cancel();
  });

  test('WebSocket on the same path streams the backlog, then live events', async () => {
    // Proves the upgrade path, the resume index and push on commit over a WebSocket.
    const start = service.events.commitIndex();
    await registerJob('delta');
    const ws = new WebSocket(`ws://${base}/v1/events?index=${start}&topic=job`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const messages = collect(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('websocket failed to open')));
    });
    const backlog = await messages.waitFor(1);
    expect(backlog[0]!.event).toMatchObject({
      index: start + 1,
      type: 'job.registered',
      topic: 'job',
    });
    const epsilon = await registerJob('epsilon');
    const all = await messages.waitFor(2);
    expect(all[1]!.event?.index).toBe(epsilon);
    const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
    ws.close();
    await closed;
  });

  test('a WebSocket upgrade without a token is refused', async () => {
    // Proves the upgrade goes through the same bearer authentication as every route.
    const ws = new WebSocket(`ws://${base}/v1/events`);
    const outcome = await new Promise<string>((resolve) => {
      ws.addEventListener('open', () => resolve('open'));
      ws.addEventListener('error', () => resolve('error'));
      ws.addEventListener('close', () => resolve('closed'));
    });
    expect(outcome).not.toBe('open');
  });
});
