// Runs the shared RaftStorage contract (actors/leader-election/storage-contract.ts) against
// SqliteRaftStorage: once with the default in-memory window, and once with a two-entry
// window so that nearly every read goes to disk and through the checksum path. Restarts
// in the contract close the database and open the same file again.
import { afterAll } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runStorageContract,
  type StorageUnderTest,
} from '../../actors/leader-election/storage-contract.ts';
import { SqliteRaftStorage, type SqliteRaftStorageOptions } from './sqlite-storage.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-raft-contract-'));
let fileSeq = 0;
/** Where each open handle's database lives, so a restart can open the same file. */
const pathOf = new WeakMap<StorageUnderTest, string>();

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openAt(path: string, options: SqliteRaftStorageOptions): SqliteRaftStorage {
  const storage = SqliteRaftStorage.open(path, options);
  pathOf.set(storage, path);
  return storage;
}

function contractFor(name: string, options: SqliteRaftStorageOptions): void {
  runStorageContract(
    name,
    () => openAt(join(dir, `contract-${++fileSeq}.db`), options),
    (old) => {
      const path = pathOf.get(old);
      if (path === undefined) throw new Error('reopen: storage was not opened by this suite');
      old.close?.();
      return openAt(path, options);
    },
  );
}

contractFor('SqliteRaftStorage', {});
contractFor('SqliteRaftStorage (2-entry cache: reads hit disk)', { entryCacheMax: 2 });
