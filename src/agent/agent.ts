/**
 * `berth agent`: one process per node (DESIGN.md §1). It opens the node's data
 * directory and runs, in start order:
 *
 *   Raft storage (fsync'd SQLite) → mutual-TLS peer transport → Raft host (leader
 *   election, replication) → the state actor (log-backed mailbox into the state DB) →
 *   the HTTPS API (forwarding to the leader, join routes, /v1, /metrics) → duties
 *   (bootstrap, learner promotion, node liveness, snapshots; see duties.ts).
 *
 * Stop runs the reverse order. A failure of the Raft host or the state consumer is fatal
 * (let it crash): the process exits non-zero and its service manager restarts it, and the
 * restarted node resumes from disk.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'bun';
import { Hono } from 'hono';
import { defaultRaftConfig } from '../../actors/leader-election/index.ts';
import { buildRouteTable } from '../../actors/router/index.ts';
import { createApi } from '../api/app.ts';
import type { ApiEnv } from '../api/env.ts';
import { serveApi } from '../api/server.ts';
import type { CertificatesHost } from '../certificates/certificates-host.ts';
import { realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { MetricsRegistry } from '../metrics/registry.ts';
import { certificateInfo } from '../pki/index.ts';
import { RaftHost } from '../raft/raft-host.ts';
import { SqliteRaftStorage } from '../raft/sqlite-storage.ts';
import { Router, routeTableInputFromState } from '../router/index.ts';
import { fallbackCertificate } from '../router/tls-self-signed.ts';
import { ActorSystem } from '../runtime/index.ts';
import { type Keyring, keyringFileName, readKeyring } from '../secrets/keyring.ts';
import * as q from '../state/queries.ts';
import { withTestFaults } from '../transport/fault-injection.ts';
import { TlsTransport } from '../transport/tls-transport.ts';
import { createCertificatesHost, registerCertificateMetrics } from './acme-duty.ts';
import type { AgentConfig } from './config.ts';
import {
  type DataPaths,
  dataPaths,
  type NodeIdentity,
  readIdentity,
  readTls,
  type TlsFiles,
} from './data-dir.ts';
import { Duties } from './duties.ts';
import { forwardToLeader } from './forward.ts';
import { joinRoutes } from './join-routes.ts';
import { ObservedTransport } from './observed-transport.ts';
import { readSeedPeers } from './peers-file.ts';
import { RaftClusterService } from './raft-cluster-service.ts';
import { captureRequestContext } from './request-context.ts';
import { rotateIfDue } from './rotation.ts';
import { acmeChallengeLookup, leaderTlsKeysFetcher, RouterTls } from './router-tls.ts';
import { Scheduling } from './scheduling.ts';
import { StateHost } from './state-host.ts';
import { Supervision } from './supervision.ts';
import { tlsKeysRoutes } from './tls-keys.ts';

/** Splits `host:port` (IPv6 in brackets) into its parts. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new BerthError('bad_address', `"${address}" is not host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

function listenFailed(what: string, host: string, port: number, error: unknown): BerthError {
  return new BerthError(
    'listen_failed',
    `cannot listen for the ${what} on ${host}:${port} (${(error as Error).message}); is another agent using it? Pick another port.`,
  );
}

export class Agent {
  readonly identity: NodeIdentity;
  readonly config: AgentConfig;
  readonly raft: RaftHost;
  readonly state: StateHost;
  readonly service: RaftClusterService;
  readonly #logger: Logger;
  readonly #storage: SqliteRaftStorage;
  readonly #transport: TlsTransport;
  #server: Server<unknown>;
  readonly #app: Hono<ApiEnv>;
  readonly #paths: DataPaths;
  readonly #duties: Duties;
  #peerSignature = '';
  #supervision: Supervision | undefined;
  #system: ActorSystem | undefined;
  #router: Router | undefined;
  #routerTls: RouterTls | undefined;
  #acme: CertificatesHost | undefined;
  #stopped = false;

  private constructor(parts: {
    identity: NodeIdentity;
    config: AgentConfig;
    logger: Logger;
    storage: SqliteRaftStorage;
    transport: TlsTransport;
    raft: RaftHost;
    state: StateHost;
    service: RaftClusterService;
    server: Server<unknown>;
    app: Hono<ApiEnv>;
    paths: DataPaths;
    duties: Duties;
  }) {
    this.identity = parts.identity;
    this.config = parts.config;
    this.#logger = parts.logger;
    this.#storage = parts.storage;
    this.#transport = parts.transport;
    this.raft = parts.raft;
    this.state = parts.state;
    this.service = parts.service;
    this.#server = parts.server;
    this.#app = parts.app;
    this.#paths = parts.paths;
    this.#duties = parts.duties;
  }

  /** The API's base URL (`https://host:port`). */
  get apiUrl(): string {
    return `https://${this.config.advertiseAddress ?? this.config.bindAddress}:${this.#server.port}`;
  }

  /** Opens the data directory and starts every part; see the file comment for the order. */
  static async start(
    config: AgentConfig,
    options: { onFatal?: (error: unknown) => void } = {},
  ): Promise<Agent> {
    const paths = dataPaths(config.dataDir);
    const identity = readIdentity(paths);
    const tls = readTls(paths);
    const logger = createLogger({ level: config.logLevel, fields: { node: identity.nodeId } });
    const keyringPath = join(config.dataDir, keyringFileName);
    const keyring: Keyring | undefined = existsSync(keyringPath)
      ? readKeyring(keyringPath)
      : undefined;
    const onFatal =
      options.onFatal ??
      ((error: unknown) => {
        logger.error('fatal', { error: String(error) });
        process.exit(70);
      });

    const storage = SqliteRaftStorage.open(paths.raftDb);
    let transport: TlsTransport;
    try {
      transport = TlsTransport.listen({
        nodeId: identity.nodeId,
        clusterName: identity.clusterName,
        credentials: { certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem },
        listen: { hostname: config.bindAddress, port: config.peerPort },
        peers: readSeedPeers(paths)
          .filter((p) => p.id !== identity.nodeId)
          .map((p) => [p.id, parseHostPort(p.address)]),
        logger,
      });
    } catch (error) {
      storage.close();
      throw listenFailed('peer', config.bindAddress, config.peerPort, error);
    }
    // withTestFaults is the identity unless the TEST-ONLY flag BERTH_TEST_FAULTS_FILE is set.
    const observed = new ObservedTransport(
      withTestFaults(transport, { dataDir: config.dataDir, logger }),
    );
    let state: StateHost | undefined;
    const raft = new RaftHost({
      config: defaultRaftConfig(identity.nodeId, { multiplier: config.raftMultiplier }),
      storage,
      transport: observed,
      tickMs: config.raftTickMs,
      restoreSnapshot: (snap) => state?.restore(snap),
      logger,
    });
    state = new StateHost({ path: paths.stateDb, log: raft, logger, onFailure: onFatal });
    state.start();
    raft.start();

    const service = new RaftClusterService({ raft, state, keyring });
    const metrics = new MetricsRegistry();
    registerCertificateMetrics(metrics, state);
    const acme = createCertificatesHost({ config, raft, state, service, keyring, logger });
    const app = buildApp({ identity, config, tls, raft, state, service, keyring, logger, metrics });
    let server: Server<unknown>;
    try {
      server = listenApi(app, config, tls.certPem, tls.keyPem, config.apiPort);
    } catch (error) {
      await raft.close();
      state.close();
      storage.close();
      throw listenFailed('API', config.bindAddress, config.apiPort, error);
    }
    let agent: Agent | undefined;
    const duties = new Duties({
      identity,
      config,
      paths,
      raft,
      state,
      storage,
      service,
      observed,
      logger,
      metrics,
      rotate: () => agent?.rotateCertificate() ?? Promise.resolve(false),
      scheduling: new Scheduling({ raft, state, service, logger }),
      acme,
    });
    agent = new Agent({
      identity,
      config,
      logger,
      storage,
      transport,
      raft,
      state,
      service,
      server,
      app,
      paths,
      duties,
    });
    const started = agent;
    started.#acme = acme;
    try {
      started.#supervision = await Supervision.start({
        nodeId: identity.nodeId,
        dataDir: config.dataDir,
        hostAddress: config.advertiseAddress ?? config.bindAddress,
        raft,
        state,
        service,
        keyring,
        logger,
        apiUrl: started.apiUrl,
        // The CA's fingerprint, shortened: unique per cluster, unlike names or node ids.
        clusterId: certificateInfo(tls.caPem)
          .fingerprintSha256.replace(/:/g, '')
          .slice(0, 16)
          .toLowerCase(),
      });
    } catch (error) {
      await started.stop();
      throw error;
    }
    if (config.httpPort !== 0) {
      try {
        const routing = await startRouter({
          config,
          state,
          metrics,
          logger,
          keyring,
          paths,
          apiUrl: started.apiUrl,
        });
        started.#router = routing.router;
        started.#routerTls = routing.tls;
      } catch (error) {
        await started.stop();
        throw listenFailed('router', config.bindAddress, config.httpPort, error);
      }
    }
    const supervision = started.#supervision;
    service.attachLogs((allocId, query) => supervision.host.logs(allocId, query), tls.caPem);
    started.#syncPeers();
    state.onApplied(() => started.#syncPeers());
    // The node's actor system: periodic duties run as supervised actors; past the root's
    // restart intensity the agent stops and exits (let it crash; systemd restarts it).
    const system = new ActorSystem({ clock: realClock, logger, onEscalate: onFatal });
    started.#system = system;
    duties.start(system, system.spawnSupervisor({ name: 'node' }));
    logger.info('agent started', { api: started.apiUrl, peerPort: transport.port });
    return started;
  }

  /** Stops every part in reverse start order. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#duties.stop();
    await this.#system?.shutdown();
    await this.#acme?.stop();
    // Tasks keep running: the next agent adopts them by their labels (DESIGN.md §5).
    await this.#supervision?.close();
    this.#routerTls?.stop();
    await this.#router?.stop({ force: true });
    this.#server.stop(true);
    await this.raft.close();
    this.state.close();
    this.#storage.close();
    this.#logger.info('agent stopped');
  }

  /**
   * Renews this node's certificate when a third of its life is left (rotation.ts), then
   * hands the new credentials to the peer transport (new connections use them; live ones
   * stay up) and restarts the API listener on the same port (Bun cannot swap a listening
   * server's certificate; `stop()` lets in-flight requests finish). Returns true when it
   * rotated.
   */
  async rotateCertificate(nowMs: number = Date.now()): Promise<boolean> {
    const tls = readTls(this.#paths);
    const creds = await rotateIfDue(
      this.#paths,
      async (req) => {
        const res = await fetch(`${this.apiUrl}/v1/cluster/renew`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(req),
          tls: { ca: tls.caPem },
        } as RequestInit);
        const body = (await res.json()) as {
          certPem?: string;
          error?: { code: string; message: string };
        };
        if (!res.ok || !body.certPem) {
          throw new BerthError(
            body.error?.code ?? 'renewal_failed',
            body.error?.message ?? `HTTP ${res.status}`,
          );
        }
        return { certPem: body.certPem };
      },
      nowMs,
    );
    if (!creds || this.#stopped) return false;
    this.#transport.rotateCredentials(creds);
    const port = this.#server.port as number;
    this.#server.stop();
    this.#server = listenApi(this.#app, this.config, creds.certPem, creds.keyPem, port);
    this.#logger.info('node certificate rotated');
    return true;
  }

  /** Points the transport at every registered node (addresses come from the log). */
  #syncPeers(): void {
    const nodes = q.listNodes(this.state.db).filter((n) => Number(n.id) !== this.identity.nodeId);
    const signature = nodes.map((n) => `${n.id}@${n.address}`).join(',');
    if (signature === this.#peerSignature) return;
    this.#peerSignature = signature;
    for (const n of nodes) this.#transport.setPeer(Number(n.id), parseHostPort(n.address));
  }
}

