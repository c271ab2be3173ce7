/**
 * The public surface of the `certificates` actor (DESIGN.md §1): on the leader, decide
 * per TLS host whether to order, resume, renew or wait. The ACME I/O and the proposals
 * live in src/certificates/; this folder is pure.
 */
export type {
  CertificateAction,
  CertificatePlan,
  CertificateView,
  NothingReason,
  OrderView,
  PlanInput,
  TlsHostView,
} from './plan.ts';
export { planCertificates, startsFlow } from './plan.ts';
export type { CertificateSettings } from './settings.ts';
export {
  assertSettings,
  backoffMs,
  defaultCertificateSettings,
  renewDueAtMs,
} from './settings.ts';
