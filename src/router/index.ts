/**
 * The router's proxy engine (DESIGN.md §1, §4): `Router` serves HTTP and WebSocket traffic
 * from a route table built by `buildRouteTable` (actors/router).
 */
export type { Balancing, RouterLimits } from './config.ts';
export { defaultRouterLimits, resolveRouterLimits } from './config.ts';
export type { RouterErrorCode } from './error-response.ts';
export { routerErrorStatus } from './error-response.ts';
export type { FromStateOptions } from './from-state.ts';
export { routeTableInputFromState } from './from-state.ts';
export type { RouterOptions } from './router.ts';
export { Router } from './router.ts';
