/**
 * The agent's side of the `certificates` actor: builds the leader-side ACME host from the
 * agent's `acme` settings, and exports certificate expiry metrics from committed state on
 * every node. The host is ticked by the `acme` duty (duties.ts) on every node: on a
 * follower a tick only aborts flows left from an earlier term.
 */
import { readFileSync } from 'node:fs';
import { CertificatesHost } from '../certificates/certificates-host.ts';
import { BerthError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { MetricsRegistry } from '../metrics/registry.ts';
import type { RaftHost } from '../raft/raft-host.ts';
import type { Keyring } from '../secrets/keyring.ts';
import { listCertificates } from '../state/queries-certs.ts';
import type { AgentConfig } from './config.ts';
import type { RaftClusterService } from './raft-cluster-service.ts';
import type { StateHost } from './state-host.ts';

/** Builds the ACME host; undefined on a node without the keyring (workers never lead). */
export function createCertificatesHost(parts: {
  config: AgentConfig;
  raft: RaftHost;
  state: StateHost;
  service: RaftClusterService;
  keyring: Keyring | undefined;
  logger: Logger;
}): CertificatesHost | undefined {
  if (!parts.keyring) return undefined;
  const { acme } = parts.config;
  let caPem: string | undefined;
  if (acme.caFile !== undefined) {
    try {
      caPem = readFileSync(acme.caFile, 'utf8');
    } catch (error) {
      throw new BerthError(
        'bad_config',
        `acme.caFile ${acme.caFile} cannot be read: ${(error as Error).message}`,
      );
    }
  }
  return new CertificatesHost({
    state: { db: parts.state.db, appliedIndex: () => parts.state.appliedIndex() },
    propose: async (type, payload) => {
      await parts.service.proposeState(type, payload);
    },
    isLeader: () => parts.raft.status().role === 'leader',
    keyring: parts.keyring,
    acme: {
      directoryUrl: acme.directory,
      ...(acme.email !== undefined ? { email: acme.email } : {}),
      ...(caPem !== undefined ? { caPem } : {}),
    },
    nowMs: () => Date.now(),
    logger: parts.logger,
  });
}

/**
 * `berth_certificate_expiry_timestamp_seconds{host}` (like the blackbox exporter's
 * `probe_ssl_earliest_cert_expiry`) and `…_issued_timestamp_seconds`, read from committed
 * state at each scrape, so every node reports the cluster's certificates.
 */
export function registerCertificateMetrics(metrics: MetricsRegistry, state: StateHost): void {
  const expiry = metrics.gauge(
    'berth_certificate_expiry_timestamp_seconds',
    'When the ACME certificate of a host expires, in Unix seconds.',
    ['host'],
  );
  const issued = metrics.gauge(
    'berth_certificate_issued_timestamp_seconds',
    'When the ACME certificate of a host was issued, in Unix seconds.',
    ['host'],
  );
  metrics.onCollect(() => {
    for (const cert of listCertificates(state.db)) {
      expiry.set({ host: cert.host }, Math.floor(cert.notAfterMs / 1000));
      issued.set({ host: cert.host }, Math.floor(cert.issuedAtMs / 1000));
    }
  });
}
