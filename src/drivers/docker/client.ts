import type { z } from 'zod';
import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import { ErrorBodySchema, VersionSchema } from './schemas.ts';

/** Oldest Engine API this client speaks (Docker 19.03); `Init`, `Mounts`, `NanoCpus` exist. */
export const dockerApiVersionMin = '1.40';
/** Newest Engine API this client was written against; newer daemons are asked for this one. */
export const dockerApiVersionMax = '1.43';

export interface DockerRequest {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Raw body (a tar archive); wins over `body`. */
  rawBody?: Uint8Array;
  headers?: Record<string, string>;
  /** Error code for a given HTTP status (e.g. 404 → image_not_found); else driver_error. */
  codes?: Record<number, string>;
  /** Abort the call; absent, a non-streaming call times out after dockerRequestTimeoutMs. */
  signal?: AbortSignal;
}

/**
 * A thin typed client of the Docker Engine API over its unix socket, through Bun's fetch
 * (`unix` option). `connect()` negotiates the API version once: the lower of the daemon's
 * and `dockerApiVersionMax`, refused when below `dockerApiVersionMin`.
 */
export class DockerClient {
  readonly socketPath: string;
  #apiVersion: string | undefined;

  constructor(socketPath = '/var/run/docker.sock') {
    this.socketPath = socketPath;
  }

  /** The negotiated version; asserts `connect()` ran. */
  get apiVersion(): string {
    if (!this.#apiVersion)
      throw new BerthError('driver_unavailable', 'Docker client not connected');
    return this.#apiVersion;
  }

  async connect(): Promise<string> {
    const res = await this.#fetch('GET', '/version', {});
    const version = VersionSchema.parse(await res.json());
    if (compareApiVersions(version.ApiVersion, dockerApiVersionMin) < 0) {
      throw new BerthError('driver_unavailable', 'Docker Engine API too old', {
        daemon: version.ApiVersion,
        required: dockerApiVersionMin,
      });
    }
    this.#apiVersion =
      compareApiVersions(version.ApiVersion, dockerApiVersionMax) < 0
        ? version.ApiVersion
        : dockerApiVersionMax;
    return this.#apiVersion;
  }

  /** A call whose response body is JSON, parsed with `schema`. */
  async json<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    request: DockerRequest = {},
  ): Promise<z.infer<S>> {
    const res = await this.call(method, path, request);
    return schema.parse(await res.json());
  }

  /** A versioned call; throws a BerthError for a non-2xx status, so the response is ok. */
  async call(method: string, path: string, request: DockerRequest = {}): Promise<Response> {
    const res = await this.#fetch(method, `/v${this.apiVersion}${path}`, request);
    if (res.ok) return res;
    const text = await res.text();
    const parsed = ErrorBodySchema.safeParse(safeJson(text));
    const message = parsed.success ? parsed.data.message : text.slice(0, 500);
    const code = request.codes?.[res.status] ?? 'driver_error';
    throw new BerthError(code, `Docker ${method} ${path}: ${message}`, {
      status: res.status,
      dockerMessage: message,
    });
  }

  async #fetch(method: string, path: string, request: DockerRequest): Promise<Response> {
    const url = new URL(`http://localhost${path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { ...request.headers };
    let body: Uint8Array | string | undefined;
    if (request.rawBody) {
      body = request.rawBody;
      headers['content-type'] = 'application/x-tar';
    } else if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
    }
    const signal = request.signal ?? AbortSignal.timeout(limits.dockerRequestTimeoutMs);
    try {
      return await fetch(url, { method, headers, body, signal, unix: this.socketPath });
    } catch (error) {
      if (request.signal?.aborted) throw error;
      throw new BerthError('driver_unavailable', `Docker socket ${this.socketPath} unreachable`, {
        cause: String(error),
      });
    }
  }
}

/** Compares `1.41`-style versions numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
