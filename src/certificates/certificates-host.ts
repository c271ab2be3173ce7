/**
 * The `certificates` actor's shell on the leader (DESIGN.md §1): each `tick()` reads the
 * committed state, asks the pure planner (actors/certificates/) what to do per TLS host,
 * and runs ACME flows (acme-flow.ts) for the hosts that need one. Everything a flow
 * learns is proposed through Raft before the next step depends on it — the order's URL
 * and sealed key, each HTTP-01 answer, the certificate, a failure with its backoff — so
 * a leader that dies mid-order leaves enough in the log for the next one to resume the
 * same order rather than place another.
 *
 * A tick is synchronous and cheap: when nothing was applied since the last plan and no
 * backoff or renewal instant has passed, it returns without reading the database.
 */
import {
  assertSettings,
  backoffMs,
  type CertificateAction,
  type CertificateSettings,
  defaultCertificateSettings,
  planCertificates,
  startsFlow,
} from '../../actors/certificates/index.ts';
import type { StateCommandType } from '../../actors/state/commands.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { certificateInfo } from '../pki/index.ts';
import { activeKey, type Keyring } from '../secrets/keyring.ts';
import { openSecretText, type SealedSecret, sealSecret } from '../secrets/vault.ts';
import { getSealedSecret, type StateReader } from '../state/queries.ts';
import {
  type CertOrderRow,
  certificateKeySecretName,
  getCertOrder,
  listCertificates,
  listCertOrders,
  listTlsHosts,
} from '../state/queries-certs.ts';
import {
  type AcmeFlowCallbacks,
  type AcmeFlowTiming,
  generateAcmeKeyPem,
  resolveDirectoryUrl,
  runAcmeFlow,
} from './acme-flow.ts';

/** The secret holding the cluster's ACME account key (PKCS#8 PEM), created on first use. */
export const acmeAccountKeySecretName = 'berth.acme.account-key';

/** Codes of a flow stopped on purpose: nothing is recorded, the next leader resumes. */
const stoppedCodes = new Set(['acme_not_leader', 'acme_aborted']);

export interface CertificatesHostOptions {
  /** The node's state database; `appliedIndex` lets an idle tick skip all reads. */
  state: { db: StateReader; appliedIndex?: () => number };
  /** Proposes one state command; resolves once it is committed and applied here. */
  propose(type: StateCommandType, payload: Record<string, unknown>): Promise<void>;
  isLeader(): boolean;
  /** Seals certificate keys and the account key; opens them to resume or order. */
  keyring: Keyring;
  acme: {
    /** `production` | `staging` (Let's Encrypt) or a directory URL. */
    directoryUrl: string;
    email?: string;
    /** A CA to trust for the ACME API (Pebble in tests, a private ACME server). */
    caPem?: string;
  };
  /** Wall-clock ms, the time stamped into entries and compared with backoffs. */
  nowMs(): number;
  logger: Logger;
  /** Overrides of the planner's settings (defaults from src/core/limits.ts). */
  limits?: Partial<CertificateSettings>;
  /** Overrides of each flow's waits (tests set the challenge settle time to 0). */
  timing?: Partial<AcmeFlowTiming>;
}

interface RunningFlow {
  controller: AbortController;
  done: Promise<void>;
}

/** What one tick did, for logs and tests. */
export interface TickReport {
  /** Hosts whose flow this tick started, with the action that started it. */
  started: CertificateAction[];
  /** True when the tick returned without planning (nothing changed). */
  skipped: boolean;
}

/** Leader-side ACME ordering; one instance per node, ticked while the node leads. */
export class CertificatesHost {
  readonly #options: CertificatesHostOptions;
  readonly #settings: CertificateSettings;
  readonly #directoryUrl: string;
  readonly #logger: Logger;
  readonly #running = new Map<string, RunningFlow>();
  #dirty = true;
  #plannedIndex = -1;
  #nextWakeAtMs: number | null = null;
  #accountKeyProposal: Promise<void> | null = null;
  #accountKey: { ciphertext: string; pem: string } | null = null;
  #accountKeyUnopened: string | null = null;
  #stopped = false;