interface AppParts {
  identity: NodeIdentity;
  config: AgentConfig;
  tls: TlsFiles;
  raft: RaftHost;
  state: StateHost;
  service: RaftClusterService;
  keyring: Keyring | undefined;
  logger: Logger;
  metrics: MetricsRegistry;
}

function listenApi(
  app: Hono<ApiEnv>,
  config: AgentConfig,
  certPem: string,
  keyPem: string,
  port: number,
): Server<unknown> {
  return serveApi(app, {
    hostname: config.bindAddress,
    port,
    tls: { cert: certPem, key: keyPem },
  }) as unknown as Server<unknown>;
}

/**
 * The node's router: its table is rebuilt from committed state after every applied batch
 * (routes only ever come from the log, plus the router's own passive health), so with no
 * leader it keeps serving the last table it built. Its TLS side (router-tls.ts) follows
 * the same batches: certificates to serve, and HTTP-01 answers from the challenge table.
 */
async function startRouter(p: {
  config: AgentConfig;
  state: StateHost;
  metrics: MetricsRegistry;
  logger: Logger;
  keyring: Keyring | undefined;
  paths: DataPaths;
  apiUrl: string;
}): Promise<{ router: Router; tls: RouterTls | undefined }> {
  const { config, state, logger } = p;
  const https = config.httpsPort !== 0;
  // Generated per start and kept in memory: it names no host, it only stands in for one.
  const tlsFallback = https ? await fallbackCertificate() : undefined;
  const router = new Router({
    listen: { hostname: config.bindAddress, port: config.httpPort },
    listenTls: https ? { hostname: config.bindAddress, port: config.httpsPort } : undefined,
    tlsFallback,
    acmeChallenge: acmeChallengeLookup(state),
    logger,
    metrics: p.metrics,
  });
  router.start();
  const tls = https
    ? new RouterTls({
        router,
        state,
        keyring: p.keyring,
        fetchFromLeader: leaderTlsKeysFetcher(p.apiUrl, () => readTls(p.paths)),
        logger,
      })
    : undefined;
  let signature = '';
  const refresh = () => {
    const table = buildRouteTable(routeTableInputFromState(state.db));
    const next = JSON.stringify(table.routes);
    if (next !== signature) {
      signature = next;
      router.setTable(table);
      for (const problem of table.problems) logger.warn('route problem', { ...problem });
    }
    tls?.refresh();
  };
  refresh();
  state.onApplied(refresh);
  return { router, tls };
}

