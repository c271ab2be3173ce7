/**
 * Reads the route-table input from a node's committed state, so wiring the router into
 * the agent is: after each applied batch that touched jobs, allocations or nodes,
 * `router.setTable(buildRouteTable(routeTableInputFromState(db)))`.
 */
import { z } from 'zod';
import type { RouteInputJob, RouteTableInput } from '../../actors/router/index.ts';
import { hostFromAddress } from '../../actors/router/index.ts';
import { listAllocations, listJobs, listNodes, type StateReader } from '../state/queries.ts';

/** The part of a stored (normalised) job spec the router reads; parsed, since it comes from disk. */
const StoredRoutes = z.array(
  z.object({
    hosts: z.array(z.string()),
    paths: z.array(z.string()),
    port: z.string(),
    tls: z.boolean(),
    /** Absent in specs stored before the field existed; the table reads that as true. */
    redirectHttp: z.boolean().optional(),
  }),
);

export interface FromStateOptions {
  /**
   * Job name → maintenance message: an override on top of the replicated maintenance state
   * (job_maintenance), e.g. for a node-local emergency switch. A job named here answers
   * with this message even when the committed state has it out of maintenance.
   */
  maintenance?: ReadonlyMap<string, string>;
  /** Called for a running job whose stored routes do not parse (it gets no routes). */
  onBadJob?: (job: string, reason: string) => void;
}

/**
 * Running jobs with their routes and maintenance state, healthy desired-run allocations,
 * and nodes by host.
 */
export function routeTableInputFromState(
  db: StateReader,
  options: FromStateOptions = {},
): RouteTableInput {
  const jobs: RouteInputJob[] = [];
  for (const job of listJobs(db)) {
    if (job.status !== 'running') continue;
    const parsed = StoredRoutes.safeParse(job.spec.routes ?? []);
    if (!parsed.success) options.onBadJob?.(job.id, parsed.error.message);
    const message = options.maintenance?.get(job.id) ?? job.maintenanceMessage ?? undefined;
    jobs.push({
      name: job.id,
      routes: parsed.success ? parsed.data : [],
      maintenance: message === undefined ? undefined : { message },
    });
  }
  const allocations = listAllocations(db, { desiredStatus: 'run', clientStatus: ['healthy'] });
  const nodes = listNodes(db).map((node) => ({
    id: node.id,
    host: hostFromAddress(node.address),
    status: node.status,
  }));
  return { jobs, allocations, nodes };
}