  /** Throws `acme_directory_invalid` when the directory is neither a name nor a URL. */
  constructor(options: CertificatesHostOptions) {
    this.#options = options;
    this.#settings = { ...defaultCertificateSettings, ...options.limits };
    assertSettings(this.#settings);
    this.#directoryUrl = resolveDirectoryUrl(options.acme.directoryUrl);
    this.#logger = options.logger.child({ actor: 'certificates' });
  }

  /** Hosts whose flow is running now. */
  running(): string[] {
    return [...this.#running.keys()].sort();
  }

  /** Resolves once every flow running now has ended (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#running.values()].map((f) => f.done));
  }

  /** Aborts every flow and ticks no more; resolves once they have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abortAll();
    await this.settled();
  }

  /**
   * One round: on a follower, abort flows still running from an earlier term; on the
   * leader, plan and start flows (at most ordersInFlightMax, never two for one host).
   */
  tick(): TickReport {
    const idle: TickReport = { started: [], skipped: true };
    if (this.#stopped) return idle;
    if (!this.#options.isLeader()) {
      this.#abortAll();
      this.#dirty = true;
      return idle;
    }
    const nowMs = this.#options.nowMs();
    if (!this.#planNeeded(nowMs)) return idle;
    this.#dirty = false;
    this.#plannedIndex = this.#options.state.appliedIndex?.() ?? -1;
    const db = this.#options.state.db;
    const orders = listCertOrders(db);
    const plan = planCertificates({
      tlsHosts: listTlsHosts(db),
      certificates: listCertificates(db),
      orders,
      inFlight: new Set(this.#running.keys()),
      nowMs,
      settings: this.#settings,
    });
    this.#nextWakeAtMs = plan.nextWakeAtMs;
    const starts = plan.actions.filter(startsFlow);
    if (starts.length === 0) return { started: [], skipped: false };
    const accountKeyPem = this.#accountKeyPem();
    if (accountKeyPem === null) {
      // Being created (plan again once it is committed), or unusable (logged once).
      this.#dirty = true;
      return { started: [], skipped: false };
    }
    const byHost = new Map(orders.map((o) => [o.host, o]));
    for (const action of starts) this.#start(action, accountKeyPem, byHost.get(action.host));
    return { started: starts, skipped: false };
  }

  #planNeeded(nowMs: number): boolean {
    if (this.#dirty) return true;
    const appliedIndex = this.#options.state.appliedIndex;
    if (!appliedIndex || appliedIndex() !== this.#plannedIndex) return true;
    return this.#nextWakeAtMs !== null && nowMs >= this.#nextWakeAtMs;
  }

  /**
   * The account key in PEM, or null while it is being created. The first leader to need
   * one generates it and proposes it as an ordinary sealed secret, so every later leader
   * orders under the same ACME account.
   */
  #accountKeyPem(): string | null {
    const sealed = getSealedSecret(this.#options.state.db, acmeAccountKeySecretName);
    if (sealed) {
      if (this.#accountKey?.ciphertext === sealed.ciphertext) return this.#accountKey.pem;
      try {
        const pem = openSecretText(this.#options.keyring, acmeAccountKeySecretName, sealed);
        this.#accountKey = { ciphertext: sealed.ciphertext, pem };
        return pem;
      } catch (error) {
        // A keyring without the key that sealed it (a restore gone wrong): no order can
        // be placed, and replacing the account would orphan committed orders. Say so once.
        if (this.#accountKeyUnopened !== sealed.ciphertext) {
          this.#accountKeyUnopened = sealed.ciphertext;
          this.#logger.error('acme account key cannot be opened; no certificate is ordered', {
            code: error instanceof BerthError ? error.code : 'secret_open_failed',
          });
        }
        return null;
      }
    }
    if (this.#accountKeyProposal === null) {
      const box = sealSecret(
        activeKey(this.#options.keyring),
        acmeAccountKeySecretName,
        generateAcmeKeyPem(),
      );
      this.#accountKeyProposal = this.#options
        .propose('secret_set', {
          name: acmeAccountKeySecretName,
          ...box,
          atMs: this.#options.nowMs(),
        })
        .then(() => this.#logger.info('acme account key created'))
        .catch((error: unknown) =>
          this.#logger.warn('acme account key not stored', { error: String(error) }),
        )
        .finally(() => {
          this.#accountKeyProposal = null;
          this.#dirty = true;
        });
    }
    return null;
  }

  #start(action: CertificateAction, accountKeyPem: string, order: CertOrderRow | undefined): void {
    const { host } = action;
    const controller = new AbortController();
    const run = async () => {
      const resume = action.kind === 'resume' ? this.#resumeOf(host, order) : undefined;
      await runAcmeFlow({
        host,
        directoryUrl: this.#directoryUrl,
        accountKeyPem,
        email: this.#options.acme.email,
        caPem: this.#options.acme.caPem,
        callbacks: this.#callbacks(host, controller.signal),
        resume,
        signal: controller.signal,
        timing: this.#options.timing,
        logger: this.#options.logger,
      });
    };
    this.#logger.info('certificate flow started', { host, action: action.kind });
    const done = run()
      .catch((error: unknown) => this.#recordFailure(host, error))
      .finally(() => {
        this.#running.delete(host);
        this.#dirty = true;
      });
    this.#running.set(host, { controller, done });
  }

  /** The committed order to continue; a key that no longer opens fails the order. */
  #resumeOf(host: string, order: CertOrderRow | undefined): { orderUrl: string; keyPem: string } {
    if (!order?.orderUrl || !order.key) {
      throw new BerthError('acme_order_invalid', `no committed order to resume for ${host}`);
    }
    const keyPem = openSecretText(this.#options.keyring, certificateKeySecretName(host), order.key);
    return { orderUrl: order.orderUrl, keyPem };
  }

  #callbacks(host: string, signal: AbortSignal): AcmeFlowCallbacks {
    const propose = this.#options.propose;
    const atMs = () => this.#options.nowMs();
    return {
      orderStarted: (orderUrl, keyPem) => {
        const key = this.#sealKey(host, keyPem);
        return propose('cert_order_started', { host, orderUrl, ...key, atMs: atMs() });
      },
      challengeReady: (token, keyAuthorization) =>
        propose('acme_challenge_set', { token, keyAuthorization, host, atMs: atMs() }),
      issued: (certPem, keyPem) => {
        const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certPem);
        const info = certificateInfo(leaf?.[0] ?? certPem);
        return propose('certificate_issued', {
          host,
          certPem,
          ...this.#sealKey(host, keyPem),
          issuer: info.issuer.slice(0, limits.stateDetailLengthMax),
          serial: info.serialNumber,
          notBeforeMs: info.notBeforeMs,
          notAfterMs: info.notAfterMs,
          atMs: atMs(),
        });
      },
      isLeader: () => !this.#stopped && !signal.aborted && this.#options.isLeader(),
    };
  }

  #sealKey(host: string, keyPem: string) {
    const sealed: SealedSecret = sealSecret(
      activeKey(this.#options.keyring),
      certificateKeySecretName(host),
      keyPem,
    );
    return { keyCiphertext: sealed.ciphertext, keyNonce: sealed.nonce, keyId: sealed.keyId };
  }

  /**
   * Records a failed order with its backoff, unless the flow was stopped on purpose or
   * this node no longer leads (then the order stays committed for the next leader).
   */
  async #recordFailure(host: string, error: unknown): Promise<void> {
    const code = error instanceof BerthError ? error.code : 'acme_failed';
    const message = error instanceof Error ? error.message : String(error);
    if (stoppedCodes.has(code) || this.#stopped || !this.#options.isLeader()) {
      this.#logger.info('certificate flow stopped', { host, code });
      return;
    }
    const attempts = (getCertOrder(this.#options.state.db, host)?.attempts ?? 0) + 1;
    const retryAfterMs = error instanceof BerthError ? error.details?.retryAfterMs : undefined;
    const waitMs = backoffMs(
      attempts,
      this.#settings,
      typeof retryAfterMs === 'number' ? retryAfterMs : undefined,
    );
    const nowMs = this.#options.nowMs();
    this.#logger.warn('certificate order failed', { host, code, error: message, attempts, waitMs });
    try {
      await this.#options.propose('cert_order_failed', {
        host,
        error: `${code}: ${message}`.slice(0, limits.stateDetailLengthMax),
        attempts,
        nextAttemptAtMs: nowMs + waitMs,
        atMs: nowMs,
      });
    } catch (proposeError) {
      // The order stays as committed; the next tick (here or on a new leader) retries it.
      this.#logger.warn('certificate failure not recorded', { host, error: String(proposeError) });
    }
  }

  #abortAll(): void {
    for (const flow of this.#running.values()) flow.controller.abort();
  }
}
