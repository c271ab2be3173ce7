/**
 * Forwards one HTTP request to an upstream of its route and streams the answer back.
 *
 * Retries: a refused connection means the upstream never saw the request, so any request
 * whose body we still hold (none, or buffered because it was small) is retried on another
 * upstream; a connection that broke before the response headers is retried only for
 * idempotent methods. A body streamed straight through cannot be replayed and is never
 * retried. Response bodies are piped, never buffered, so SSE and downloads stream.
 */
import type { Server } from 'bun';
import type { RouteEntry } from '../../actors/router/index.ts';
import type { Logger } from '../core/logger.ts';
import type { Balancing, RouterLimits } from './config.ts';
import { errorResponse, type RouterErrorCode } from './error-response.ts';
import { type ClientFacts, toClientResponseHeaders, toUpstreamRequestHeaders } from './headers.ts';
import type { RouterMetrics, UpstreamErrorKind } from './router-metrics.ts';
import type { UpstreamPool, UpstreamState } from './upstream-pool.ts';

/** What the HTTP path needs from the Router that owns it. */
export interface ProxyContext {
  pool: UpstreamPool;
  limits: RouterLimits;
  balancing: Balancing;
  metrics: RouterMetrics;
  logger: Logger;
  server: () => Server<unknown> | undefined;
}

/** The request as forwarded: method, path with query, and what the client told us. */
export interface ForwardRequest {
  req: Request;
  pathAndQuery: string;
  client: ClientFacts;
  startMs: number;
}

type PreparedBody =
  | { kind: 'none' }
  | { kind: 'buffered'; bytes: ArrayBuffer }
  | { kind: 'stream'; stream: ReadableStream<Uint8Array>; tooLarge: () => boolean }
  | { kind: 'too_large' };

type AttemptResult =
  | { ok: true; response: Response }
  | { ok: false; kind: UpstreamErrorKind | 'client_gone' };

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const connectFailureCodes = new Set([
  'ECONNREFUSED',
  'ConnectionRefused',
  'FailedToOpenSocket',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
]);
/** Responses up to this size are counted done at their headers; bigger ones when sent. */
const smallBodyBytes = 65_536;

/** Proxies `forward` to `route`; always resolves to a Response (the router's own on failure). */
export async function proxyHttp(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
): Promise<Response> {
  const prepared = prepareBody(forward.req, ctx.limits);
  const body = prepared instanceof Promise ? await prepared : prepared;
  if (body.kind === 'too_large') return finishError(ctx, route, forward, 'body_too_large');
  const headers = toUpstreamRequestHeaders(forward.req.headers, forward.client);
  const deadlineMs = forward.startMs + ctx.limits.requestTimeoutMs;
  const tried = new Set<string>();
  let lastKind: UpstreamErrorKind | 'client_gone' = 'connect';
  for (let attempt = 0; attempt <= ctx.limits.retriesMax; attempt++) {
    const state = ctx.pool.pick(route, ctx.balancing, tried);
    if (!state) break;
    if (attempt > 0) ctx.metrics.retry(route.id);
    tried.add(state.key);
    ctx.pool.acquire(state);
    const result = await attemptOnce(ctx, state, forward, { headers, body }, deadlineMs);
    if (result.ok) {
      ctx.pool.reportSuccess(state);
      return passResponse(ctx, route, forward, state, result.response);
    }
    ctx.pool.release(state);
    lastKind = result.kind;
    if (result.kind === 'client_gone') break;
    ctx.metrics.upstreamError(route.id, result.kind);
    if (result.kind === 'connect') ctx.pool.reportConnectFailure(state);
    if (!mayRetry(result.kind, forward.req.method, body)) break;
    if (performance.now() >= deadlineMs) break;
  }
  return finishError(ctx, route, forward, errorCodeFor(lastKind));
}

function mayRetry(kind: UpstreamErrorKind, method: string, body: PreparedBody): boolean {
  if (body.kind === 'stream') return false;
  if (kind === 'connect') return true;
  return kind === 'reset' && idempotentMethods.has(method);
}

function errorCodeFor(kind: UpstreamErrorKind | 'client_gone'): RouterErrorCode {
  if (kind === 'timeout') return 'upstream_timeout';
  if (kind === 'body_too_large') return 'body_too_large';
  return 'upstream_unavailable';
}

const noBody: PreparedBody = { kind: 'none' };

/**
 * Reads small bodies (so they can be retried) and wraps big ones in a size limiter.
 * Synchronous when there is no body to read, which keeps GETs free of an extra await.
 */
