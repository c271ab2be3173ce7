/**
 * Route tables for router tests: jobs on one node at 127.0.0.1, job `name` routing host
 * `name.test` (every path) to the `http` port of its allocations.
 */
import { buildRouteTable, type RouteTable } from '../../actors/router/index.ts';

export interface LocalAllocation {
  id: string;
  job: string;
  port: number;
}

/** The table for `allocations`, all healthy; jobs in order of first appearance. */
export function localRouteTable(allocations: readonly LocalAllocation[]): RouteTable {
  const jobNames = [...new Set(allocations.map((allocation) => allocation.job))];
  return buildRouteTable({
    jobs: jobNames.map((name) => ({
      name,
      routes: [{ hosts: [`${name}.test`], paths: [], port: 'http', tls: false }],
    })),
    allocations: allocations.map(({ id, job, port }) => ({
      id,
      jobId: job,
      jobVersion: 1,
      nodeId: 'n1',
      ports: { http: port },
      clientStatus: 'healthy',
      desiredStatus: 'run',
    })),
    nodes: [{ id: 'n1', host: '127.0.0.1', status: 'up' }],
  });
}
