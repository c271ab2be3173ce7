/**
 * The routed HTTP load (Berth only): GETs through the routers of the nodes that stay up,
 * open loop, each request with a unique path so a failure can be found in the router's
 * own log (the router logs every request with its path, status and allocation).
 */
import { type FailureKind, type Load, push, type Sample } from './load.ts';

/** An HTTP endpoint of the load: a label for the report and a port on 127.0.0.1. */
export interface HttpTarget {
  label: string;
  port: number;
}

export interface HttpLoadOptions {
  /** Where to send, read again before each round (the faulted node drops out). */
  targets: () => readonly HttpTarget[];
  /** One GET per target every `intervalMs`, whether or not earlier ones have answered. */
  intervalMs: number;
  /** A request without a complete answer after this long failed (`timeout`), ms. */
  timeoutMs: number;
  /**
   * Requests in flight at most (a bound, not a queue). A turn past it is recorded as a
   * failed request of kind `not_sent`: the client could not even send it.
   */
  inFlightMax: number;
  /** The Host header, so the request takes the route of the bench's job. */
  host: string;
}

type FailureWhy = { kind: FailureKind; status?: number; code?: string; error?: string };

/**
 * Open loop matters as for writes: a router that stalls holds its requests until their
 * timeout, and a client that waited for them before sending the next would stop measuring
 * every router at once.
 */
export function startHttpLoad(options: HttpLoadOptions): Load {
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const send = (target: HttpTarget, seq: number) => {
    const path = `/?bench=${target.label}.${seq}`;
    const sentAtWallMs = Date.now();
    const invokeMs = performance.now();
    if (inFlight.size >= options.inFlightMax) {
      const failure = { target: target.label, path, sentAtWallMs, kind: 'not_sent' as const };
      push(samples, { invokeMs, responseMs: invokeMs, ok: false, target: target.label, failure });
      return;
    }
    const request = getOnce(target.port, path, options).then((why) => {
      const responseMs = performance.now();
      const sample: Sample = { invokeMs, responseMs, ok: why === undefined, target: target.label };
      if (why) sample.failure = { target: target.label, path, sentAtWallMs, ...why };
      push(samples, sample);
      inFlight.delete(request);
    });
    inFlight.add(request);
  };
  const loop = (async () => {
    for (let seq = 0; !stopped; seq++) {
      for (const target of options.targets()) send(target, seq);
      await Bun.sleep(options.intervalMs);
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

/** One GET; undefined when it succeeded, else how it failed. */
async function getOnce(
  port: number,
  path: string,
  options: HttpLoadOptions,
): Promise<FailureWhy | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { host: options.host },
    });
    // The body counts: a request whose answer breaks off half-way failed.
    const body = await res.text();
    return res.ok ? undefined : statusFailure(res.status, body);
  } catch (error) {
    return errorFailure(error);
  }
}

/** A non-2xx answer: its status and, for a JSON error body, its `error.code`. */
export function statusFailure(status: number, body: string): FailureWhy {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    if (typeof code === 'string') return { kind: 'status', status, code };
  } catch {
    // Not JSON: the upstream's own answer, kept as its status alone.
  }
  return { kind: 'status', status };
}

/** Error codes of a connection nobody accepted (the request never reached a server). */
const refusedCodes = new Set(['ECONNREFUSED', 'ConnectionRefused', 'FailedToOpenSocket']);

/** A request without an answer: our own timeout, a refused connection, or a reset. */
export function errorFailure(error: unknown): FailureWhy {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  const label = typeof code === 'string' ? code : typeof name === 'string' ? name : 'unknown';
  if (name === 'TimeoutError') return { kind: 'timeout', error: label };
  if (typeof code === 'string' && refusedCodes.has(code)) return { kind: 'refused', error: label };
  return { kind: 'reset', error: label };
}
