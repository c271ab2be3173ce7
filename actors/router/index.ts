/**
 * The public surface of the `router` actor's pure logic: the route table built from
 * committed jobs, allocations and nodes, and request matching. The proxy engine that
 * serves from it is `src/router/`.
 */
export {
  buildRouteTable,
  emptyRouteTable,
  hostFromAddress,
  normalizeHost,
  normalizePrefix,
  upstreamUrl,
} from './build-table.ts';
export { decideRoute, matchRoute, prefixMatches } from './match.ts';
export type {
  RouteDecision,
  RouteEntry,
  RouteInputAllocation,
  RouteInputJob,
  RouteInputNode,
  RouteSpec,
  RouteTable,
  RouteTableInput,
  RouteTableProblem,
  Upstream,
} from './types.ts';
