/**
 * Forwards one HTTP request to an upstream of its route and streams the answer back.
 *
 * Two clients carry it: the router's own HTTP/1.1 client on pooled keep-alive sockets
 * (upstream-conn*.ts) for every request whose body is absent or buffered, and `fetch`
 * (upstream-fetch.ts) for the rest. Both follow the same rules, kept here:
 *
 * Retries: a refused connection means the upstream never saw the request, so any request
 * whose body we still hold (none, or buffered because it was small) is retried on another
 * upstream; a connection that broke before the response headers is retried only for
 * idempotent methods. A body streamed straight through cannot be replayed and is never
 * retried. A reused keep-alive connection that the upstream had closed is resent once on
 * a fresh connection to the same upstream, invisibly (that is not the upstream failing).
 * Response bodies are never buffered beyond a small fixed length, so SSE and downloads
 * stream.
 */
import type { Server } from 'bun';
import type { RouteEntry } from '../../actors/router/index.ts';
import { limits as globalLimits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import type { Balancing, RouterLimits } from './config.ts';
import { errorResponse, type RouterErrorCode } from './error-response.ts';
import { type ClientFacts, toUpstreamRequestHeaders, upstreamRequestHead } from './headers.ts';
import type { RouterMetrics, UpstreamErrorKind } from './router-metrics.ts';
import type {
  Exchange,
  ExchangeFailureKind,
  UpstreamConnection,
  UpstreamReply,
} from './upstream-conn-pool.ts';
import { type Sweepable, upstreamDeadlines } from './upstream-deadlines.ts';
import {
  fetchFailureKind,
  fetchUpstream,
  type PreparedBody,
  passFetched,
} from './upstream-fetch.ts';
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

type FailureKind = UpstreamErrorKind | 'client_gone';

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Request targets the raw client writes as they are: visible ASCII only. */
const plainTargetPattern = /^\/[\x21-\x7e]*$/;
const noneTried: ReadonlySet<string> = new Set();
const noBody: PreparedBody = { kind: 'none' };

/** Proxies `forward` to `route`; always resolves to a Response (the router's own on failure). */
export function proxyHttp(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
): Promise<Response> {
  const prepared = prepareBody(forward.req, ctx.limits);
  if (prepared instanceof Promise) {
    return prepared.then((body) => startProxy(ctx, route, forward, body));
  }
  return startProxy(ctx, route, forward, prepared);
}

function startProxy(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
  body: PreparedBody,
): Promise<Response> {
  if (body.kind === 'too_large') {
    return Promise.resolve(finishError(ctx, route, forward, 'body_too_large'));
  }
  return new ProxiedRequest(ctx, route, forward, body).start();
}

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

/**
 * The head the raw client sends, or '' when this request goes through fetch: streamed
 * bodies (fetch pipes them with the size limiter), `Expect` (fetch handles the interim
 * answer), no Host (fetch supplies one) or a target that needs encoding.
 */
function rawHeadOf(forward: ForwardRequest, body: PreparedBody): string {
  const { req } = forward;
  if (body.kind === 'stream' || forward.client.host === '') return '';
  if (!plainTargetPattern.test(forward.pathAndQuery) || req.headers.has('expect')) return '';
  const method = req.method;
  const bodyBytes =
    body.kind === 'buffered'
      ? body.bytes.byteLength
      : method === 'GET' || method === 'HEAD'
        ? undefined
        : 0;
  return upstreamRequestHead(method, forward.pathAndQuery, req.headers, forward.client, bodyBytes);
}

/**
 * One request's way through the upstreams: pick one, try it, and after a failure that
 * allows it try the next; the client is answered exactly once. The object is also the raw
 * client's Exchange and an entry of the deadline sweep (upstream-deadlines.ts), which
 * times its attempts and notices a client that went away; so a request costs one object
 * and one promise here, whatever path it takes.
 */
class ProxiedRequest implements Exchange, Sweepable {
  readonly head: string;
  readonly body: Uint8Array | null;
  readonly isHead: boolean;
  readonly replayable: boolean;
  readonly #ctx: ProxyContext;
  readonly #route: RouteEntry;
  readonly #forward: ForwardRequest;
  readonly #prepared: PreparedBody;
  readonly #deadlineMs: number;
  #resolve: ((response: Response) => void) | undefined;
  #attempts = 0;
  #tried: Set<string> | undefined;
  /** The upstream of the attempt in progress, or of the body still streaming. */
  #state: UpstreamState | undefined;
  /** The allocation of the last failed attempt, named in the error line. */
  #lastAllocId: string | undefined;
  /** The raw connection carrying the attempt in progress. */
  #conn: UpstreamConnection | undefined;
  /** Aborts the fetch attempt in progress. */
  #fetchAbort: AbortController | undefined;
  #fetchTimedOut = false;
  #fetchHeaders: Headers | undefined;
  /** When the attempt in progress times out (performance.now ms). */
  #attemptDeadlineMs = 0;
  /** Registered with the deadline sweep (else it has its own timer and abort listener). */
  #swept = false;
  /** A sweep has seen this request waiting; the next one checks its client. */
  #waitedASweep = false;
  #timer: Timer | undefined;
  #staleRetries = 0;
  #listening = false;

  constructor(ctx: ProxyContext, route: RouteEntry, forward: ForwardRequest, body: PreparedBody) {
    this.#ctx = ctx;
    this.#route = route;
    this.#forward = forward;
    this.#prepared = body;
    this.#deadlineMs = forward.startMs + ctx.limits.requestTimeoutMs;
    const method = forward.req.method;
    this.head = rawHeadOf(forward, body);
    this.body = body.kind === 'buffered' ? new Uint8Array(body.bytes) : null;
    this.isHead = method === 'HEAD';
    this.replayable = idempotentMethods.has(method);
  }

  start(): Promise<Response> {
    const answer = new Promise<Response>((resolve) => {
      this.#resolve = resolve;
    });
    this.#next(undefined);
    return answer;
  }

  /** Starts the next attempt, or answers with the error when none is left. */
  #next(lastKind: FailureKind | undefined): void {
    const { pool, limits, balancing, metrics } = this.#ctx;
    const state =
      this.#attempts > limits.retriesMax
        ? undefined
        : pool.pick(this.#route, balancing, this.#tried ?? noneTried);
    if (!state) {
      this.#answerError(errorCodeFor(lastKind ?? 'connect'));
      return;
    }
    if (this.#attempts > 0) metrics.retry(this.#route.id);
    this.#attempts += 1;
    pool.acquire(state);
    this.#state = state;
    this.#watchAttempt(limits.upstreamTimeoutMs);
    const conn = this.head === '' ? undefined : state.conns?.send(this);
    if (conn) this.#conn = conn;
    else void this.#attemptFetch(state);
  }

  /**
   * Times the attempt just started, and watches for the client going away: a client that
   * goes away cancels the upstream request too (and, later, its body).
   */
  #watchAttempt(upstreamTimeoutMs: number): void {
    const nowMs = performance.now();
    const budgetMs = Math.max(0, Math.min(upstreamTimeoutMs, this.#deadlineMs - nowMs));
    this.#attemptDeadlineMs = nowMs + budgetMs;
    if (!this.#swept) this.#swept = upstreamDeadlines.add(this);
    if (this.#swept) return;
    this.#timer = setTimeout(onAttemptTimeout, budgetMs, this);
    if (!this.#listening) {
      this.#forward.req.signal.addEventListener('abort', this, { once: true });
      this.#listening = true;
    }
  }

  /** The attempt ended (answer or failure): its own timer, if any, is not needed. */
  #unwatchAttempt(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sweepable: a timed-out attempt is cut; after one sweep, a gone client is noticed. */
  sweep(nowMs: number): void {
    if (this.#resolve === undefined) return;
    if (nowMs >= this.#attemptDeadlineMs) {
      this.#cancelAttempt('timeout');
    } else if (!this.#waitedASweep) {
      // Reading req.signal costs; only requests slower than a sweep pay for it.
      this.#waitedASweep = true;
    } else if (this.#forward.req.signal.aborted) {
      this.#cancelAttempt('client_gone');
    }
  }

  /** Exchange: the raw client has the answer. */
  deliver(reply: UpstreamReply): void {
    this.#conn = undefined;
    this.#unwatchAttempt();
    const state = this.#state!;
    const streamed = reply.body instanceof ReadableStream;
    if (streamed) {
      // Streams (SSE, long downloads) may be quiet for long; the idle timer must not cut them.
      this.#ctx.server()?.timeout(this.#forward.req, 0);
    } else {
      this.#state = undefined;
      this.#ctx.pool.release(state);
    }
    let response: Response;
    try {
      response = new Response(reply.body, { status: reply.status, headers: reply.headers });
    } catch {
      // The parser admits only what Response accepts; this guard keeps a request from hanging.
      if (streamed) void (reply.body as ReadableStream<Uint8Array>).cancel();
      this.#answerError('upstream_unavailable');
      return;
    }
    this.#answer(state, response);
  }

  /** Exchange: the raw attempt failed; a stale keep-alive connection is retried first. */
  fail(kind: ExchangeFailureKind, retrySafe: boolean): void {
    this.#conn = undefined;
    const state = this.#state!;
    if (retrySafe && this.#staleRetries < globalLimits.routerUpstreamStaleRetriesMax) {
      this.#staleRetries += 1;
      const conn = state.conns?.send(this, { fresh: true });
      if (conn) {
        this.#conn = conn;
        return;
      }
    }
    this.#attemptFailed(kind);
  }

  /** Exchange: the streamed body is over; the request stops counting as outstanding. */
  bodyEnded(): void {
    const state = this.#state;
    this.#state = undefined;
    if (state) this.#ctx.pool.release(state);
  }

  /** The client's request signal fired `abort`. */
  handleEvent(): void {
    if (this.#resolve === undefined) return;
    this.#cancelAttempt('client_gone');
  }

  /** The attempt's time is up. */
  timedOut(): void {
    this.#cancelAttempt('timeout');
  }

  #cancelAttempt(kind: 'timeout' | 'client_gone'): void {
    const conn = this.#conn;
    if (conn) {
      this.#conn = undefined;
      conn.abort(this);
      this.#attemptFailed(kind);
    } else if (this.#fetchAbort) {
      // The fetch rejects; its handler sees why.
      this.#fetchTimedOut = kind === 'timeout';
      this.#fetchAbort.abort();
    }
  }

  async #attemptFetch(state: UpstreamState): Promise<void> {
    const { req, client, pathAndQuery } = this.#forward;
    const controller = new AbortController();
    this.#fetchAbort = controller;
    this.#fetchTimedOut = false;
    this.#fetchHeaders ??= toUpstreamRequestHeaders(req.headers, client);
    let upstream: Response;
    try {
      const url = state.url + pathAndQuery;
      upstream = await fetchUpstream(
        url,
        req,
        this.#fetchHeaders,
        this.#prepared,
        controller.signal,
      );
    } catch (error) {
      this.#fetchAbort = undefined;
      const clientGone = req.signal.aborted;
      this.#attemptFailed(fetchFailureKind(error, this.#fetchTimedOut, clientGone, this.#prepared));
      return;
    }
    this.#fetchAbort = undefined;
    this.#unwatchAttempt();
    const response = passFetched(upstream, req, this.#ctx.server(), () => this.bodyEnded());
    this.#answer(state, response);
  }

  #attemptFailed(kind: FailureKind): void {
    this.#unwatchAttempt();
    const { pool, metrics } = this.#ctx;
    const state = this.#state!;
    this.#lastAllocId = state.allocId;
    this.#state = undefined;
    pool.release(state);
    if (kind === 'client_gone') {
      this.#answerError(errorCodeFor(kind));
      return;
    }
    metrics.upstreamError(this.#route.id, kind);
    if (kind === 'connect') pool.reportConnectFailure(state);
    if (!mayRetry(kind, this.replayable, this.#prepared) || performance.now() >= this.#deadlineMs) {
      this.#answerError(errorCodeFor(kind));
      return;
    }
    this.#tried ??= new Set();
    this.#tried.add(state.key);
    this.#next(kind);
  }

  #answer(state: UpstreamState, response: Response): void {
    this.#ctx.pool.reportSuccess(state);
    record(this.#ctx, this.#route, this.#forward, response.status, state.allocId);
    this.#settle(response);
  }

  #answerError(code: RouterErrorCode): void {
    this.#settle(finishError(this.#ctx, this.#route, this.#forward, code, this.#lastAllocId));
  }

  #settle(response: Response): void {
    if (this.#swept) upstreamDeadlines.delete(this);
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.(response);
  }
}

function onAttemptTimeout(request: ProxiedRequest): void {
  request.timedOut();
}

function mayRetry(kind: UpstreamErrorKind, replayable: boolean, body: PreparedBody): boolean {
  if (body.kind === 'stream') return false;
  if (kind === 'connect') return true;
  return kind === 'reset' && replayable;
}

function errorCodeFor(kind: FailureKind): RouterErrorCode {
  if (kind === 'timeout') return 'upstream_timeout';
  // Not the upstream's fault: recorded as 499, not as a 502 that would page someone.
  if (kind === 'client_gone') return 'client_closed';
  if (kind === 'body_too_large') return 'body_too_large';
  return 'upstream_unavailable';
}

function finishError(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
  code: RouterErrorCode,
  /** The allocation of the last failed attempt, so an error line names its upstream. */
  allocId?: string,
): Response {
  const response = errorResponse(code, messageFor(code, route), forward.req.headers.get('accept'));
  record(ctx, route, forward, response.status, allocId);
  return response;
}

function messageFor(code: RouterErrorCode, route: RouteEntry): string {
  if (code === 'upstream_timeout') return `${route.job} did not answer in time`;
  if (code === 'body_too_large') return 'the request body is larger than the router accepts';
  if (code === 'client_closed') return 'the client closed the request before the answer';
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
