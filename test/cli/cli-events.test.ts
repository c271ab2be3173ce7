import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type CliHarness, registerJob, startCliHarness, waitUntil } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h.close();
});

/** Starts `berth events …` in-process; `stop()` plays Ctrl-C and resolves the result. */
function follow(argv: string[], token?: string) {
  const controller = new AbortController();
  let stdout = '';
  const running = h.run(['events', ...argv], {
    signal: controller.signal,
    token,
    onOut: (t) => {
      stdout += t;
    },
  });
  return {
    lines: () => stdout.split('\n').filter((l) => l !== ''),
    async stop() {
      controller.abort();
      return running;
    },
    running,
  };
}

describe('berth events', () => {
  test('replays from --index, follows new commits, and Ctrl-C exits 0', async () => {
    // Proves resume from an index, live delivery, topic filtering and a clean interrupt.
    const start = h.service.events.commitIndex();
    const first = await registerJob(h, 'alpha');
    await h.run(['secret', 'set', 'EV_SECRET', 'ev-s3cret-value']);
    const stream = follow(['--index', String(start), '--topic', 'job'], h.tokens.read);
    await waitUntil(() => stream.lines().length >= 1);
    const second = await registerJob(h, 'beta');
    await waitUntil(() => stream.lines().length >= 2);
    const result = await stream.stop();
    expect(result.code).toBe(0);
    const lines = stream.lines();
    expect(lines[0]).toMatch(new RegExp(`^\\s*${first}\\s+job\\s+job\\.registered\\s+\\{`));
    expect(lines[1]).toMatch(new RegExp(`^\\s*${second}\\s+job\\s+job\\.registered`));
    expect(lines.join('\n')).not.toContain('EV_SECRET');
  });

  test('--json prints the server’s NDJSON lines, each parseable', async () => {
    // Proves scripts get raw lines with the event envelope and never a secret value.
    const start = h.service.events.commitIndex();
    const stream = follow(['--index', String(start), '--json']);
    await h.run(['secret', 'set', 'JSON_SECRET', 'json-s3cret-value']);
    const index = await registerJob(h, 'gamma');
    await waitUntil(() => stream.lines().length >= 2);
    expect((await stream.stop()).code).toBe(0);
    const parsed = stream.lines().map((l) => JSON.parse(l));
    expect(parsed[0].event).toMatchObject({ topic: 'secret', data: { name: 'JSON_SECRET' } });
    expect(parsed[1].event).toMatchObject({ index, topic: 'job', type: 'job.registered' });
    expect(stream.lines().join('\n')).not.toContain('json-s3cret-value');
  });

  test('an invalid topic or index is refused with a clear code', async () => {
    // Proves server-side query validation and client-side --index validation.
    const topic = await h.run(['events', '--topic', 'Not A Topic']);
    expect(topic.code).toBe(1);
    expect(topic.stderr).toContain('[invalid_query]');
    const index = await h.run(['events', '--index', 'soon']);
    expect(index.code).toBe(2);
  });

  test('without a token the stream is refused with exit 4', async () => {
    // Proves the stream goes through bearer auth and maps 401 like every other command.
    const r = await h.run(['events'], { token: null });
    expect(r.code).toBe(4);
  });

  test('a stream that ends or sends an error line exits 1 with where to resume', async () => {
    // Proves an end of stream is never a silent success: a plain end is `stream_ended`, an
    // error line keeps the server's code, and both name the last index covered. A minimal
    // NDJSON server stands in for the API, whose streams only end on slow consumers.
    const bodies = [
      '{"event":{"index":7,"topic":"job","type":"job.registered","data":{}}}\n{"heartbeat":{"index":9}}\n',
      '{"heartbeat":{"index":3}}\n{"error":{"code":"events_compacted","message":"gone"}}\n',
    ];
    let next = 0;
    const fake = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: () =>
        new Response(bodies[next++], { headers: { 'content-type': 'application/x-ndjson' } }),
    });
    try {
      const address = `http://127.0.0.1:${fake.port}`;
      const ended = await h.run(['events'], { address });
      expect(ended.code).toBe(1);
      expect(ended.stdout).toContain('job.registered');
      expect(ended.stderr).toContain('[stream_ended]');
      expect(ended.stderr).toContain('resume with --index 9');
      const failed = await h.run(['events'], { address });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('[events_compacted]');
      expect(failed.stderr).toContain('resume with --index 3');
    } finally {
      await fake.stop(true);
    }
  });
});

describe('berth events as a process', () => {
  test('SIGINT ends the stream with exit status 0', async () => {
    // Proves the real Ctrl-C path: the first SIGINT aborts the stream and the CLI exits 0.
    const start = h.service.events.commitIndex();
    const index = await registerJob(h, 'delta');
    const proc = Bun.spawn(
      ['bun', 'src/cli/main.ts', 'events', '--index', String(start), '--address', h.address],
      { env: { ...process.env, BERTH_TOKEN: h.tokens.read }, stdout: 'pipe', stderr: 'pipe' },
    );
    const reader = proc.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain(`${index}  job  job.registered`);
    proc.kill('SIGINT');
    expect(await proc.exited).toBe(0);
  });
});
