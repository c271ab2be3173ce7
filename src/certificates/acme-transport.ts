/**
 * The HTTP transport under acme-client, replaced per client. acme-client ships an axios
 * instance shared by the whole process, and it (a) retries network errors, 429 and 5xx up
 * to five times, sleeping Retry-After or 5–25 s between tries — an hour-long Retry-After
 * would stall an order for an hour instead of recording a backoff; (b) under Bun, throws
 * a TypeError from its retry interceptor once a network error runs out of retries, so the
 * real cause is lost; and (c) can only trust a private CA process-wide. Bun's fetch with
 * `tls.ca` fixes all three for one client: no hidden retries (the certificates actor owns
 * backoff), an abort signal per flow, a timeout per request, and the last problem
 * document kept so errors can be classified by status and ACME error type, not by text.
 *
 * The replaced method is `client.http.request(url, method, opts)`, which every ACME call
 * of acme-client 5.x goes through; `installFetchTransport` asserts it is there, so an
 * upgrade that moves it fails loudly at the first order, not silently.
 */
import type { Client } from 'acme-client';
import { assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** What the last non-2xx ACME answer said (RFC 8555 §6.7 problem document). */
export interface AcmeProblem {
  status: number;
  /** The problem type, e.g. `urn:ietf:params:acme:error:rateLimited`, or '' when absent. */
  type: string;
  detail: string;
  /** From the Retry-After header, when the server sent one. */
  retryAfterMs?: number;
  url: string;
}

export interface FetchTransportOptions {
  directoryUrl: string;
  /** PEM of a CA to trust in addition to the system roots (Pebble in tests, a private CA). */
  caPem?: string;
  /** Aborts every request of this client (leadership lost, host stopping). */
  signal?: AbortSignal;
  requestTimeoutMs?: number;
}

/** What the transport remembers; the flow reads it to classify a failure. */
export interface TransportRecord {
  /** The problem of the latest answer; null when the latest answer succeeded. */
  lastProblem: AcmeProblem | null;
  /** Order URLs this client created (Location of a 201 from newOrder). */
  ordersCreated: string[];
}

/** The shape acme-client's HttpClient expects back from `request`. */
interface AxiosLikeResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

type RequestFn = (
  url: string,
  method: string,
  opts?: { data?: unknown; headers?: Record<string, string> },
) => Promise<AxiosLikeResponse>;

/** Replaces `client`'s HTTP layer with Bun's fetch; returns what it records. */
export function installFetchTransport(
  client: Client,
  options: FetchTransportOptions,
): TransportRecord {
  const http = (client as unknown as { http?: { request?: unknown } }).http;
  assert(
    http !== undefined && typeof http.request === 'function',
    'acme-client no longer exposes client.http.request; update src/certificates/acme-transport.ts',
  );
  const record: TransportRecord = { lastProblem: null, ordersCreated: [] };
  const request: RequestFn = async (url, method, opts = {}) => {
    const response = await send(url, method, opts, options);
    if (url === options.directoryUrl) assertDirectory(response, url);
    // Only the latest answer counts: a bad nonce that acme-client retried successfully
    // must not colour a later, unrelated failure.
    record.lastProblem = response.status >= 400 ? problemOf(response, url) : null;
    const location = response.headers.location;
    if (response.status === 201 && location !== undefined && isOrder(response.data)) {
      record.ordersCreated.push(location);
    }
    return response;
  };
  http.request = request;
  return record;
}

async function send(
  url: string,
  method: string,
  opts: { data?: unknown; headers?: Record<string, string> },
  options: FetchTransportOptions,
): Promise<AxiosLikeResponse> {
  const timeout = AbortSignal.timeout(options.requestTimeoutMs ?? limits.acmeRequestTimeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, {
      method: method.toUpperCase(),
      // acme-client sets the JWS content type inside the method replaced here.
      headers: {
        'User-Agent': 'berth-acme',
        ...opts.headers,
        ...(opts.data === undefined ? {} : { 'Content-Type': 'application/jose+json' }),
      },
      body: opts.data === undefined ? undefined : JSON.stringify(opts.data),
      signal,
      redirect: 'manual',
      ...(options.caPem ? { tls: { ca: options.caPem } } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) {
      throw new BerthError('acme_aborted', 'the ACME order was stopped on this node');
    }
    const reason = timeout.aborted ? 'timed out' : (error as Error).message;
    throw new BerthError('acme_unreachable', `ACME server ${origin(url)} unreachable: ${reason}`, {
      url,
    });
  }
  const text = await readBounded(response, url);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return { status: response.status, headers, data: parseBody(text) };
}

async function readBounded(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limits.acmeResponseBytesMax) {
    throw new BerthError('acme_failed', `ACME answer from ${origin(url)} is too large`, { url });
  }
  const text = await response.text();
  if (text.length > limits.acmeResponseBytesMax) {
    throw new BerthError('acme_failed', `ACME answer from ${origin(url)} is too large`, { url });
  }
  return text;
}

/** JSON when it parses (as axios does by default), the raw text otherwise (PEM chains). */
function parseBody(text: string): unknown {
  if (text === '') return '';
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function assertDirectory(response: AxiosLikeResponse, url: string): void {
  const data = response.data as Record<string, unknown> | null;
  const ok =
    response.status === 200 &&
    typeof data === 'object' &&
    data !== null &&
    ['newNonce', 'newAccount', 'newOrder'].every((k) => typeof data[k] === 'string');
  if (!ok) {
    throw new BerthError(
      'acme_directory_invalid',
      `${url} is not an ACME directory (HTTP ${response.status}); the ACME directory must be production, staging or an ACME directory URL`,
      { url, status: response.status },
    );
  }
}

function problemOf(response: AxiosLikeResponse, url: string): AcmeProblem {
  const data = (
    typeof response.data === 'object' && response.data !== null ? response.data : {}
  ) as {
    type?: unknown;
    detail?: unknown;
  };
  const retryAfterMs = parseRetryAfterMs(response.headers['retry-after']);
  return {
    status: response.status,
    type: typeof data.type === 'string' ? data.type : '',
    detail: typeof data.detail === 'string' ? data.detail.replace(/\s+/g, ' ') : '',
    url,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

function isOrder(data: unknown): boolean {
  return typeof data === 'object' && data !== null && 'identifiers' in data && 'finalize' in data;
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfterMs(
  header: string | undefined,
  nowMs = Date.now(),
): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  // An HTTP date names its weekday and month; Date.parse would also take "-5" as a year.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const atMs = Date.parse(trimmed);
  if (Number.isNaN(atMs)) return undefined;
  return Math.max(0, atMs - nowMs);
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
