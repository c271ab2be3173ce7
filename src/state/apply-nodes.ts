/**
 * Applying node commands. Each function runs inside the consumer's transaction, reads the
 * rows it needs, asks actors/state/rules.ts, and writes; a rejection writes nothing.
 */
import { and, eq, notInArray } from 'drizzle-orm';
import { canonicalJson } from '../../actors/state/canonical-json.ts';
import type { StateEntry } from '../../actors/state/commands.ts';
import { terminalAllocationStatuses, type Verdict } from '../../actors/state/rules.ts';
import type { StateTx } from '../mailbox/log-consumer.ts';
import { allocations, nodes } from '../storage/state-schema.ts';

const accepted: Verdict = { ok: true };

/**
 * Registers a node or refreshes a known one (a node re-registers after a restart with
 * new addresses or resources). Registration marks it `up`; the first registration time
 * is kept.
 */
export function applyNodeRegistered(tx: StateTx, entry: StateEntry<'node_registered'>): Verdict {
  const { data } = entry;
  const row = {
    name: data.name,
    address: data.address,
    apiAddress: data.apiAddress,
    role: data.role,
    labels: canonicalJson(data.labels),
    cpuMhz: data.resources.cpuMhz,
    memoryMb: data.resources.memoryMb,
    status: 'up' as const,
    statusChangedAtMs: data.atMs,
    modifyIndex: entry.index,
  };
  tx.insert(nodes)
    .values({ id: data.id, registeredAtMs: data.atMs, ...row })
    .onConflictDoUpdate({ target: nodes.id, set: row })
    .run();
  return accepted;
}

export function applyNodeStatus(tx: StateTx, entry: StateEntry<'node_status'>): Verdict {
  const { id, status, atMs } = entry.data;
  const node = tx.select({ status: nodes.status }).from(nodes).where(eq(nodes.id, id)).get();
  if (!node) return { ok: false, code: 'node_unknown', reason: `node ${id} is unknown` };
  // Repeating the current status keeps the time of the real transition.
  if (node.status === status) return accepted;
  tx.update(nodes)
    .set({ status, statusChangedAtMs: atMs, modifyIndex: entry.index })
    .where(eq(nodes.id, id))
    .run();
  return accepted;
}

/**
 * Removes a node. Its live allocations can never report again, so they become `lost`
 * (and desired `stop`) in the same entry: the scheduler sees them as needing replacement
 * without waiting for a status that cannot come.
 */
export function applyNodeRemoved(tx: StateTx, entry: StateEntry<'node_removed'>): Verdict {
  const { id, atMs } = entry.data;
  const node = tx.select({ id: nodes.id }).from(nodes).where(eq(nodes.id, id)).get();
  if (!node) return { ok: false, code: 'node_unknown', reason: `node ${id} is unknown` };
  tx.update(allocations)
    .set({
      clientStatus: 'lost',
      clientDetail: 'node removed',
      desiredStatus: 'stop',
      desiredReason: 'node removed',
      modifiedAtMs: atMs,
      modifyIndex: entry.index,
    })
    .where(
      and(
        eq(allocations.nodeId, id),
        notInArray(allocations.clientStatus, [...terminalAllocationStatuses]),
      ),
    )
    .run();
  tx.delete(nodes).where(eq(nodes.id, id)).run();
  return accepted;
}
