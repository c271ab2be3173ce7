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
import type { RouteEntry } from '../../actors/router/index.ts';
import { limits as globalLimits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import type { Balancing, RouterLimits } from './config.ts';
import { errorResponse, type RouterErrorCode } from './error-response.ts';
import type { ClientFacts } from './headers.ts';
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

export type { PreparedBody } from './upstream-fetch.ts';

import type { UpstreamPool, UpstreamState } from './upstream-pool.ts';

/** What the HTTP path needs from the Router that owns it. */
export interface ProxyContext {
  pool: UpstreamPool;
  limits: RouterLimits;
  balancing: Balancing;
  metrics: RouterMetrics;
  logger: Logger;
}

/**
 * The request as forwarded, whichever listener took it: Bun.serve (serve-forward.ts) or
 * the raw HTTP/1.1 front (http1/front-forward.ts). Each supplies what it has cheaply and
 * makes the rest on demand.
 */
export interface ForwardRequest {
  readonly method: string;
  /** Path and query as the client sent them. */
  readonly pathAndQuery: string;
  readonly client: ClientFacts;
  /** performance.now() when the request arrived. */
  readonly startMs: number;
  /** The client's Accept header: the router's own answers are JSON or HTML by it. */
  readonly accept: string | null;
  /**
   * Request line and headers for the raw upstream client (headers.ts), or '' when the
   * request must go through fetch (streamed body, a target that needs encoding, …).
   */
  readonly rawHead: string;
  readonly body: PreparedBody;
  /** The headers fetch sends (made on demand: fetch carries few requests). */
  fetchHeaders(): Headers;
  /** True once the client has gone away. */
  gone(): boolean;
  /** The answer streams (SSE, downloads): the client's idle timer must not cut it. */
  streaming(): void;
  /** Where the answer goes; called exactly once per request. */
  readonly sink: AnswerSink;
}

/** Where a proxied request's answer goes. */
export interface AnswerSink {
  /** The upstream's answer from the raw client: body bytes, none, or a stream. */
  reply(reply: UpstreamReply): void;
  /** A whole Response: the router's own error, or fetch's answer. */
  respond(response: Response): void;
}

type FailureKind = UpstreamErrorKind | 'client_gone';

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const noneTried: ReadonlySet<string> = new Set();

/**
 * The Content-Length the raw client sends for `body`: its size when buffered, none for a
 * bodiless GET or HEAD, and 0 for other methods without a body (RFC 9110 §8.6).
 */
export function forwardedBodyBytes(method: string, body: PreparedBody): number | undefined {
  if (body.kind === 'buffered') return body.bytes.byteLength;
  return method === 'GET' || method === 'HEAD' ? undefined : 0;
}

/** Proxies `forward` to `route`; the answer goes to `forward.sink` (the router's own on failure). */
export function proxyHttp(ctx: ProxyContext, route: RouteEntry, forward: ForwardRequest): void {
  if (forward.body.kind === 'too_large') {
    finishError(ctx, route, forward, 'body_too_large');
    return;
  }
  new ProxiedRequest(ctx, route, forward).start();
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
  /** Sweepable: where the deadline sweep holds this request (slot-list.ts). */
  slot = -1;
  readonly #ctx: ProxyContext;
  readonly #route: RouteEntry;
  readonly #forward: ForwardRequest;
  readonly #deadlineMs: number;
  /** Until the answer is given. */
  #open = true;
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
  /** When the attempt in progress times out (performance.now ms). */
  #attemptDeadlineMs = 0;
  /** Registered with the deadline sweep (else it has its own timer and abort listener). */
  #swept = false;
  /** A sweep has seen this request waiting; the next one checks its client. */
  #waitedASweep = false;
  #timer: Timer | undefined;
  #staleRetries = 0;

  constructor(ctx: ProxyContext, route: RouteEntry, forward: ForwardRequest) {
    this.#ctx = ctx;
    this.#route = route;
    this.#forward = forward;
    this.#deadlineMs = forward.startMs + ctx.limits.requestTimeoutMs;
    const { method, body } = forward;
    this.head = forward.rawHead;
    this.body = body.kind === 'buffered' ? body.bytes : null;
    this.isHead = method === 'HEAD';
    this.replayable = idempotentMethods.has(method);
  }

  start(): void {
    this.#next(undefined);
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
   * Times the attempt just started. The sweep also notices a client that went away, which
   * cancels the upstream request too (and, later, its body); the raw front tells at once
   * (`clientGone`).
   */
  #watchAttempt(upstreamTimeoutMs: number): void {
    const nowMs = performance.now();
    const budgetMs = Math.max(0, Math.min(upstreamTimeoutMs, this.#deadlineMs - nowMs));
    this.#attemptDeadlineMs = nowMs + budgetMs;
    if (!this.#swept) this.#swept = upstreamDeadlines.add(this);
    if (this.#swept) return;
    // Over the sweeper's bound: a timer of its own (a gone client is then noticed at the
    // timeout, or at once through the raw front).
    this.#timer = setTimeout(onAttemptTimeout, budgetMs, this);
  }

  /** The attempt ended (answer or failure): its own timer, if any, is not needed. */
  #unwatchAttempt(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sweepable: a timed-out attempt is cut; after one sweep, a gone client is noticed. */
  sweep(nowMs: number): void {
    if (!this.#open) return;
    if (nowMs >= this.#attemptDeadlineMs) {
      this.#cancelAttempt('timeout');
    } else if (!this.#waitedASweep) {
      // Asking whether the client left costs (Bun's req.signal); only requests slower
      // than a sweep pay for it.
      this.#waitedASweep = true;
    } else if (this.#forward.gone()) {
      this.#cancelAttempt('client_gone');
    }
  }

  /** Exchange: the raw client has the answer. */
  deliver(reply: UpstreamReply): void {
    this.#conn = undefined;
    this.#unwatchAttempt();
    const state = this.#state!;
    if (reply.body instanceof ReadableStream) {
      this.#forward.streaming();
    } else {
      this.#state = undefined;
      this.#ctx.pool.release(state);
    }
    this.#ctx.pool.reportSuccess(state);
    record(this.#ctx, this.#route, this.#forward, reply.status, state.allocId);
    this.#finish();
    this.#forward.sink.reply(reply);
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

  /** The client went away (the raw front knows at once). */
  clientGone(): void {
    if (!this.#open) return;
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
    const forward = this.#forward;
    const controller = new AbortController();
    this.#fetchAbort = controller;
    this.#fetchTimedOut = false;
    let upstream: Response;
    try {
      const url = state.url + forward.pathAndQuery;
      upstream = await fetchUpstream(
        url,
        forward.method,
        forward.fetchHeaders(),
        forward.body,
        controller.signal,
      );
    } catch (error) {
      this.#fetchAbort = undefined;
      const kind = fetchFailureKind(error, this.#fetchTimedOut, forward.gone(), forward.body);
      this.#attemptFailed(kind);
      return;
    }
    this.#fetchAbort = undefined;
    this.#unwatchAttempt();
    const response = passFetched(
      upstream,
      this.isHead,
      () => forward.streaming(),
      () => this.bodyEnded(),
    );
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
    if (
      !mayRetry(kind, this.replayable, this.#forward.body) ||
      performance.now() >= this.#deadlineMs
    ) {
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
    this.#finish();
    this.#forward.sink.respond(response);
  }

  #answerError(code: RouterErrorCode): void {
    this.#finish();
    finishError(this.#ctx, this.#route, this.#forward, code, this.#lastAllocId);
  }

  /** The answer is decided: no more sweeps or cancellations. */
  #finish(): void {
    if (this.#swept) upstreamDeadlines.delete(this);
    this.#open = false;
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

/** Answers `forward` with the router's own error for `code`, recorded like any answer. */
function finishError(
  ctx: ProxyContext,
  route: RouteEntry,
  forward: ForwardRequest,
  code: RouterErrorCode,
  /** The allocation of the last failed attempt, so an error line names its upstream. */
  allocId?: string,
): void {
  const response = errorResponse(code, messageFor(code, route), forward.accept);
  record(ctx, route, forward, response.status, allocId);
  forward.sink.respond(response);
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
  // Per request: the fields object is built only when request lines are written.
  if (!ctx.logger.enabled('info')) return;
  ctx.logger.info('request', {
    route: route.id,
    method: forward.method,
    path: forward.pathAndQuery,
    status,
    alloc: allocId,
    durationMs: Math.round(durationMs * 10) / 10,
  });
}
