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
}

export class ApiClient {
  readonly #context: CliContext;

  constructor(context: CliContext) {
    this.#context = context;
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
  async raw(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#context.token) headers.authorization = `Bearer ${this.#context.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit & { tls?: { ca?: string } } = {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
    };
    if (this.#context.caPem) init.tls = { ca: this.#context.caPem };
    try {
      return await fetch(this.url(path, options.query), init);
    } catch (error) {
      throw new BerthError(
        'unreachable',
        `cannot reach ${this.address}: ${(error as Error).message}. Is the agent running? Check --address or \`berth context\`.`,
      );
    }
  }
}

function apiError(status: number, body: unknown): BerthError {
  const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)
    ?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}`;
  return new BerthError(code, message, { status, ...(e?.details ? { details: e.details } : {}) });
}
