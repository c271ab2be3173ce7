/**
 * Serving the API over a real socket with Bun.serve: passes the server to Hono (needed for
 * WebSocket upgrades on `/v1/events`) and installs the event socket handler.
 */
import type { Server } from 'bun';
import type { Hono } from 'hono';
import { limits } from '../core/limits.ts';
import type { ApiEnv } from './env.ts';
import { type EventSocketData, eventSocketHandler } from './event-socket.ts';

export interface ServeApiOptions {
  /** Address to listen on. Default 127.0.0.1. */
  hostname?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  tls?: { cert: string; key: string; ca?: string };
}

/**
 * Bun's own request-size cap, in bytes. It sits well above the API's body limit so the API's
 * JSON 413 `body_too_large` answers ordinary oversized bodies; only absurd ones meet Bun's.
 */
const serverBodyBytesMax = limits.apiBodyBytesMax * 4;

/** Starts serving `app`; stop it with `server.stop(true)`. */
export function serveApi(
  app: Hono<ApiEnv>,
  options: ServeApiOptions = {},
): Server<EventSocketData> {
  return Bun.serve<EventSocketData>({
    hostname: options.hostname ?? '127.0.0.1',
    port: options.port ?? 0,
    maxRequestBodySize: serverBodyBytesMax,
    ...(options.tls ? { tls: options.tls } : {}),
    fetch: (request, server) => app.fetch(request, { server }),
    websocket: eventSocketHandler,
  });
}
