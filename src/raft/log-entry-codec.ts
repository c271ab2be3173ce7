/**
 * How Raft entries become the `LogEntry` values that log-backed mailboxes consume
 * (src/log/committed-log.ts). A normal entry's data is the JSON envelope
 * `{"type": tag, "data": payload}`; Raft's own entries are surfaced too, under reserved
 * tags, so that log indices stay consecutive for every consumer's cursor.
 */
import { z } from 'zod';
import { parseConfChange } from '../../actors/leader-election/messages.ts';
import type { Entry } from '../../actors/leader-election/types.ts';
import { BerthError } from '../core/errors.ts';
import type { LogEntry } from '../log/committed-log.ts';

/** Tag of the empty entry a new leader commits at the start of its term (Raft §5.4.2, §8). */
export const raftNoopType = 'raft.noop';
/** Tag of a committed membership change; `data` is the ConfChange. */
export const raftConfigType = 'raft.config';

const envelopeSchema = z.object({ type: z.string().min(1), data: z.unknown() });

/** Encodes an application command as the data of a normal Raft entry. */
export function encodeLogCommand(type: string, data: unknown): string {
  return JSON.stringify({ type, data });
}

/**
 * Decodes a committed entry (the log is a trust boundary: STYLE.md rule 6). A normal entry
 * that is not a valid envelope is an operating error with code `log_entry_invalid`; the
 * payload itself is validated later by the consumer that owns the tag.
 */
export function decodeLogEntry(entry: Entry): LogEntry {
  if (entry.kind === 'noop')
    return { index: entry.index, term: entry.term, type: raftNoopType, data: null };
  if (entry.kind === 'config') {
    const change = parseConfChange(entry.data);
    if (!change) throw invalid(entry, 'config entry is not a ConfChange');
    return { index: entry.index, term: entry.term, type: raftConfigType, data: change };
  }
  let json: unknown;
  try {
    json = JSON.parse(entry.data);
  } catch {
    throw invalid(entry, 'data is not JSON');
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) throw invalid(entry, 'data is not a {type, data} envelope');
  return { index: entry.index, term: entry.term, type: parsed.data.type, data: parsed.data.data };
}

function invalid(entry: Entry, why: string): BerthError {
  return new BerthError('log_entry_invalid', `log entry ${entry.index}: ${why}`, {
    index: entry.index,
  });
}
