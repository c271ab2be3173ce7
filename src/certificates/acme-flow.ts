/**
 * One host's ACME order (RFC 8555), driven with acme-client, written so that any step can
 * be the first step of another process. The order's URL and key are committed (through
 * `orderStarted`) before any challenge is answered, and every later step derives from the
 * order's status at the server, so a new leader that holds only `{ orderUrl, keyPem }`
 * picks the order up where the old one stopped: answer challenges while `pending`,
 * finalize with a CSR from the stored key when `ready`, wait while `processing`, download
 * when `valid`. No step creates a second order.
 *
 * The one gap: a crash between `createOrder` at the server and the commit of
 * `orderStarted` leaves an order the cluster never heard of. It holds no answered
 * challenge and expires at the server; the next leader places a fresh one.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as acme from 'acme-client';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { type AcmeProblem, installFetchTransport, type TransportRecord } from './acme-transport.ts';

/** Where the flow reports progress; each resolves once the fact is committed. */
export interface AcmeFlowCallbacks {
  /** An order exists at the server with this certificate key; commit both. */
  orderStarted(orderUrl: string, keyPem: string): Promise<void>;
  /** Every router must answer /.well-known/acme-challenge/<token> with `keyAuthorization`. */
  challengeReady(token: string, keyAuthorization: string, host: string): Promise<void>;
  /** The certificate (leaf first, then the chain) for the key of this order. */
  issued(certPem: string, keyPem: string): Promise<void>;
  /** Checked between steps: a flow stops at the next step once this node is not leader. */
  isLeader(): boolean;
}

/** Waits of one flow; defaults from src/core/limits.ts. */
export interface AcmeFlowTiming {
  pollBaseMs: number;
  pollCapMs: number;
  pollAttemptsMax: number;
  challengeSettleMs: number;
  requestTimeoutMs: number;
}

export interface AcmeFlowOptions {
  host: string;
  /** A resolved directory URL (see `resolveDirectoryUrl`). */
  directoryUrl: string;
  /** The ACME account key, PKCS#8 PEM. The account is found or created from it. */
  accountKeyPem: string;
  /** Contact address for the account (expiry mail from the CA). */
  email?: string;
  /** A CA to trust for the ACME API in addition to the system roots. */
  caPem?: string;
  callbacks: AcmeFlowCallbacks;
  /** A committed order to continue instead of placing a new one. */
  resume?: { orderUrl: string; keyPem: string };
  /** Aborts requests in flight (the host aborts on leadership loss or stop). */
  signal?: AbortSignal;
  timing?: Partial<AcmeFlowTiming>;
  logger?: Logger;
}

export interface AcmeFlowResult {
  certPem: string;
  keyPem: string;
  orderUrl: string;
  /** Orders this flow created at the server: 0 when it resumed, 1 otherwise. */
  ordersCreated: number;
}

/** Named ACME directories an operator may write instead of a URL. */
export const namedDirectories = {
  production: acme.directory.letsencrypt.production,
  staging: acme.directory.letsencrypt.staging,
} as const;

/**
 * `production` | `staging` (Let's Encrypt) or an http(s) URL; anything else is
 * `acme_directory_invalid`, said once at configuration time rather than per order.
 */
export function resolveDirectoryUrl(value: string): string {
  if (value === 'production' || value === 'staging') return namedDirectories[value];
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new BerthError(
      'acme_directory_invalid',
      `ACME directory ${JSON.stringify(value)} is not production, staging or an https URL`,
    );
  }
  return url.href;
}

/** A fresh P-256 private key as PKCS#8 PEM (account keys and certificate keys). */
export function generateAcmeKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

interface Session {
  client: acme.Client;
  record: TransportRecord;
  options: AcmeFlowOptions;
  timing: AcmeFlowTiming;
  logger: Logger;
}

/**
 * Drives `options.host`'s order to an issued certificate. Errors are BerthError:
 * `acme_rate_limited` (details.retryAfterMs when the server said), `acme_order_invalid`
 * (the order cannot complete: start a fresh one), `acme_unreachable`,
 * `acme_directory_invalid`, `acme_not_leader` / `acme_aborted` (stopped on purpose: record
 * nothing) and `acme_failed` for the rest.
 */
export async function runAcmeFlow(options: AcmeFlowOptions): Promise<AcmeFlowResult> {
  const timing: AcmeFlowTiming = {
    pollBaseMs: limits.acmePollBaseMs,
    pollCapMs: limits.acmePollCapMs,
    pollAttemptsMax: limits.acmePollAttemptsMax,
    challengeSettleMs: limits.acmeChallengeSettleMs,
    requestTimeoutMs: limits.acmeRequestTimeoutMs,
    ...options.timing,
  };
  const logger = (options.logger ?? silentLogger).child({
    actor: 'certificates',
    host: options.host,
  });
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey: options.accountKeyPem,
  });
  const record = installFetchTransport(client, {
    directoryUrl: options.directoryUrl,
    caPem: options.caPem,
    signal: options.signal,
    requestTimeoutMs: timing.requestTimeoutMs,
  });
  const session: Session = { client, record, options, timing, logger };
  try {
    await ensureAccount(session);
    ensureLeader(session);
    const { order, keyPem } = options.resume
      ? await resumeOrder(session, options.resume)
      : await startOrder(session);
    const certPem = await driveOrder(session, order, keyPem);
    return { certPem, keyPem, orderUrl: order.url, ordersCreated: record.ordersCreated.length };
  } catch (error) {
    throw classify(error, session);
  }
}

