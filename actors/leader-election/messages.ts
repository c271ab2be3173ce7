/**
 * The zod schema of Raft peer messages, used by the transport to parse frames at the
 * trust boundary (STYLE.md rule 6). It mirrors `RaftMessage` in types.ts exactly; the
 * type-level check at the bottom fails compilation if the two drift apart.
 */
import { z } from 'zod';
import type { ConfChange, ConfState, Entry, RaftMessage } from './types.ts';

const nodeId = z.number().int().nonnegative();
const index = z.number().int().nonnegative();
const term = z.number().int().nonnegative();

export const EntrySchema = z.object({
  index: index,
  term: term,
  kind: z.enum(['normal', 'noop', 'config']),
  data: z.string(),
});

export const ConfStateSchema = z.object({
  voters: z.array(nodeId),
  learners: z.array(nodeId),
  retired: z.array(nodeId).optional(),
});

export const ConfChangeSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add_learner'), node: nodeId }),
  z.object({ op: z.literal('promote'), node: nodeId }),
  z.object({ op: z.literal('add_voter'), node: nodeId }),
  z.object({ op: z.literal('remove'), node: nodeId }),
]);

const SnapshotMetaSchema = z.object({ index: index, term: term, conf: ConfStateSchema });

const envelope = { from: nodeId, to: nodeId, term: term };

export const RaftMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('vote'),
    ...envelope,
    pre: z.boolean(),
    lastIndex: index,
    lastTerm: term,
    transfer: z.boolean(),
  }),
  z.object({ type: z.literal('vote_resp'), ...envelope, pre: z.boolean(), granted: z.boolean() }),
  z.object({
    type: z.literal('append'),
    ...envelope,
    prevIndex: index,
    prevTerm: term,
    entries: z.array(EntrySchema),
    commit: index,
    context: z.string().optional(),
  }),
  z.object({
    type: z.literal('append_resp'),
    ...envelope,
    success: z.boolean(),
    index: index,
    rejectHint: index,
    rejectHintTerm: term,
    context: z.string().optional(),
  }),
  z.object({
    type: z.literal('heartbeat'),
    ...envelope,
    commit: index,
    context: z.string().optional(),
  }),
  z.object({ type: z.literal('heartbeat_resp'), ...envelope, context: z.string().optional() }),
  z.object({
    type: z.literal('snapshot'),
    ...envelope,
    meta: SnapshotMetaSchema,
    offset: z.number().int().nonnegative(),
    chunk: z.string(),
    done: z.boolean(),
  }),
  z.object({
    type: z.literal('snapshot_resp'),
    ...envelope,
    index: index,
    offset: z.number().int().nonnegative(),
    success: z.boolean(),
  }),
  z.object({ type: z.literal('timeout_now'), ...envelope }),
  z.object({ type: z.literal('forward'), ...envelope, data: z.string() }),
]);

/** Parses an untrusted peer frame; returns null (not a throw) for a malformed one. */
export function parseRaftMessage(input: unknown): RaftMessage | null {
  const parsed = RaftMessageSchema.safeParse(input);
  return parsed.success ? parsed.data : null;
}

/** Parses the payload of a committed `config` entry (log data is a trust boundary too). */
export function parseConfChange(data: string): ConfChange | null {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const parsed = ConfChangeSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

const ConfAfterSchema = z.object({ conf: ConfStateSchema });

/**
 * A committed `config` entry's data is a ConfChange plus `conf`, the membership it
 * produces (see membership.ts for why). Readers that only need the change can parse the
 * data as a ConfChange; the extra key is ignored.
 */
export function parseConfEntry(
  data: string,
): { change: ConfChange; conf: ConfState | null } | null {
  const change = parseConfChange(data);
  if (!change) return null;
  const after = ConfAfterSchema.safeParse(JSON.parse(data));
  return { change, conf: after.success ? after.data.conf : null };
}

// Compile-time guards: the schemas and the hand-written contract must describe the same
// shapes in both directions, so neither can drift silently.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const messageShapesAgree: Same<z.infer<typeof RaftMessageSchema>, RaftMessage> = true;
const entryShapesAgree: Same<z.infer<typeof EntrySchema>, Entry> = true;
const confShapesAgree: Same<z.infer<typeof ConfStateSchema>, ConfState> = true;
void messageShapesAgree;
void entryShapesAgree;
void confShapesAgree;
