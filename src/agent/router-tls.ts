/**
 * Wires the router's TLS side to the node's committed state: after each applied batch the
 * certificates to serve are recomputed and handed to `Router.setCertificates`, and the
 * router's HTTP-01 answers read the replicated challenge table.
 *
 * Opening keys is skipped while nothing they depend on changed (`tlsInputSignature`), so a
 * busy log costs one cheap read per batch. A node with the keyring opens the keys itself;
 * a worker fetches them from the leader (tls-keys.ts), one request at a time, retrying
 * with a capped exponential backoff, and accepts an answer only when the leader had
 * applied at least as much of the log as this node had when it asked — so a leader that
 * is behind cannot hand back an older set that would then stick.
 */
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import type { AcmeChallengeLookup } from '../router/acme-challenge.ts';
import type { Router } from '../router/router.ts';
import type { Keyring } from '../secrets/keyring.ts';
import type { StateReader } from '../state/queries.ts';
import { getAcmeChallenge } from '../state/queries-certs.ts';
import {
  collectTlsCertificates,
  signTlsKeysRequest,
  type TlsCollection,
  type TlsKeysAnswer,
  tlsInputSignature,
} from './tls-keys.ts';

export interface RouterTlsOptions {
  router: Pick<Router, 'setCertificates'>;
  state: { db: StateReader; appliedIndex(): number };
  /** Present on voters: keys are opened here. Absent: they come from `fetchFromLeader`. */
  keyring: Keyring | undefined;
  /** A worker's key fetch (see `leaderTlsKeysFetcher`). */
  fetchFromLeader: () => Promise<TlsKeysAnswer>;
  logger: Logger;
  /** First retry delay of a failed fetch, in ms; default `limits.routerTlsKeysRetryBaseMs`. */
  retryBaseMs?: number;
  /** Cap of the retry delay, in ms; default `limits.routerTlsKeysRetryCapMs`. */
  retryCapMs?: number;
}

/** The router's HTTP-01 lookup: the key authorization committed for a token. */
export function acmeChallengeLookup(state: { db: StateReader }): AcmeChallengeLookup {
  return (token) => getAcmeChallenge(state.db, token);
}

export class RouterTls {
  readonly #o: RouterTlsOptions;
  readonly #retryBaseMs: number;
  readonly #retryCapMs: number;
  #signature: string | undefined;
  /** The applied index a worker's answer must have reached to be accepted. */
  #wantedIndex = 0;
  #fetching = false;
  #fetchAgain = false;
  #retryMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: RouterTlsOptions) {
    this.#o = options;
    this.#retryBaseMs = options.retryBaseMs ?? limits.routerTlsKeysRetryBaseMs;
    this.#retryCapMs = options.retryCapMs ?? limits.routerTlsKeysRetryCapMs;
    this.#retryMs = this.#retryBaseMs;
  }

  /** Call after each applied batch (and once at start). Cheap when nothing changed. */
  refresh(): void {
    if (this.#stopped) return;
    const signature = tlsInputSignature(this.#o.state.db);
    if (signature === this.#signature) return;
    this.#signature = signature;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#o.keyring) {
      this.#apply(collectTlsCertificates(this.#o.state.db, this.#o.keyring));
      return;
    }
    this.#wantedIndex = this.#o.state.appliedIndex();
    this.#retryMs = this.#retryBaseMs;
    this.#fetch();
  }

  /** Cancels a pending retry; an answer still in flight is dropped. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #apply(collection: TlsCollection): void {
    for (const problem of collection.problems) {
      this.#o.logger.warn('certificate not served', { ...problem, hosts: problem.hosts.join(',') });
    }
    const result = this.#o.router.setCertificates(collection.certificates);
    for (const problem of result.problems) {
      this.#o.logger.warn('certificate not served', { ...problem, hosts: problem.hosts.join(',') });
    }
    if (result.error) {
      this.#o.logger.error('https listener failed', {
        code: result.error.code,
        error: result.error.message,
        retryMs: this.#retryMs,
      });
      // Not served: forget the signature so the retry (or the next change) tries again.
      this.#signature = undefined;
      this.#retryLater(() => this.refresh());
    }
  }

  /** Runs `fn` after the current backoff delay, then doubles the delay up to the cap. */
  #retryLater(fn: () => void): void {
    clearTimeout(this.#timer);
    const delayMs = this.#retryMs;
    this.#retryMs = Math.min(this.#retryCapMs, this.#retryMs * 2);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, delayMs);
  }

  /** One fetch at a time; a change during a fetch fetches again when it ends. */
  #fetch(): void {
    if (this.#fetching) {
      this.#fetchAgain = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#fetching = true;
    const wanted = this.#wantedIndex;
    this.#o.fetchFromLeader().then(
      (answer) => this.#settle(answer.appliedIndex >= wanted ? answer : undefined),
      (error: unknown) => {
        this.#o.logger.warn('tls keys fetch failed', {
          code: error instanceof BerthError ? error.code : 'fetch_failed',
          error: String((error as Error).message ?? error),
          retryMs: this.#retryMs,
        });
        this.#settle(undefined);
      },
    );
  }

  #settle(answer: TlsKeysAnswer | undefined): void {
    this.#fetching = false;
    if (this.#stopped) return;
    if (this.#fetchAgain) {
      // The state moved on while this fetch ran: its answer may already be stale.
      this.#fetchAgain = false;
      this.#fetch();
      return;
    }
    if (answer) {
      this.#retryMs = this.#retryBaseMs;
      this.#apply(answer);
      return;
    }
    // Failed, or the leader was behind: retry later, backing off up to the cap.
    this.#retryLater(() => this.#fetch());
  }
}

const TlsKeysAnswerSchema = z.object({
  appliedIndex: z.number().int().nonnegative(),
  certificates: z
    .array(z.object({ hosts: z.array(z.string()), certPem: z.string(), keyPem: z.string() }))
    .max(limits.routerTlsHostsMax),
  problems: z.array(z.object({ code: z.string(), hosts: z.array(z.string()), detail: z.string() })),
});

/**
 * A worker's fetch: POSTs a request signed with the node's key to its own API, which
 * forwards it to the leader. `node()` is read per request, so a rotated node certificate
 * is used from the next fetch on.
 */
export function leaderTlsKeysFetcher(
  apiUrl: string,
  node: () => { certPem: string; keyPem: string; caPem: string },
): () => Promise<TlsKeysAnswer> {
  return async () => {
    const credentials = node();
    const res = await fetch(`${apiUrl}/v1/cluster/tls-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(await signTlsKeysRequest(credentials)),
      tls: { ca: credentials.caPem },
      signal: AbortSignal.timeout(limits.routerTlsKeysFetchTimeoutMs),
    } as RequestInit);
    const body = (await res.json().catch(() => null)) as {
      error?: { code: string; message: string };
    } | null;
    if (!res.ok) {
      throw new BerthError(
        body?.error?.code ?? 'tls_keys_unavailable',
        body?.error?.message ?? `HTTP ${res.status}`,
      );
    }
    const parsed = TlsKeysAnswerSchema.safeParse(body);
    if (!parsed.success)
      throw new BerthError('tls_keys_unavailable', 'the leader sent a malformed answer');
    return parsed.data;
  };
}