/**
 * Finds the account of the key, or creates it. Looking first matters: acme-client turns
 * "already exists" into an update that some servers (Pebble) refuse as empty.
 */
async function ensureAccount(s: Session): Promise<void> {
  try {
    await s.client.createAccount({ onlyReturnExisting: true });
    return;
  } catch (error) {
    if (!s.record.lastProblem?.type.endsWith(':accountDoesNotExist')) throw error;
  }
  try {
    await s.client.createAccount({
      termsOfServiceAgreed: true,
      ...(s.options.email ? { contact: [`mailto:${s.options.email}`] } : {}),
    });
    s.logger.info('acme account created');
  } catch (error) {
    // Another flow created the account between our two calls: the server answered
    // "exists" (so the client now knows the account URL) and acme-client followed with an
    // update the server refused. Fetch the account instead (POST-as-GET). Any other
    // failure (a refused contact address) keeps its own reason.
    if (!hasAccountUrl(s.client)) throw error;
    await s.client.createAccount({ onlyReturnExisting: true });
  }
}

function hasAccountUrl(client: acme.Client): boolean {
  try {
    client.getAccountUrl();
    return true;
  } catch {
    return false;
  }
}

async function startOrder(s: Session): Promise<{ order: acme.Order; keyPem: string }> {
  const keyPem = generateAcmeKeyPem();
  const order = await s.client.createOrder({
    identifiers: [{ type: 'dns', value: s.options.host }],
  });
  s.logger.info('acme order created', { orderUrl: order.url });
  await s.options.callbacks.orderStarted(order.url, keyPem);
  ensureLeader(s);
  return { order, keyPem };
}

async function resumeOrder(
  s: Session,
  resume: { orderUrl: string; keyPem: string },
): Promise<{ order: acme.Order; keyPem: string }> {
  s.logger.info('acme order resumed', { orderUrl: resume.orderUrl });
  try {
    const order = await s.client.getOrder({ url: resume.orderUrl } as acme.Order);
    return { order, keyPem: resume.keyPem };
  } catch (error) {
    const problem = s.record.lastProblem;
    // A missing or foreign order (404, 403) can never complete; any other failure
    // (unreachable, rate limited) says nothing about the order and keeps it for later.
    if (problem && problem.status >= 400 && problem.status < 500 && problem.status !== 429) {
      throw new BerthError(
        'acme_order_invalid',
        `ACME order for ${s.options.host} is gone at the server (HTTP ${problem.status}); a new order follows`,
        { orderUrl: resume.orderUrl, status: problem.status },
      );
    }
    throw error;
  }
}

/** Follows the order's status to `valid` and returns the certificate chain. */
async function driveOrder(s: Session, first: acme.Order, keyPem: string): Promise<string> {
  let order = first;
  for (let step = 0; step < limits.acmeFlowStepsMax; step++) {
    ensureLeader(s);
    switch (order.status) {
      case 'pending':
        await answerChallenges(s, order);
        order = await pollOrder(s, order, 'pending');
        break;
      case 'ready': {
        const [, csr] = await acme.crypto.createCsr(
          { commonName: s.options.host, altNames: [s.options.host] },
          keyPem,
        );
        ensureLeader(s);
        order = await s.client.finalizeOrder(order, csr);
        break;
      }
      case 'processing':
        order = await pollOrder(s, order, 'processing');
        break;
      case 'valid':
        return downloadCertificate(s, order, keyPem);
      case 'invalid':
        throw new BerthError(
          'acme_order_invalid',
          `ACME order for ${s.options.host} failed: ${await invalidReason(s, order)}`,
          { orderUrl: order.url },
        );
    }
  }
  throw new BerthError('acme_failed', `ACME order for ${s.options.host} did not settle`, {
    orderUrl: order.url,
    stepsMax: limits.acmeFlowStepsMax,
  });
}

