/**
 * `peers.json`: the members a joining node learned from the leader's join answer. The
 * transport needs them before the node's own state (which carries every node's address)
 * has arrived through the log; after that, the replicated node table is the source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { type DataPaths, writeFileAtomic } from './data-dir.ts';

const PeersSchema = z.array(
  z.strictObject({ id: z.number().int().positive(), address: z.string().min(3) }),
);

export type SeedPeer = z.infer<typeof PeersSchema>[number];

function peersPath(paths: DataPaths): string {
  return join(paths.identity, '..', 'peers.json');
}

export function readSeedPeers(paths: DataPaths): SeedPeer[] {
  const path = peersPath(paths);
  if (!existsSync(path)) return [];
  const parsed = PeersSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new BerthError('bad_data_dir', `${path} is malformed`);
  return parsed.data;
}

export function writeSeedPeers(paths: DataPaths, peers: SeedPeer[]): void {
  writeFileAtomic(peersPath(paths), `${JSON.stringify(PeersSchema.parse(peers))}\n`, 0o644);
}
