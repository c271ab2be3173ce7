/**
 * `berth cert ls` and `berth cert renew HOST`: the certificates routes with `tls: true`
 * are served with (issuer, expiry, when renewal is due, the last ordering error), and a
 * forced renewal of one host (like `certbot renew --force-renewal`).
 */
import type { CertificateView } from '../../api/cluster-service.ts';
import type { ApiClient } from '../client.ts';
import { emit, type Output, paint, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, positionals, segment } from './shared.ts';

const dayMs = 86_400_000;

/** "in 59d" / "3d ago" / "in 2h" / "in 5m": days for expiries, finer for near retries. */
function relativeDays(atMs: number | null, nowMs: number): string {
  if (atMs === null) return '-';
  const deltaMs = Math.abs(atMs - nowMs);
  let text: string;
  if (deltaMs >= dayMs) text = `${Math.round(deltaMs / dayMs)}d`;
  else if (deltaMs >= 3_600_000) text = `${Math.round(deltaMs / 3_600_000)}h`;
  else text = `${Math.max(1, Math.round(deltaMs / 60_000))}m`;
  return atMs >= nowMs ? `in ${text}` : `${text} ago`;
}

function statusCell(out: Output, v: CertificateView): string {
  if (v.status === 'valid') return paint(out, 'green', v.status);
  if (v.status === 'failed' || v.status === 'expired') return paint(out, 'red', v.status);
  return paint(out, 'yellow', v.status);
}

/** The certificates table, shared with `berth status`. */
export function certificateTable(
  out: Output,
  items: CertificateView[],
  nowMs = Date.now(),
): string {
  if (items.length === 0) return 'no routes with tls: true';
  const rows = items.map((v) => [
    v.host,
    v.job,
    v.source,
    statusCell(out, v),
    v.issuer ?? '-',
    relativeDays(v.notAfterMs, nowMs),
    v.lastError
      ? `${v.lastError}${v.nextAttemptAtMs ? ` (retry ${relativeDays(v.nextAttemptAtMs, nowMs)})` : ''}`
      : '',
  ]);
  return table(['host', 'job', 'source', 'status', 'issuer', 'expires', 'last error'], rows);
}

export async function fetchCertificates(client: ApiClient): Promise<CertificateView[]> {
  return itemsOf<CertificateView>(await client.request('/v1/certificates'), 'certificate');
}

export const certCommands: Command[] = [
  {
    path: ['cert', 'ls'],
    summary: 'list TLS hosts with their certificate: issuer, expiry, renewal, last error',
    usage: 'berth cert ls [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const items = await fetchCertificates(clientFor(args, out));
      emit(out, { items }, () => certificateTable(out, items));
      return exitCode.ok;
    },
  },
  {
    path: ['cert', 'renew'],
    summary:
      'renew a host’s certificate now instead of at a third of its lifetime (deploy or admin)',
    usage: 'berth cert renew HOST [--json]',
    flags: [],
    async run(args, out) {
      const [host] = positionals(args, this.usage, ['HOST']) as [string];
      const answer = await clientFor(args, out).request<{ index: number; host: string }>(
        `/v1/certificates/${segment(host)}/renew`,
        { method: 'POST', body: {} },
      );
      emit(
        out,
        answer,
        () =>
          `renewal of ${host} requested (log index ${answer.index}); follow it with \`berth cert ls\``,
      );
      return exitCode.ok;
    },
  },
];
