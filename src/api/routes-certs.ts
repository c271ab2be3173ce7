/**
 * `/v1/certificates`: every TLS host with its certificate's state (read-only tokens), and
 * a forced renewal (deploy tokens), like `certbot renew --force-renewal` for one host.
 */
import type { Hono } from 'hono';
import { BerthError } from '../core/errors.ts';
import { requireRole } from './auth.ts';
import { parseQuery, ReadQuerySchema } from './body.ts';
import { type ApiDeps, readBarrier } from './deps.ts';
import type { ApiEnv } from './env.ts';

/** RFC 1123 host names, lowercase, as routes store them. */
const hostPattern =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function notAvailable(): BerthError {
  return new BerthError('not_implemented', 'certificates are not available on this server');
}

export function registerCertificateRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  app.get('/v1/certificates', requireRole('read-only'), async (c) => {
    const query = parseQuery(c, ReadQuerySchema);
    if (!service.listCertificates) throw notAvailable();
    await readBarrier(deps, c, query.stale);
    return c.json({ items: await service.listCertificates() });
  });

  app.post('/v1/certificates/:host/renew', requireRole('deploy'), async (c) => {
    const host = c.req.param('host');
    if (!hostPattern.test(host)) {
      const message = 'a lowercase host name (RFC 1123), e.g. shop.example.com';
      throw new BerthError('invalid_body', `invalid host name: ${message}`, {
        issues: [{ path: 'host', message }],
      });
    }
    if (!service.renewCertificate) throw notAvailable();
    await readBarrier(deps, c, false);
    const { index } = await deps.hold(() => service.renewCertificate!(host));
    return c.json({ index, host });
  });
}
