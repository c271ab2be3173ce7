// Runs the shared RaftStorage contract (actors/leader-election/storage-contract.ts) against
// SqliteRaftStorage: once with the default in-memory window, and once with a two-entry
// window so that nearly every read goes to disk and through the checksum path.
import { afterAll } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStorageContract } from '../../actors/leader-election/storage-contract.ts';
import { SqliteRaftStorage } from './sqlite-storage.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-raft-contract-'));
let fileSeq = 0;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStorageContract('SqliteRaftStorage', () =>
  SqliteRaftStorage.open(join(dir, `contract-${++fileSeq}.db`)),
);

runStorageContract('SqliteRaftStorage (2-entry cache: reads hit disk)', () =>
  SqliteRaftStorage.open(join(dir, `contract-${++fileSeq}.db`), { entryCacheMax: 2 }),
);
