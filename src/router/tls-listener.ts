/**
 * The router's HTTPS listener and how its certificates change without dropping traffic.
 *
 * Bun 1.4.5 cannot swap the certificates of a listening server: `server.reload({ tls })`
 * keeps the old ones (checked: new connections still get the old serial). So a change of
 * certificates opens a second Bun.serve on the same port with `reusePort: true` (every
 * instance sets it, so the kernel lets them share the port), and then stops the old one
 * with `stop(false)`: it stops accepting at once, requests in flight finish (a streaming
 * response runs to its end), open WebSockets stay up, and Bun closes its idle keep-alive
 * connections, which HTTP clients reopen (to the new listener) as they do after any idle
 * close. Connections waiting in the old listener's accept queue would be reset by the
 * kernel when it closes; accept-queue-migration.ts turns on `net.ipv4.tcp_migrate_req`,
 * which hands them to the new listener instead.
 *
 * `reusePort` would also let a second agent bind the same port silently, so before the
 * first bind on a fixed port the listener probes it with a plain bind, which fails if
 * anything listens there.
 *
 * The listener binds when the first certificate arrives and closes when the last one goes:
 * a node (or a test cluster) without TLS routes never needs the HTTPS port, and an empty
 * `tls` array would make Bun serve plain HTTP on it, which must never happen. The fallback
 * certificate, when given, is what a client whose SNI names none of our hosts is shown,
 * instead of Bun's default (the first entry: some other site's certificate).
 */
import type { Server, TLSOptions } from 'bun';
import { assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { ensureAcceptQueueMigration } from './accept-queue-migration.ts';
import { emptySniSet, type SniSet } from './tls-certificates.ts';

export interface TlsListenerOptions<T> {
  hostname: string;
  /** 0 picks a free port at the first bind (tests); replacements reuse the bound port. */
  port: number;
  /** Presented when SNI names no served host (or there is no SNI). */
  fallback?: { certPem: string; keyPem: string } | undefined;
  /** Opens one Bun.serve on `listen` with `reusePort: true` and these certificates. */
  open: (listen: { hostname: string; port: number }, tls: TLSOptions[]) => Server<T>;
  logger: Logger;
  /** Replaced listeners left draining at once; default `limits.routerTlsDrainingListenersMax`. */
  drainingMax?: number;
}

/** What `serve` did. */
export type TlsServeOutcome = 'unchanged' | 'started' | 'replaced' | 'closed';

export class TlsListener<T> {
  readonly #options: TlsListenerOptions<T>;
  readonly #drainingMax: number;
  #current: Server<T> | undefined;
  /** Oldest first. */
  readonly #draining: Server<T>[] = [];
  #served: SniSet = emptySniSet();
  #stopped = false;

  constructor(options: TlsListenerOptions<T>) {
    this.#options = options;
    this.#drainingMax = options.drainingMax ?? limits.routerTlsDrainingListenersMax;
    assert(this.#drainingMax >= 1, 'at least one replaced listener must be allowed to drain');
  }

  /**
   * Serves `set` to new connections from now on; open connections keep the certificate
   * they were made with. Throws `listen_failed` when a needed bind fails; the previous
   * certificates are then still served (or, at the first bind, none).
   */
  serve(set: SniSet): TlsServeOutcome {
    if (this.#stopped || set.signature === this.#served.signature) return 'unchanged';
    if (set.entries.length === 0) {
      this.#served = set;
      if (!this.#current) return 'unchanged';
      this.#drain(this.#current);
      this.#current = undefined;
      return 'closed';
    }
    const tls = this.#tlsFor(set);
    if (!this.#current) {
      this.#current = this.#bindFirst(tls);
      this.#served = set;
      return 'started';
    }
    const old = this.#current;
    this.#current = this.#bind(old.port as number, tls);
    this.#served = set;
    this.#drain(old);
    this.#options.logger.info('https certificates replaced', { hosts: set.entries.length });
    return 'replaced';
  }

  /** The certificates new connections get (empty while not listening). */
  get served(): SniSet {
    return this.#current ? this.#served : emptySniSet();
  }

  /** The bound port, or undefined while not listening. */
  get port(): number | undefined {
    return this.#current?.port;
  }

  /** Replaced listeners still finishing their connections. */
  get drainingCount(): number {
    return this.#draining.length;
  }

  /** Stops the current and every draining listener; `force` cuts their connections. */
  async stop(force: boolean): Promise<void> {
    this.#stopped = true;
    const servers = [...this.#draining.splice(0), ...(this.#current ? [this.#current] : [])];
    this.#current = undefined;
    await Promise.all(servers.map((s) => s.stop(force)));
  }

  #tlsFor(set: SniSet): TLSOptions[] {
    const { fallback } = this.#options;
    const entries: TLSOptions[] = set.entries.map((e) => ({ ...e }));
    // Bun presents the first entry when SNI matches none, so the fallback goes first.
    if (fallback) entries.unshift({ cert: fallback.certPem, key: fallback.keyPem });
    return entries;
  }

  /** The first bind on a port we do not hold yet: probe it without reusePort first. */
  #bindFirst(tls: TLSOptions[]): Server<T> {
    const { hostname, port } = this.#options;
    ensureAcceptQueueMigration(this.#options.logger);
    if (port !== 0) {
      try {
        const probe = Bun.serve({
          hostname,
          port,
          fetch: () => new Response(null, { status: 503 }),
        });
        probe.stop(true);
      } catch (error) {
        throw listenFailed(hostname, port, error);
      }
    }
    return this.#bind(port, tls);
  }

  #bind(port: number, tls: TLSOptions[]): Server<T> {
    const { hostname } = this.#options;
    try {
      return this.#options.open({ hostname, port }, tls);
    } catch (error) {
      throw listenFailed(hostname, port, error);
    }
  }

  #drain(server: Server<T>): void {
    this.#draining.push(server);
    void server.stop(false).then(() => {
      const at = this.#draining.indexOf(server);
      if (at >= 0) this.#draining.splice(at, 1);
    });
    // Many changes in a row while long streams stay open: cut the oldest rather than
    // keep an unbounded number of old listeners (and their certificates) alive.
    while (this.#draining.length > this.#drainingMax) {
      const oldest = this.#draining.shift()!;
      this.#options.logger.warn('draining https listener cut', { limit: this.#drainingMax });
      void oldest.stop(true);
    }
  }
}

function listenFailed(hostname: string, port: number, error: unknown): BerthError {
  return new BerthError(
    'listen_failed',
    `cannot listen for HTTPS on ${hostname}:${port} (${(error as Error).message}); is another agent or web server using it? Pick another port (httpsPort).`,
  );
}
