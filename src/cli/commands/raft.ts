/** `berth raft peers|transfer-leader`: the Raft operator routes under /v1/operator/raft. */
import { emit, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, peerId, positionals, yesNo } from './shared.ts';

/**
 * A Raft peer as `/v1/operator/raft/peers` reports it. `lagEntries` and `matchIndex` are
 * optional: only a leader knows them, and servers that do not report them show no lag.
 */
export interface PeerView {
  id: number;
  address: string;
  voter: boolean;
  leader: boolean;
  lagEntries?: number | null;
  matchIndex?: number | null;
}

/**
 * Entries a peer trails by: the server's own `lagEntries` when given, else the distance
 * from its `matchIndex` to `commitIndex`, else null (unknown, shown as "-").
 */
export function peerLag(peer: PeerView, commitIndex: number | undefined): number | null {
  if (typeof peer.lagEntries === 'number') return peer.lagEntries;
  if (typeof peer.matchIndex === 'number' && commitIndex !== undefined) {
    return Math.max(0, commitIndex - peer.matchIndex);
  }
  return null;
}

export const raftCommands: Command[] = [
  {
    path: ['raft', 'peers'],
    aliases: [['raft', 'ls']],
    summary: 'list the Raft peers (ids, addresses, voters, the leader)',
    usage: 'berth raft peers [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const body = await clientFor(args, out).request('/v1/operator/raft/peers');
      const peers = itemsOf<PeerView>(body, 'peer');
      emit(out, peers, () =>
        table(
          ['id', 'address', 'voter', 'leader', 'lag'],
          peers.map((p) => [
            p.id,
            p.address,
            yesNo(p.voter),
            p.leader ? '*' : '',
            peerLag(p, undefined),
          ]),
        ),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['raft', 'transfer-leader'],
    summary: 'ask the leader to hand leadership to another voter (admin)',
    usage: 'berth raft transfer-leader ID',
    flags: [],
    async run(args, out) {
      const [raw] = positionals(args, this.usage, ['ID']);
      const to = peerId(raw as string, 'ID');
      const body = await clientFor(args, out).request<{ transferringTo: number }>(
        '/v1/operator/raft/transfer-leadership',
        { method: 'POST', body: { to } },
      );
      emit(
        out,
        body,
        () => `leadership transfer to peer ${to} started; watch it with \`berth status\``,
      );
      return exitCode.ok;
    },
  },
];
