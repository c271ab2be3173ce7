/**
 * The certificates actor's decision (DESIGN.md §1): a pure function of the replicated
 * state — the hosts that want TLS, the certificates issued, the orders recorded — plus
 * the flows this leader already runs and the time. It says, per host, what to do; the
 * shell (src/certificates/certificates-host.ts) does the ACME I/O and proposes the
 * outcome, which comes back here as state on the next tick.
 *
 * Like Nomad's scheduler it never mutates anything and never reads the clock: the same
 * input gives the same plan, so it is tested as a table.
 */
import { type CertificateSettings, renewDueAtMs } from './settings.ts';

/** A host of a `tls: true` route; `custom` when the operator supplies the certificate. */
export interface TlsHostView {
  host: string;
  custom?: unknown;
}

/** The issued certificate of a host (only its validity matters here). */
export interface CertificateView {
  host: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** The recorded order of a host (src/state/queries-certs.ts `CertOrderRow`). */
export interface OrderView {
  host: string;
  status: 'pending' | 'failed';
  orderUrl: string | null;
  key: unknown | null;
  attempts: number;
  nextAttemptAtMs: number;
  renewRequested: boolean;
}

export interface PlanInput {
  tlsHosts: readonly TlsHostView[];
  certificates: readonly CertificateView[];
  orders: readonly OrderView[];
  /** Hosts whose flow is running in this process right now. */
  inFlight: ReadonlySet<string>;
  /** Wall-clock ms (the same clock the leader stamps into entries). */
  nowMs: number;
  settings: CertificateSettings;
}

export type NothingReason = 'valid' | 'custom' | 'in-flight' | 'queued';

export type CertificateAction =
  /** No certificate yet: place a fresh order (`retry` once an earlier one failed). */
  | { kind: 'order-new'; host: string; reason: 'missing' | 'retry' }
  /** An order is committed with its URL and key: continue that very order. */
  | { kind: 'resume'; host: string; orderUrl: string }
  /** The certificate is in its last third of life, or the operator asked. */
  | { kind: 'renew'; host: string; reason: 'expiring' | 'requested' }
  /** The last order failed; nothing before `untilMs`. */
  | { kind: 'wait-backoff'; host: string; untilMs: number }
  | { kind: 'nothing'; host: string; reason: NothingReason };

export interface CertificatePlan {
  /** One action per wanted host, sorted by host name. */
  actions: CertificateAction[];
  /**
   * The earliest future instant at which the plan changes by time alone (a backoff ends,
   * a certificate becomes due); null when only a state change can change it.
   */
  nextWakeAtMs: number | null;
}

/** Decides what to do for every host that wants an ACME certificate. */
export function planCertificates(input: PlanInput): CertificatePlan {
  const certificates = new Map(input.certificates.map((c) => [c.host, c]));
  const orders = new Map(input.orders.map((o) => [o.host, o]));
  const actions: CertificateAction[] = [];
  let nextWakeAtMs: number | null = null;
  const wakeAt = (atMs: number) => {
    if (atMs > input.nowMs && (nextWakeAtMs === null || atMs < nextWakeAtMs)) nextWakeAtMs = atMs;
  };
  for (const [host, custom] of wantedHosts(input.tlsHosts)) {
    const action = decideHost(host, custom, certificates.get(host), orders.get(host), input);
    if (action.kind === 'wait-backoff') wakeAt(action.untilMs);
    const certificate = certificates.get(host);
    if (action.kind === 'nothing' && action.reason === 'valid' && certificate) {
      wakeAt(renewDueAtMs(certificate.notBeforeMs, certificate.notAfterMs, input.settings));
    }
    actions.push(action);
  }
  return { actions: limitStarts(actions, input, certificates), nextWakeAtMs };
}

/** True for the actions that start an ACME flow. */
export function startsFlow(
  action: CertificateAction,
): action is Extract<CertificateAction, { kind: 'order-new' | 'resume' | 'renew' }> {
  return action.kind === 'order-new' || action.kind === 'resume' || action.kind === 'renew';
}

/**
 * Hosts sorted by name, each once. A host named by several routes is custom when any of
 * them supplies a certificate: the operator's certificate wins over ordering one.
 */
function wantedHosts(tlsHosts: readonly TlsHostView[]): Map<string, boolean> {
  const hosts = new Map<string, boolean>();
  for (const t of tlsHosts) hosts.set(t.host, (hosts.get(t.host) ?? false) || t.custom != null);
  return new Map([...hosts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function decideHost(
  host: string,
  custom: boolean,
  certificate: CertificateView | undefined,
  order: OrderView | undefined,
  input: PlanInput,
): CertificateAction {
  if (custom) return { kind: 'nothing', host, reason: 'custom' };
  if (input.inFlight.has(host)) return { kind: 'nothing', host, reason: 'in-flight' };
  if (order?.status === 'pending' && order.orderUrl !== null && order.key !== null) {
    return { kind: 'resume', host, orderUrl: order.orderUrl };
  }
  if (order?.status === 'failed' && order.nextAttemptAtMs > input.nowMs) {
    return { kind: 'wait-backoff', host, untilMs: order.nextAttemptAtMs };
  }
  if (!certificate) {
    return { kind: 'order-new', host, reason: order?.status === 'failed' ? 'retry' : 'missing' };
  }
  if (order?.renewRequested) return { kind: 'renew', host, reason: 'requested' };
  const dueAtMs = renewDueAtMs(certificate.notBeforeMs, certificate.notAfterMs, input.settings);
  if (input.nowMs >= dueAtMs) return { kind: 'renew', host, reason: 'expiring' };
  return { kind: 'nothing', host, reason: 'valid' };
}

/**
 * Keeps at most ordersInFlightMax flows running: committed orders first (they hold a key
 * and maybe answered challenges), then hosts with no certificate at all, then forced
 * renewals, then expiring certificates, soonest expiry first. The rest wait (`queued`).
 */
function limitStarts(
  actions: CertificateAction[],
  input: PlanInput,
  certificates: Map<string, CertificateView>,
): CertificateAction[] {
  const slots = Math.max(0, input.settings.ordersInFlightMax - input.inFlight.size);
  const rank = (a: CertificateAction): [number, number] => {
    if (a.kind === 'resume') return [0, 0];
    if (a.kind === 'order-new') return [1, 0];
    if (a.kind === 'renew' && a.reason === 'requested') return [2, 0];
    return [3, certificates.get(a.host)?.notAfterMs ?? 0];
  };
  const starts = actions.filter(startsFlow);
  // A stable sort: ties keep the host-name order of `actions`.
  const chosen = new Set(
    starts
      .map((a) => ({ a, r: rank(a) }))
      .sort((x, y) => x.r[0] - y.r[0] || x.r[1] - y.r[1])
      .slice(0, slots)
      .map(({ a }) => a.host),
  );
  return actions.map((a) =>
    startsFlow(a) && !chosen.has(a.host) ? { kind: 'nothing', host: a.host, reason: 'queued' } : a,
  );
}
