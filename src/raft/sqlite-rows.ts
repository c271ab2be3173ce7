/**
 * Rows of the Raft database as they come back from disk: zod schemas and checksums. Disk
 * is a trust boundary (STYLE.md rule 6): every row is parsed and every entry's CRC32 is
 * checked before the core sees it; any mismatch is RaftStorageError('corrupt').
 */
import { z } from 'zod';
import { ConfStateSchema } from '../../actors/leader-election/messages.ts';
import {
  type ConfState,
  type Entry,
  RaftStorageError,
  type Snapshot,
} from '../../actors/leader-election/types.ts';

const entryKindSchema = z.enum(['normal', 'noop', 'config']);
const entryRowSchema = z.object({
  index: z.int().positive(),
  term: z.int().nonnegative(),
  kind: entryKindSchema,
  data: z.string(),
  checksum: z.int().nonnegative(),
});
export const hardStateRowSchema = z.object({
  term: z.int().nonnegative(),
  vote: z.int().nonnegative(),
  commit: z.int().nonnegative(),
});
const snapshotRowSchema = z.object({
  index: z.int().nonnegative(),
  term: z.int().nonnegative(),
  conf: z.string(),
  data: z.instanceof(Uint8Array),
  checksum: z.int().nonnegative(),
});
export const logStartRowSchema = z.object({
  index: z.int().nonnegative(),
  term: z.int().nonnegative(),
});

/** CRC32 over the fields that identify an entry, so a row moved or altered on disk is caught. */
export function entryChecksum(entry: Entry): number {
  return Bun.hash.crc32(`${entry.term}|${entry.index}|${entry.kind}|${entry.data}`);
}

/** Runs a zod parse on data read from disk, turning a mismatch into RaftStorageError('corrupt'). */
export function parseRow<T>(schema: z.ZodType<T>, row: unknown, what: string): T {
  const parsed = schema.safeParse(row);
  if (!parsed.success) {
    throw new RaftStorageError('corrupt', `${what}: malformed row (${parsed.error.message})`);
  }
  return parsed.data;
}

export function parseConf(json: string, what: string): ConfState {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new RaftStorageError('corrupt', `${what}: conf is not JSON`);
  }
  return copyConf(parseRow(ConfStateSchema, raw, what));
}

/** Parses and checksums one entry row read from disk. */
export function entryFromRow(row: unknown): Entry {
  const r = parseRow(entryRowSchema, row, 'raft entry');
  const entry: Entry = { index: r.index, term: r.term, kind: r.kind, data: r.data };
  if (entryChecksum(entry) !== r.checksum) {
    throw new RaftStorageError('corrupt', `raft entry ${r.index}: checksum mismatch`);
  }
  return entry;
}

export function copyConf(conf: ConfState): ConfState {
  const out: ConfState = { voters: [...conf.voters], learners: [...conf.learners] };
  if (conf.retired && conf.retired.length > 0) out.retired = [...conf.retired];
  return out;
}

/** Parses the snapshot row and checks the CRC32 of its bytes. */
export function snapshotFromRow(row: unknown): Snapshot {
  const r = parseRow(snapshotRowSchema, row, 'raft snapshot');
  if (Bun.hash.crc32(r.data) !== r.checksum) {
    throw new RaftStorageError('corrupt', `raft snapshot at ${r.index}: checksum mismatch`);
  }
  const meta = { index: r.index, term: r.term, conf: parseConf(r.conf, 'raft snapshot') };
  return { meta, data: new Uint8Array(r.data) };
}
