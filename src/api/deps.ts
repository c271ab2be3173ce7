/**
 * What route modules share: the service, the bounded leader hold, and the read barrier.
 * Route modules stay thin (STYLE.md rule 16): validate, ask the service, map the reply.
 */
import type { Context } from 'hono';
import type { Logger } from '../core/logger.ts';
import type { Counter } from '../metrics/registry.ts';
import type { ClusterService } from './cluster-service.ts';
import type { EventHub } from './event-feed.ts';
import type { JobSpecSchema } from './job-spec.ts';

export interface ApiDeps {
  service: ClusterService;
  logger: Logger;
  /** Runs a write or barrier, holding it through a leader election (see hold.ts). */
  hold<T>(attempt: () => Promise<T>): Promise<T>;
  jobSpecSchema: typeof JobSpecSchema;
  hub: EventHub;
  /** Streams dropped by the server, by transport and reason. */
  streamsDropped: Counter;
}

/** The response header carrying the log index a read reflects (like X-Nomad-Index). */
export const indexHeader = 'X-Berth-Index';

/**
 * Makes the following read linearizable unless the client asked for `?stale=true`, and
 * stamps the index the read reflects.
 */
export async function readBarrier(deps: ApiDeps, c: Context, stale: boolean): Promise<void> {
  if (!stale) await deps.hold(() => deps.service.readBarrier());
  c.header(indexHeader, String(deps.service.events.commitIndex()));
}
