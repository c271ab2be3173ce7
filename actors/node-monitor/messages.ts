/**
 * The node monitor's messages. All of them are local (DESIGN.md §2): heartbeats and ticks
 * are high-frequency signals that never enter the log; only the status *transitions* they
 * lead to are proposed (see effects.ts). `committed_node` is how the runtime hands the
 * monitor what the log already committed about a node; it is derived from committed
 * `node_registered` / `node_status` / `node_removed` entries, not a log type itself.
 *
 * Times named `nowMs` are the receiving node's monotonic clock; `atMs` is the wall-clock
 * time the leader stamped into the committed entry (informational only here).
 */
import { z } from 'zod';
import { BerthError } from '../../src/core/errors.ts';
import { local } from '../../src/mailbox/message-kinds.ts';
import { Id } from '../state/commands.ts';

const NowMs = z.number().nonnegative().finite();
const AtMs = z.number().int().nonnegative();

/** A node's committed status as the monitor sees it; `removed` ends tracking. */
export const CommittedNodeStatusSchema = z.enum(['up', 'down', 'draining', 'removed']);
export type CommittedNodeStatus = z.output<typeof CommittedNodeStatusSchema>;

export const NodeMonitorMessageSchema = z.discriminatedUnion('type', [
  /** A heartbeat from `nodeId`, stamped with the receiver's clock on arrival. */
  z.object({ type: z.literal('heartbeat'), nodeId: Id, nowMs: NowMs }),
  /** Time passes; the leader judges silent nodes on each tick. */
  z.object({ type: z.literal('tick'), nowMs: NowMs }),
  /** This node became (`true`) or stopped being (`false`) the Raft leader. */
  z.object({ type: z.literal('leadership'), isLeader: z.boolean(), nowMs: NowMs }),
  /** The committed state of a node after a log entry about it was applied. */
  z.object({
    type: z.literal('committed_node'),
    nodeId: Id,
    status: CommittedNodeStatusSchema,
    atMs: AtMs,
  }),
]);

/**
 * The declaration of these types for the node-wide registry (STYLE.md rule 3): all local.
 * Keys are prefixed with the actor's name so they merge with other actors' `tick`s.
 */
export const nodeMonitorKindDefinitions = {
  'node_monitor.heartbeat': local(),
  'node_monitor.tick': local(),
  'node_monitor.leadership': local(),
  'node_monitor.committed_node': local(),
};

export type NodeMonitorMessage = z.output<typeof NodeMonitorMessageSchema>;
export type HeartbeatMessage = Extract<NodeMonitorMessage, { type: 'heartbeat' }>;
export type TickMessage = Extract<NodeMonitorMessage, { type: 'tick' }>;
export type LeadershipMessage = Extract<NodeMonitorMessage, { type: 'leadership' }>;
export type CommittedNodeMessage = Extract<NodeMonitorMessage, { type: 'committed_node' }>;

/**
 * Validates a message at a trust boundary (a heartbeat frame from a peer, for instance).
 * Returns the typed message, or a BerthError coded `invalid_message`.
 */
export function parseNodeMonitorMessage(
  raw: unknown,
): { ok: true; message: NodeMonitorMessage } | { ok: false; error: BerthError } {
  const result = NodeMonitorMessageSchema.safeParse(raw);
  if (result.success) return { ok: true, message: result.data };
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
  const error = new BerthError(
    'invalid_message',
    `invalid node-monitor message: ${z.prettifyError(result.error)}`,
    { issues },
  );
  return { ok: false, error };
}
