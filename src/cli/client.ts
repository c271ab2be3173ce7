/**
 * The CLI's HTTP client. The CLI speaks only the HTTP API (DESIGN.md §8): HTTPS verified
 * against the saved cluster CA, a bearer token, JSON in and out, and API errors surfaced
 * by their stable code.
 */
import { BerthError } from '../core/errors.ts';
import type { CliContext } from './context.ts';

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
  /** Cancels the request (and, for streams, the body); a cancelled request rejects `cancelled`. */
  signal?: AbortSignal;
}

/** Options every request of one client gets unless it sets its own. */
export type RequestDefaults = Pick<RequestOptions, 'signal' | 'timeoutMs'>;

export class ApiClient {
  readonly #context: CliContext;
  readonly #defaults: RequestDefaults;

  constructor(context: CliContext, defaults: RequestDefaults = {}) {
    this.#context = context;
    this.#defaults = defaults;
  }

  get address(): string {
    return this.#context.address;
  }

  url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(path, this.#context.address);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  /** Sends a request; resolves with the parsed JSON body, rejects with a BerthError. */
  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, options);
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      throw new BerthError('bad_response', `${res.status} from ${this.address}: not JSON`);
    }
    if (!res.ok) throw apiError(res.status, body);
    return body as T;
  }

  /** Sends a request and returns the raw Response (streams). */
  async raw(path: string, requestOptions: RequestOptions = {}): Promise<Response> {
    const options = { ...this.#defaults, ...requestOptions };
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#context.token) headers.authorization = `Bearer ${this.#context.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const signals = [
      ...(options.timeoutMs ? [AbortSignal.timeout(options.timeoutMs)] : []),
      ...(options.signal ? [options.signal] : []),
    ];
    const init: RequestInit & { tls?: { ca?: string } } = {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
    };
    if (this.#context.caPem) init.tls = { ca: this.#context.caPem };
    try {
      return await fetch(this.url(path, options.query), init);
    } catch (error) {
      throw this.#transportError(error, options);
    }
  }

  /** Opens a streaming GET; non-2xx answers reject with the API's error code. */
  async stream(path: string, options: RequestOptions = {}): Promise<Response> {
    const res = await this.raw(path, options);
    if (res.ok) return res;
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: the status alone names the error below.
    }
    throw apiError(res.status, body);
  }

  /** A failed fetch: cancelled by the caller, timed out, or the server was not reached. */
  #transportError(error: unknown, options: RequestOptions): BerthError {
    if (options.signal?.aborted) return new BerthError('cancelled', 'cancelled');
    if ((error as Error)?.name === 'TimeoutError') {
      return new BerthError(
        'timeout',
        `no answer from ${this.address} within ${options.timeoutMs} ms; a write may still have been applied, so check before retrying`,
      );
    }
    return new BerthError(
      'unreachable',
      `cannot reach ${this.address}: ${(error as Error).message}. Is the agent running? Check --address or \`berth context\`.`,
    );
  }
}

/** The BerthError for an API error answer (`{ error: { code, message } }`). */
export function apiError(status: number, body: unknown): BerthError {
  const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)
    ?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}`;
  return new BerthError(code, message, { status, ...(e?.details ? { details: e.details } : {}) });
}