function prepareBody(req: Request, limits: RouterLimits): PreparedBody | Promise<PreparedBody> {
  const lengthHeader = req.headers.get('content-length');
  if (lengthHeader === null && (req.method === 'GET' || req.method === 'HEAD')) return noBody;
  if (lengthHeader !== null) {
    const length = Number(lengthHeader);
    if (!Number.isFinite(length) || length > limits.bodyBytesMax) return { kind: 'too_large' };
    if (length === 0 || req.body === null) return noBody;
    if (length <= limits.bodyBufferBytesMax) {
      return req.arrayBuffer().then((bytes) => ({ kind: 'buffered', bytes }));
    }
  }
  if (req.body === null) return noBody;
  let receivedBytes = 0;
  let overflow = false;
  const stream = req.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        receivedBytes += chunk.byteLength;
        if (receivedBytes > limits.bodyBytesMax) {
          overflow = true;
          controller.error(new Error('request body over the router limit'));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  return { kind: 'stream', stream, tooLarge: () => overflow };
}

async function attemptOnce(
  ctx: ProxyContext,
  state: UpstreamState,
  forward: ForwardRequest,
  outgoing: { headers: Headers; body: PreparedBody },
  deadlineMs: number,
): Promise<AttemptResult> {
  const { body } = outgoing;
  const { req } = forward;
  const controller = new AbortController();
  let timedOut = false;
  const budgetMs = Math.max(
    0,
    Math.min(ctx.limits.upstreamTimeoutMs, deadlineMs - performance.now()),
  );
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, budgetMs);
  // A client that goes away cancels the upstream request too (and, later, its body).
  const onClientGone = () => controller.abort();
  req.signal.addEventListener('abort', onClientGone, { once: true });
  try {
    const response = await fetch(state.url + forward.pathAndQuery, {
      method: req.method,
      headers: outgoing.headers,
      body:
        body.kind === 'buffered' ? body.bytes : body.kind === 'stream' ? body.stream : undefined,
      signal: controller.signal,
      redirect: 'manual',
      decompress: false,
    } as RequestInit);
    return { ok: true, response };
  } catch (error) {
    if (timedOut) return { ok: false, kind: 'timeout' };
    if (req.signal.aborted) return { ok: false, kind: 'client_gone' };
    if (body.kind === 'stream' && body.tooLarge()) return { ok: false, kind: 'body_too_large' };
    const code = (error as { code?: unknown }).code;
    return {
      ok: false,
      kind: typeof code === 'string' && connectFailureCodes.has(code) ? 'connect' : 'reset',
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Hands the upstream's response to the client. The request counts as outstanding until
 * its body is fully sent (so draining waits for it), except small fixed-length bodies,
 * which are counted done at once to keep the hot path free of a JS stream.
 */
function passResponse(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
  state: UpstreamState,
  upstream: Response,
): Response {
  toClientResponseHeaders(upstream.headers);
  const lengthHeader = upstream.headers.get('content-length');
  const small = lengthHeader !== null && Number(lengthHeader) <= smallBodyBytes;
  record(ctx, route, forward, upstream.status, state.allocId);
  if (upstream.body === null || small || forward.req.method === 'HEAD') {
    ctx.pool.release(state);
    // Handing back the upstream's own Response lets Bun pipe it natively.
    return upstream;
  }
  const body = trackedBody(upstream.body, () => ctx.pool.release(state));
  // Streams (SSE, long downloads) may be quiet for long; the idle timer must not cut them.
  ctx.server()?.timeout(forward.req, 0);
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

function finishError(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
  code: RouterErrorCode,
): Response {
  const response = errorResponse(code, messageFor(code, route), forward.req.headers.get('accept'));
  record(ctx, route, forward, response.status, undefined);
  return response;
}

function messageFor(code: RouterErrorCode, route: RouteEntry): string {
  if (code === 'upstream_timeout') return `${route.job} did not answer in time`;
  if (code === 'body_too_large') return 'the request body is larger than the router accepts';
  return `${route.job} could not be reached`;
}

function record(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
  status: number,
  allocId: string | undefined,
): void {
  const durationMs = performance.now() - forward.startMs;
  ctx.metrics.request(route.id, status, durationMs / 1000);
  ctx.logger.info('request', {
    route: route.id,
    method: forward.req.method,
    path: forward.pathAndQuery,
    status,
    alloc: allocId,
    durationMs: Math.round(durationMs * 10) / 10,
  });
}
