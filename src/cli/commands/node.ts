/**
 * `berth node ls|remove|drain`. Removing a node goes through the Raft remove-peer route;
 * draining marks the node `draining` and the scheduler migrates its allocations.
 */
import { ago, emit, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, peerId, positionals, yesNo } from './shared.ts';

interface NodeView {
  id: string;
  name: string;
  address: string;
  status: string;
  voter: boolean;
  updatedAtMs: number;
}

export const nodeCommands: Command[] = [
  {
    path: ['node', 'ls'],
    aliases: [['node', 'list']],
    summary: 'list the cluster’s nodes',
    usage: 'berth node ls [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const nodes = itemsOf<NodeView>(await clientFor(args, out).request('/v1/nodes'), 'node');
      emit(out, nodes, () =>
        table(
          ['id', 'name', 'address', 'status', 'voter', 'updated'],
          nodes.map((n) => [n.id, n.name, n.address, n.status, yesNo(n.voter), ago(n.updatedAtMs)]),
        ),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['node', 'remove'],
    aliases: [['node', 'rm']],
    summary: 'remove a voter from the Raft configuration (admin; by Raft peer id for now)',
    usage:
      'berth node remove PEER-ID   (uses POST /v1/operator/raft/remove-peer; ids from `berth raft peers`)',
    flags: [],
    async run(args, out) {
      const [raw] = positionals(args, this.usage, ['PEER-ID']);
      const id = peerId(raw as string, 'PEER-ID');
      const body = await clientFor(args, out).request<{ index: number; removed: number }>(
        '/v1/operator/raft/remove-peer',
        { method: 'POST', body: { id } },
      );
      emit(
        out,
        body,
        () => `removed peer ${id} from the Raft configuration (log index ${body.index})`,
      );
      return exitCode.ok;
    },
  },
  {
    path: ['node', 'drain'],
    summary: 'move allocations off a node (admin); --disable makes it eligible again',
    usage: 'berth node drain NODE-ID [--disable]',
    flags: [
      { name: 'disable', boolean: true, help: 'end the drain: the node takes new work again' },
    ],
    async run(args, out) {
      const [id] = positionals(args, this.usage, ['NODE-ID']);
      const enable = !args.flags.disable;
      const body = await clientFor(args, out).request<{ index: number; status: string }>(
        `/v1/nodes/${encodeURIComponent(id as string)}/drain`,
        { method: 'POST', body: { enable } },
      );
      emit(out, body, () =>
        enable
          ? `node ${id} is draining: its allocations move elsewhere, update.max_parallel at a time (log index ${body.index})`
          : `node ${id} takes new work again (log index ${body.index})`,
      );
      return exitCode.ok;
    },
  },
];
