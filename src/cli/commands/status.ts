/** `berth status`: this node's view of the cluster, plus the Raft peers when available. */
import { BerthError } from '../../core/errors.ts';
import type { ApiClient } from '../client.ts';
import { emit, type Output, paint, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { certificateTable, fetchCertificates } from './cert.ts';
import { type PeerView, peerLag } from './raft.ts';
import { clientFor, itemsOf, positionals, yesNo } from './shared.ts';

/** `GET /v1/status` (see ClusterStatus in src/api/cluster-service.ts). */
interface StatusView {
  nodeId: string;
  role: string;
  leaderId: string | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

/** The peers, or the reason they are missing (an older server, a peer listing error). */
type PeersResult = { peers: PeerView[] } | { unavailable: string };

async function fetchPeers(client: ApiClient): Promise<PeersResult> {
  try {
    const body = await client.request('/v1/operator/raft/peers');
    return { peers: itemsOf<PeerView>(body, 'peer') };
  } catch (error) {
    // Status must still print when only the peer listing fails; transport and auth
    // failures would have failed the status request first, so rethrow those.
    if (!(error instanceof BerthError)) throw error;
    if (['unreachable', 'unauthenticated', 'forbidden', 'cancelled'].includes(error.code)) {
      throw error;
    }
    return { unavailable: error.code };
  }
}

/** A section `berth status` shows only when the server has it (older servers answer 501). */
async function fetchOptional<T>(fetchIt: () => Promise<T>): Promise<T | null> {
  try {
    return await fetchIt();
  } catch (error) {
    if (error instanceof BerthError && ['not_implemented', 'not_found'].includes(error.code)) {
      return null;
    }
    throw error;
  }
}

function humanStatus(out: Output, status: StatusView, peers: PeersResult): string {
  const leader = status.leaderId ?? paint(out, 'yellow', 'none (election in progress?)');
  const lines = [
    `node:          ${status.nodeId} (${status.role})`,
    `leader:        ${leader}`,
    `term:          ${status.term}`,
    `commit index:  ${status.commitIndex}`,
    `applied index: ${status.appliedIndex}`,
    '',
  ];
  if ('unavailable' in peers) {
    lines.push(`peers: unavailable (${peers.unavailable})`);
  } else {
    const rows = peers.peers.map((p) => [
      p.id,
      p.address,
      yesNo(p.voter),
      p.leader ? '*' : '',
      peerLag(p, status.commitIndex),
    ]);
    lines.push(table(['peer', 'address', 'voter', 'leader', 'lag'], rows));
  }
  return lines.join('\n');
}

export const statusCommands: Command[] = [
  {
    path: ['status'],
    summary: 'show the leader, term, commit index, this node’s role and the Raft peers',
    usage: 'berth status [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const client = clientFor(args, out);
      const status = await client.request<StatusView>('/v1/status');
      const peers = await fetchPeers(client);
      const certificates = await fetchOptional(() => fetchCertificates(client));
      const json = {
        certificates,
        ...status,
        peers:
          'peers' in peers
            ? peers.peers.map((p) => ({ ...p, lag: peerLag(p, status.commitIndex) }))
            : null,
      };
      emit(out, json, () => {
        const certs = certificates === null ? [] : ['', certificateTable(out, certificates)];
        return [humanStatus(out, status, peers), ...certs].join('\n');
      });
      return exitCode.ok;
    },
  },
];
