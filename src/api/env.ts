/**
 * The Hono environment every API module shares: the Bun server (for WebSocket upgrades,
 * absent under `app.request()`) and the authenticated principal.
 */
import type { Server } from 'bun';
import type { TokenPrincipal } from './cluster-service.ts';

/** What `app.fetch(request, bindings)` receives from `serveApi`. */
export interface ApiBindings {
  server?: Server<unknown>;
}

export interface ApiEnv {
  Bindings: ApiBindings;
  Variables: { principal: TokenPrincipal };
}
