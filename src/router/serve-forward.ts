/**
 * The Bun.serve side of the HTTP proxy (the HTTPS listener): turns a Request into the
 * ForwardRequest that proxy-http.ts carries, and its answer back into a Response.
 */
import type { Server } from 'bun';
import type { RouteEntry } from '../../actors/router/index.ts';
import type { RouterLimits } from './config.ts';
import {
  type ClientFacts,
  plainTargetPattern,
  toUpstreamRequestHeaders,
  upstreamRequestHead,
} from './headers.ts';
import {
  type AnswerSink,
  type ForwardRequest,
  forwardedBodyBytes,
  type PreparedBody,
  type ProxyContext,
  proxyHttp,
} from './proxy-http.ts';
import type { UpstreamReply } from './upstream-conn-pool.ts';

const noBody: PreparedBody = { kind: 'none' };

/** Proxies a Bun.serve request; resolves to the Response for Bun to send. */
export function proxyServed(
  ctx: ProxyContext,
  route: RouteEntry,
  req: Request,
  server: Server<unknown>,
  facts: { pathAndQuery: string; client: ClientFacts; startMs: number },
): Promise<Response> {
  const prepared = prepareBody(req, ctx.limits);
  return new Promise<Response>((resolve) => {
    const start = (body: PreparedBody) =>
      proxyHttp(ctx, route, new ServedRequest(req, server, facts, body, resolve));
    if (prepared instanceof Promise) void prepared.then(start);
    else start(prepared);
  });
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
      return req.bytes().then((bytes) => ({ kind: 'buffered', bytes }));
    }
  }
  if (req.body === null) return noBody;
  return limitedStream(req.body, limits.bodyBytesMax);
}

/** A body stream that errors once more than `bytesMax` passed through it. */
export function limitedStream(
  source: ReadableStream<Uint8Array>,
  bytesMax: number,
): PreparedBody & { kind: 'stream' } {
  let receivedBytes = 0;
  let overflow = false;
  const stream = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        receivedBytes += chunk.byteLength;
        if (receivedBytes > bytesMax) {
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

/** A Bun.serve request as proxy-http.ts sees it; its sink resolves the handler's promise. */
class ServedRequest implements ForwardRequest, AnswerSink {
  readonly method: string;
  readonly pathAndQuery: string;
  readonly client: ClientFacts;
  readonly startMs: number;
  readonly accept: string | null;
  readonly rawHead: string;
  readonly body: PreparedBody;
  readonly sink: AnswerSink = this;
  readonly #req: Request;
  readonly #server: Server<unknown>;
  readonly #resolve: (response: Response) => void;

  constructor(
    req: Request,
    server: Server<unknown>,
    facts: { pathAndQuery: string; client: ClientFacts; startMs: number },
    body: PreparedBody,
    resolve: (response: Response) => void,
  ) {
    this.#req = req;
    this.#server = server;
    this.#resolve = resolve;
    this.method = req.method;
    this.pathAndQuery = facts.pathAndQuery;
    this.client = facts.client;
    this.startMs = facts.startMs;
    this.accept = req.headers.get('accept');
    this.body = body;
    this.rawHead = rawHeadOf(req, facts.pathAndQuery, facts.client, body);
  }

  fetchHeaders(): Headers {
    return toUpstreamRequestHeaders(this.#req.headers, this.client);
  }

  gone(): boolean {
    return this.#req.signal.aborted;
  }

  streaming(): void {
    this.#server.timeout(this.#req, 0);
  }

  reply(reply: UpstreamReply): void {
    let response: Response;
    try {
      response = new Response(reply.body, { status: reply.status, headers: reply.headers });
    } catch {
      // The parser admits only what Response accepts; this guard keeps a request from hanging.
      if (reply.body instanceof ReadableStream) void reply.body.cancel();
      response = new Response('bad gateway', { status: 502 });
    }
    this.#resolve(response);
  }

  respond(response: Response): void {
    this.#resolve(response);
  }
}

/**
 * The head the raw client sends, or '' when this request goes through fetch: streamed
 * bodies (fetch pipes them with the size limiter), `Expect` (fetch handles the interim
 * answer), no Host (fetch supplies one) or a target that needs encoding.
 */
function rawHeadOf(
  req: Request,
  pathAndQuery: string,
  client: ClientFacts,
  body: PreparedBody,
): string {
  if (body.kind === 'stream' || client.host === '') return '';
  if (!plainTargetPattern.test(pathAndQuery) || req.headers.has('expect')) return '';
  const method = req.method;
  const bodyBytes = forwardedBodyBytes(method, body);
  return upstreamRequestHead(method, pathAndQuery, req.headers, client, bodyBytes);
}
