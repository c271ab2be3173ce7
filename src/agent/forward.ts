/**
 * Request forwarding, as Nomad forwards RPCs: any node accepts any API call; writes and
 * linearizable reads that reach a follower are sent on to the leader's API (HTTPS,
 * verified against the cluster CA, with the caller's own bearer token), so the leader
 * authenticates and answers them. While no leader is known (an election), the request is
 * held for up to `holdMs` — Nomad's RPCHoldTimeout is 5 s — and then either forwarded,
 * served here (this node won), or answered 503 `no_leader` by the API's own hold.
 *
 * Not forwarded: event streams (every node has the committed log), `/v1/status` and
 * `/metrics` (they describe this node), `?stale=true` reads (served locally on purpose),
 * and requests already forwarded once (no loops).
 */
import type { MiddlewareHandler } from 'hono';
import { BerthError } from '../core/errors.ts';

export const forwardedHeader = 'x-berth-forwarded-by';

/** Poll interval while waiting for a leader, in ms. */
const leaderPollMs = 20;

export interface ForwardOptions {
  selfId: number;
  /** The leader's id, 0 when unknown. */
  leaderId: () => number;
  /** `https://host:port` of a node's API, from the replicated node table. */
  apiUrlOf: (nodeId: number) => string | undefined;
  caPem: string;
  holdMs: number;
}

// Logs are not replicated: any node serves them, fetching from the node that holds them.
const localPaths = [
  /^\/v1\/status$/,
  /^\/v1\/events/,
  /^\/metrics$/,
  /^\/v1\/cluster\/ca$/,
  /\/logs$/,
];

export function isLocalRequest(method: string, url: URL, headers: Headers): boolean {
  if (headers.has(forwardedHeader)) return true;
  if (localPaths.some((p) => p.test(url.pathname))) return true;
  if ((method === 'GET' || method === 'HEAD') && url.searchParams.get('stale') === 'true')
    return true;
  return false;
}

export function forwardToLeader(options: ForwardOptions): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    if (isLocalRequest(c.req.method, url, c.req.raw.headers)) return next();
    // The body is read only when the request is really forwarded: a request served here
    // must reach the API with its body unread.
    let body: ArrayBuffer | undefined;
    const readBody = async () => {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
      // A clone: if the forward fails and this node wins the election, the API still
      // reads the original body.
      body ??= await c.req.raw.clone().arrayBuffer();
      return body;
    };
    const deadlineMs = Date.now() + options.holdMs;
    for (;;) {
      const leader = await waitForLeader(options, deadlineMs);
      if (leader === 0 || leader === options.selfId) break;
      const target = options.apiUrlOf(leader);
      if (!target) break;
      const result = await sendTo(target, url, c.req.raw, await readBody(), options);
      if (result.ok) return result.response;
      // Only a refused connection is retried: the request never left, so it cannot
      // have been applied. Anything else has an unknown outcome.
      if (!result.refused || Date.now() >= deadlineMs) {
        throw new BerthError(
          'forward_failed',
          `the leader (node ${leader}) did not answer: ${result.message}`,
        );
      }
      await Bun.sleep(leaderPollMs * 5);
    }
    // This node leads, or no leader appeared in time: the API's own hold decides. If this
    // node stops leading meanwhile, the API answers `not_leader` at once (nothing was
    // appended) and the request goes to the new leader.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') await readBody();
    await next();
    if (c.res.status === 503 && Date.now() < deadlineMs && (await isNotLeader(c.res))) {
      const leader = await waitForLeader(options, deadlineMs);
      const target =
        leader !== 0 && leader !== options.selfId ? options.apiUrlOf(leader) : undefined;
      if (target) {
        const result = await sendTo(target, url, c.req.raw, await readBody(), options);
        if (result.ok) c.res = result.response;
      }
    }
  };
}

async function isNotLeader(res: Response): Promise<boolean> {
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { error?: { code?: string } } | null;
  return body?.error?.code === 'not_leader';
}

async function waitForLeader(options: ForwardOptions, deadlineMs: number): Promise<number> {
  for (;;) {
    const leader = options.leaderId();
    if (leader !== 0 || Date.now() >= deadlineMs) return leader;
    await Bun.sleep(leaderPollMs);
  }
}

type SendResult =
  | { ok: true; response: Response }
  | { ok: false; refused: boolean; message: string };

async function sendTo(
  target: string,
  url: URL,
  request: Request,
  body: ArrayBuffer | undefined,
  options: ForwardOptions,
): Promise<SendResult> {
  const headers = new Headers();
  for (const name of ['authorization', 'content-type', 'accept']) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  headers.set(forwardedHeader, String(options.selfId));
  try {
    const response = await fetch(`${target}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body,
      tls: { ca: options.caPem },
      redirect: 'manual',
    } as RequestInit);
    const copy = new Headers(response.headers);
    copy.delete('content-encoding');
    copy.delete('content-length');
    return {
      ok: true,
      response: new Response(await response.arrayBuffer(), {
        status: response.status,
        headers: copy,
      }),
    };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    return {
      ok: false,
      refused: code === 'ConnectionRefused' || code === 'ECONNREFUSED',
      message: String(error),
    };
  }
}
