/**
 * Shared set-up for the API tests: a real TestClusterService, the app built on it, one token
 * per role, and helpers to call routes through `app.request()` (no socket).
 */
import { randomUUID } from 'node:crypto';
import { SimClock } from '../core/clock.ts';
import { MetricsRegistry } from '../metrics/registry.ts';
import { generateToken, hashToken } from '../secrets/tokens.ts';
import { type ApiLimits, createApi } from './app.ts';
import type { Role } from './cluster-service.ts';
import { TestClusterService } from './test-service.ts';

export interface CallOptions {
  /** Bearer token; `null` sends no Authorization header. Default: the admin token. */
  token?: string | null;
  /** A value is sent as JSON; a string is sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One job document in the spec's written form (what `berth deploy` POSTs). */
export const sampleJob = {
  name: 'web',
  image: 'nginx:1.27',
  count: 2,
  ports: { http: 8080 },
  check: { http: '/up' },
};

/** Registers a token directly through the service (the bootstrap path) and returns it. */
export async function mintToken(service: TestClusterService, role: Role): Promise<string> {
  const token = generateToken();
  await service.propose({
    type: 'token.create',
    id: randomUUID(),
    name: `${role} token`,
    role,
    hashHex: hashToken(token),
  });
  return token;
}

export async function createHarness(options: { limits?: Partial<ApiLimits> } = {}) {
  const clock = new SimClock();
  const service = new TestClusterService({ clock });
  const metrics = new MetricsRegistry();
  const app = createApi({ service, clock, metrics, limits: options.limits });
  const tokens = {
    admin: await mintToken(service, 'admin'),
    deploy: await mintToken(service, 'deploy'),
    read: await mintToken(service, 'read-only'),
  };
  const call = (method: string, path: string, opts: CallOptions = {}): Promise<Response> => {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? tokens.admin : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    return Promise.resolve(app.request(path, { method, headers, body }));
  };
  return {
    clock,
    service,
    metrics,
    app,
    tokens,
    call,
    commitIndex: () => service.events.commitIndex(),
  };
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;

/** The `{ error: { code } }` of a response, asserting its shape on the way. */
export async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
  if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error body: ${JSON.stringify(body)}`);
  }
  return body.error.code;
}

/** Lets promises and I/O callbacks run (one macrotask turn). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Advances the simulated clock by `totalMs` in `stepMs` steps, yielding between steps. */
export async function advanceClock(
  clock: SimClock,
  totalMs: number,
  stepMs: number,
): Promise<void> {
  for (let elapsed = 0; elapsed < totalMs; elapsed += stepMs) {
    await turn();
    clock.advance(stepMs);
  }
  await turn();
}

/**
 * Advances the simulated clock in `stepMs` steps, yielding between steps so held requests
 * can retry, until `promise` settles or `maxMs` of simulated time has passed.
 */
export async function driveClock<T>(
  clock: SimClock,
  promise: Promise<T>,
  options: { stepMs: number; maxMs: number },
): Promise<T> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let elapsed = 0; elapsed <= options.maxMs && !settled; elapsed += options.stepMs) {
    await turn();
    clock.advance(options.stepMs);
  }
  await turn();
  return promise;
}

/** Reads NDJSON lines from a streamed body until `count` lines arrived, then stops reading. */
export async function readLines(
  reader: { read(): Promise<{ done: boolean; value?: Uint8Array }> },
  count: number,
  carry: { text: string } = { text: '' },
): Promise<unknown[]> {
  const decoder = new TextDecoder();
  const lines: unknown[] = [];
  while (lines.length < count) {
    let newline = carry.text.indexOf('\n');
    while (newline >= 0 && lines.length < count) {
      lines.push(JSON.parse(carry.text.slice(0, newline)));
      carry.text = carry.text.slice(newline + 1);
      newline = carry.text.indexOf('\n');
    }
    if (lines.length >= count) break;
    const { done, value } = await reader.read();
    if (done) break;
    carry.text += decoder.decode(value, { stream: true });
  }
  return lines;
}
