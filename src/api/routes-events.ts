/**
 * `GET /v1/events`: the event stream, as NDJSON or (with an Upgrade header) a WebSocket.
 *   ?topic=job,allocation (or repeated ?topic=) keeps only those topics;
 *   ?index=N resumes after log index N (the last index the client saw; 0 = from the start).
 * Without ?index= the stream starts at the current commit index (new events only).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { requireRole } from './auth.ts';
import { parseQuery } from './body.ts';
import { type ApiDeps, indexHeader } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { EventFeed } from './event-feed.ts';
import { ndjsonEventStream } from './event-ndjson.ts';
import { type EventSocketData, EventSocketSession } from './event-socket.ts';

const topicPattern = /^[a-z][a-z0-9_-]{0,63}$/;

const EventsQuery = z.strictObject({
  index: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  topic: z.string().optional(),
});

/** All ?topic= values, comma-split; null when none was given (every topic). */
function parseTopics(raw: string[] | undefined): Set<string> | null {
  if (!raw || raw.length === 0) return null;
  const topics = new Set(raw.flatMap((v) => v.split(',')).map((t) => t.trim()));
  const bad = [...topics].filter((t) => !topicPattern.test(t));
  if (bad.length > 0 || topics.size > limits.eventTopicsMax) {
    const message = `topics are lowercase words, at most ${limits.eventTopicsMax}`;
    throw new BerthError(
      'invalid_query',
      `invalid topic ${JSON.stringify(bad[0] ?? '')}: ${message}`,
      {
        issues: [{ path: 'topic', message }],
      },
    );
  }
  return topics;
}

export function registerEventRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { hub } = deps;

  app.get('/v1/events', requireRole('read-only'), async (c) => {
    const query = parseQuery(c, EventsQuery);
    const topics = parseTopics(c.req.queries('topic'));
    const afterIndex = query.index ?? deps.service.events.commitIndex();
    const feed = new EventFeed(hub.service, afterIndex, topics);
    const wantsSocket = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    const server = c.env?.server;
    if (wantsSocket && !server) {
      throw new BerthError('upgrade_required', 'WebSocket needs the Bun server; use NDJSON here');
    }
    const release = hub.reserve(wantsSocket ? 'websocket' : 'ndjson');
    if (wantsSocket && server) {
      const data: EventSocketData = {
        start: (sink) => {
          const session = new EventSocketSession(hub, feed, sink, release, deps.streamsDropped);
          session.start();
          return session;
        },
      };
      if (!server.upgrade(c.req.raw, { data })) {
        release();
        throw new BerthError('upgrade_required', 'the WebSocket upgrade failed; check the headers');
      }
      // Bun ignores the response of an upgraded request; Hono needs one.
      return new Response(null);
    }
    const body = ndjsonEventStream(hub, feed, release, deps.streamsDropped);
    return new Response(body, {
      status: 200,
      headers: {
        'Content-Type': 'application/x-ndjson',
        'Cache-Control': 'no-store',
        [indexHeader]: String(afterIndex),
      },
    });
  });
}
