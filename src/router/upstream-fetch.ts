/**
 * The router's fallback client: Bun's `fetch`, for what the raw client (upstream-conn.ts)
 * does not carry: streamed request bodies (piped through the size limiter), `Expect`,
 * requests without Host, request targets that need encoding, upstreams that are not plain
 * http, and upstreams already at their connection cap.
 */
import { limits } from '../core/limits.ts';
import { toClientResponseHeaders } from './headers.ts';
import type { UpstreamErrorKind } from './router-metrics.ts';

/** A request body as the proxy prepared it (proxy-http.ts). */
export type PreparedBody =
  | { kind: 'none' }
  | { kind: 'buffered'; bytes: Uint8Array }
  | { kind: 'stream'; stream: ReadableStream<Uint8Array>; tooLarge: () => boolean }
  | { kind: 'too_large' };

const connectFailureCodes = new Set([
  'ECONNREFUSED',
  'ConnectionRefused',
  'FailedToOpenSocket',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
]);

/** Sends the request with fetch; rejects on any failure (classify it with `fetchFailureKind`). */
export function fetchUpstream(
  url: string,
  method: string,
  headers: Headers,
  body: PreparedBody,
  signal: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method,
    headers,
    body: body.kind === 'buffered' ? body.bytes : body.kind === 'stream' ? body.stream : undefined,
    signal,
    redirect: 'manual',
    decompress: false,
  } as RequestInit);
}

/** Why a fetch failed, from what the caller knows and the error's code (never its text). */
export function fetchFailureKind(
  error: unknown,
  timedOut: boolean,
  clientGone: boolean,
  body: PreparedBody,
): UpstreamErrorKind | 'client_gone' {
  if (timedOut) return 'timeout';
  if (clientGone) return 'client_gone';
  if (body.kind === 'stream' && body.tooLarge()) return 'body_too_large';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && connectFailureCodes.has(code) ? 'connect' : 'reset';
}

/**
 * Hands fetch's response to the client; `done` is called once when the request stops
 * counting as outstanding: at once for small fixed-length bodies (Bun pipes the upstream's
 * own Response natively), else when the body has been read to its end (so draining waits
 * for it).
 */
export function passFetched(
  upstream: Response,
  isHead: boolean,
  /** Called when the body streams: the client's idle timer must not cut it. */
  streaming: () => void,
  done: () => void,
): Response {
  toClientResponseHeaders(upstream.headers);
  const lengthHeader = upstream.headers.get('content-length');
  // The same threshold as the raw client's whole-body reads.
  const small =
    lengthHeader !== null && Number(lengthHeader) <= limits.routerResponseBufferBytesMax;
  if (upstream.body === null || small || isHead) {
    done();
    return upstream;
  }
  const body = trackedBody(upstream.body, done);
  streaming();
  return new Response(body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: upstream.headers,
  });
}

/** Pipes `source` chunk by chunk (no read-ahead) and calls `done` once when it ends. */
function trackedBody(
  source: ReadableStream<Uint8Array>,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const chunk = await reader.read();
          if (chunk.done) {
            finish();
            controller.close();
          } else controller.enqueue(chunk.value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