/** Forwarding first, then the public join routes, then the authenticated API. */
function buildApp(p: AppParts): Hono<ApiEnv> {
  const api = createApi({
    service: p.service,
    logger: p.logger,
    metrics: p.metrics,
    limits: { leaderHoldMs: p.config.writeHoldMs },
  });
  const outer = new Hono<ApiEnv>();
  outer.use(captureRequestContext());
  outer.use(
    forwardToLeader({
      selfId: p.identity.nodeId,
      leaderId: () => p.raft.status().leaderId,
      apiUrlOf: (id) => {
        const node = q.getNode(p.state.db, String(id));
        return node ? `https://${node.apiAddress}` : undefined;
      },
      caPem: p.tls.caPem,
      holdMs: p.config.writeHoldMs,
    }),
  );
  outer.route(
    '/',
    joinRoutes({
      clusterName: p.identity.clusterName,
      ca: {
        certPem: p.tls.caPem,
        keyPem: p.tls.caKeyPem,
        fingerprint: certificateInfo(p.tls.caPem).fingerprintSha256,
      },
      raft: p.raft,
      state: p.state,
      service: p.service,
      keyring: p.keyring,
      logger: p.logger,
    }),
  );
  outer.route(
    '/',
    tlsKeysRoutes({
      clusterName: p.identity.clusterName,
      caPem: p.tls.caPem,
      state: p.state,
      keyring: p.keyring,
      isLeader: () => p.raft.status().role === 'leader',
      logger: p.logger,
    }),
  );
  outer.all('*', (c) => api.fetch(c.req.raw, c.env));
  return outer;
}
