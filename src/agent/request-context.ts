/**
 * The caller of the API request being served, for the few service methods that must call
 * another node on the caller's behalf (reading an allocation's logs from the node that
 * runs it): they reuse the caller's own bearer token, so the owner node authenticates
 * and authorises the caller exactly as if it had been asked directly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareHandler } from 'hono';

export interface RequestContext {
  authorization: string | undefined;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function captureRequestContext(): MiddlewareHandler {
  return (c, next) => requestContext.run({ authorization: c.req.header('authorization') }, next);
}