/** Publishes and triggers the HTTP-01 challenge of each pending authorization. */
async function answerChallenges(s: Session, order: acme.Order): Promise<void> {
  const authorizations = await s.client.getAuthorizations(order);
  if (authorizations.length > limits.acmeAuthorizationsMax) {
    throw new BerthError('acme_failed', `ACME order for ${s.options.host} has too many names`);
  }
  for (const authz of authorizations) {
    if (authz.status !== 'pending') continue;
    const challenge = authz.challenges.find((c) => c.type === 'http-01');
    if (!challenge) {
      throw new BerthError(
        'acme_order_invalid',
        `ACME server offers no HTTP-01 challenge for ${authz.identifier.value}`,
      );
    }
    const keyAuthorization = await s.client.getChallengeKeyAuthorization(challenge);
    await s.options.callbacks.challengeReady(challenge.token, keyAuthorization, s.options.host);
    ensureLeader(s);
    // Committed is not yet applied on every router; give followers a moment.
    if (s.timing.challengeSettleMs > 0) await sleep(s.timing.challengeSettleMs, s.options.signal);
    ensureLeader(s);
    // A resumed order may already have asked for validation; asking twice is refused.
    if (challenge.status === 'pending') await s.client.completeChallenge(challenge);
  }
}

/** Re-reads the order until it leaves `status`, waiting longer each time (bounded). */
async function pollOrder(s: Session, order: acme.Order, status: string): Promise<acme.Order> {
  let current = order;
  for (let attempt = 0; attempt < s.timing.pollAttemptsMax; attempt++) {
    current = await s.client.getOrder(current);
    if (current.status !== status) return current;
    await sleep(Math.min(s.timing.pollCapMs, s.timing.pollBaseMs * 2 ** attempt), s.options.signal);
    ensureLeader(s);
  }
  throw new BerthError(
    'acme_failed',
    `ACME order for ${s.options.host} still ${status} after ${s.timing.pollAttemptsMax} checks`,
    { orderUrl: order.url },
  );
}

async function downloadCertificate(s: Session, order: acme.Order, keyPem: string): Promise<string> {
  const certPem = await s.client.getCertificate(order);
  const leaf = new X509Certificate(certPem);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new BerthError(
      'acme_failed',
      `ACME certificate for ${s.options.host} does not match its key`,
    );
  }
  if (leaf.checkHost(s.options.host) === undefined) {
    throw new BerthError('acme_failed', `ACME certificate does not name ${s.options.host}`);
  }
  ensureLeader(s);
  await s.options.callbacks.issued(certPem, keyPem);
  s.logger.info('acme certificate issued', { orderUrl: order.url, serial: leaf.serialNumber });
  return certPem;
}

/** The first challenge error of the order's authorizations, else the order's own error. */
async function invalidReason(s: Session, order: acme.Order): Promise<string> {
  const own = problemDetail(order.error);
  try {
    for (const authz of await s.client.getAuthorizations(order)) {
      for (const challenge of authz.challenges) {
        const detail = problemDetail(challenge.error);
        if (detail) return detail;
      }
    }
  } catch {
    // The order's own error is still worth reporting when authorizations cannot be read.
  }
  return own || 'no reason given';
}

function problemDetail(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const detail = (error as { detail?: unknown }).detail;
  return typeof detail === 'string' ? detail.replace(/\s+/g, ' ') : '';
}

function ensureLeader(s: Session): void {
  if (s.options.signal?.aborted) {
    throw new BerthError('acme_aborted', 'the ACME order was stopped on this node');
  }
  if (!s.options.callbacks.isLeader()) {
    throw new BerthError('acme_not_leader', 'this node is no longer leader; the next one resumes');
  }
}

/** Maps whatever a step threw to a BerthError with a code callers branch on. */
function classify(error: unknown, s: Session): BerthError {
  if (error instanceof BerthError) return error;
  const host = s.options.host;
  const problem = s.record.lastProblem;
  if (problem) return problemError(problem, host);
  const message = error instanceof Error ? error.message : String(error);
  return new BerthError('acme_failed', `ACME order for ${host} failed: ${message}`);
}

function problemError(problem: AcmeProblem, host: string): BerthError {
  const said = problem.detail || problem.type || 'no detail';
  const details = { status: problem.status, type: problem.type, url: problem.url };
  if (problem.status === 429 || problem.type.endsWith(':rateLimited')) {
    const wait =
      problem.retryAfterMs === undefined
        ? ''
        : `; retry after ${Math.ceil(problem.retryAfterMs / 1_000)} s`;
    return new BerthError('acme_rate_limited', `ACME rate limit for ${host}: ${said}${wait}`, {
      ...details,
      ...(problem.retryAfterMs === undefined ? {} : { retryAfterMs: problem.retryAfterMs }),
    });
  }
  if (problem.status >= 500) {
    return new BerthError(
      'acme_unreachable',
      `ACME server failing for ${host} (HTTP ${problem.status}): ${said}`,
      details,
    );
  }
  return new BerthError(
    'acme_failed',
    `ACME server refused ${host} (HTTP ${problem.status}): ${said}`,
    details,
  );
}

/** Sleeps `ms`, ending early (with acme_aborted) when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new BerthError('acme_aborted', 'the ACME order was stopped on this node'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new BerthError('acme_aborted', 'the ACME order was stopped on this node'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
