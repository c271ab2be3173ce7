/** Cluster-wide reads (`/v1/status`, nodes, allocations, deployments) and `/v1/operator/raft`. */
import type { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { requireRole } from './auth.ts';
import {
  AllocationQuerySchema,
  DeploymentQuerySchema,
  ListQuerySchema,
  parseJsonBody,
  parseQuery,
  ReadQuerySchema,
} from './body.ts';
import { type ApiDeps, readBarrier } from './deps.ts';
import type { ApiEnv } from './env.ts';

const PeerIdSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const TransferBody = z.strictObject({ to: PeerIdSchema });
const RemovePeerBody = z.strictObject({ id: PeerIdSchema });
const DrainBody = z.strictObject({ enable: z.boolean() });
const NodeIdParam = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[0-9]+$/, 'a node id');

export function registerClusterRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  // Status is this node's own view (its role, its indexes): no barrier, by design.
  app.get('/v1/status', requireRole('read-only'), async (c) => {
    parseQuery(c, z.strictObject({}));
    // Peers and their lag come with it: lag is known on the leader (null elsewhere).
    return c.json({ ...(await service.status()), peers: await service.raftPeers() });
  });

  app.get('/v1/nodes', requireRole('read-only'), async (c) => {
    const query = parseQuery(c, ListQuerySchema);
    await readBarrier(deps, c, query.stale);
    return c.json({ items: await service.listNodes({ limit: query.limit }) });
  });

  app.post('/v1/nodes/:id/drain', requireRole('admin'), async (c) => {
    const id = NodeIdParam.safeParse(c.req.param('id'));
    if (!id.success) throw new BerthError('invalid_query', 'the node id must be a number');
    const { enable } = await parseJsonBody(c, DrainBody);
    if (!service.drainNode)
      throw new BerthError('not_implemented', 'draining is not available on this server');
    const { index } = await deps.hold(() => service.drainNode!(id.data, enable));
    return c.json({ index, node: id.data, status: enable ? 'draining' : 'up' });
  });

  app.get('/v1/allocations', requireRole('read-only'), async (c) => {
    const { stale, ...filter } = parseQuery(c, AllocationQuerySchema);
    await readBarrier(deps, c, stale);
    return c.json({ items: await service.listAllocations(filter) });
  });

  app.get('/v1/deployments', requireRole('read-only'), async (c) => {
    const { stale, ...filter } = parseQuery(c, DeploymentQuerySchema);
    await readBarrier(deps, c, stale);
    return c.json({ items: await service.listDeployments(filter) });
  });

  app.get('/v1/operator/raft/peers', requireRole('read-only'), async (c) => {
    parseQuery(c, ReadQuerySchema);
    return c.json({ items: await service.raftPeers() });
  });

  app.get('/v1/operator/state-digest', requireRole('read-only'), async (c) => {
    parseQuery(c, ReadQuerySchema);
    if (!service.stateDigest) {
      throw new BerthError('not_implemented', 'state digests are not available on this server');
    }
    return c.json(await service.stateDigest());
  });

  app.post('/v1/operator/raft/transfer-leadership', requireRole('admin'), async (c) => {
    const { to } = await parseJsonBody(c, TransferBody);
    await deps.hold(() => service.transferLeadership(to));
    return c.json({ transferringTo: to }, 202);
  });

  app.post('/v1/operator/raft/remove-peer', requireRole('admin'), async (c) => {
    const { id } = await parseJsonBody(c, RemovePeerBody);
    const { index } = await deps.hold(() => service.removePeer(id));
    return c.json({ index, removed: id });
  });
}
