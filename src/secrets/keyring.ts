/**
 * The cluster data keys that seal secrets (DESIGN.md §7). A keyring holds one active key
 * (new secrets are sealed with it) and older keys that still open secrets sealed before a
 * rotation. Each key has an id that travels with every sealed secret.
 *
 * On disk the keyring is `keyring.json` in the node's data directory, mode 0600, written
 * atomically (temp file, fsync, rename). The node runtime distributes it to voters over
 * mutual TLS; it never enters the Raft log.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** AES-256 key length, in bytes. */
export const dataKeyBytes = 32;
/** The keyring's file name inside a node's data directory. */
export const keyringFileName = 'keyring.json';
/** Permission bits for group and others: a keyring with any of them set is refused. */
const groupOtherBits = 0o077;

export interface DataKey {
  id: string;
  /** 32 bytes of key material. */
  key: Uint8Array;
  createdAtMs: number;
}

export interface Keyring {
  activeKeyId: string;
  /** Oldest first; at most limits.keyringKeysMax. */
  keys: DataKey[];
}

const KeyringFile = z.object({
  version: z.literal(1),
  activeKeyId: z.string().min(1),
  keys: z
    .array(
      z.object({
        id: z.string().min(1),
        key: z.base64().refine((k) => Buffer.from(k, 'base64').length === dataKeyBytes),
        createdAtMs: z.number().int().nonnegative(),
      }),
    )
    .min(1)
    .max(limits.keyringKeysMax),
});

/** A fresh random data key. */
export function generateDataKey(nowMs: number): DataKey {
  return {
    id: `k_${randomBytes(8).toString('hex')}`,
    key: randomBytes(dataKeyBytes),
    createdAtMs: nowMs,
  };
}

export function createKeyring(nowMs: number): Keyring {
  const key = generateDataKey(nowMs);
  return { activeKeyId: key.id, keys: [key] };
}

/**
 * A keyring with a new active key; old keys stay so existing secrets still open. Throws
 * `keyring_full` at limits.keyringKeysMax: re-seal secrets and prune old keys first.
 */
export function rotateKeyring(ring: Keyring, nowMs: number): Keyring {
  if (ring.keys.length >= limits.keyringKeysMax) {
    throw new BerthError('keyring_full', `keyring holds ${ring.keys.length} keys`, {
      keysMax: limits.keyringKeysMax,
    });
  }
  const key = generateDataKey(nowMs);
  return { activeKeyId: key.id, keys: [...ring.keys, key] };
}

/** The key new secrets are sealed with. */
export function activeKey(ring: Keyring): DataKey {
  const key = findKey(ring, ring.activeKeyId);
  if (!key) throw new BerthError('keyring_invalid', 'the active key is missing from the keyring');
  return key;
}

export function findKey(ring: Keyring, keyId: string): DataKey | undefined {
  return ring.keys.find((k) => k.id === keyId);
}

/** Writes the keyring atomically with mode 0600. */
export function writeKeyring(path: string, ring: Keyring): void {
  const file = {
    version: 1,
    activeKeyId: ring.activeKeyId,
    keys: ring.keys.map((k) => ({
      id: k.id,
      key: Buffer.from(k.key).toString('base64'),
      createdAtMs: k.createdAtMs,
    })),
  };
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * Reads and validates a keyring. Throws `keyring_insecure` when group or others may read
 * it (like ssh with a private key), `keyring_invalid` when it is malformed.
 */
export function readKeyring(path: string): Keyring {
  const mode = statSync(path).mode;
  if ((mode & groupOtherBits) !== 0) {
    throw new BerthError('keyring_insecure', `${path} is accessible to other users; chmod 600 it`, {
      path,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new BerthError('keyring_invalid', `${path} is not valid JSON`, { path });
  }
  const parsed = KeyringFile.safeParse(raw);
  if (!parsed.success) throw new BerthError('keyring_invalid', `${path} is malformed`, { path });
  const ring: Keyring = {
    activeKeyId: parsed.data.activeKeyId,
    keys: parsed.data.keys.map((k) => ({
      id: k.id,
      key: new Uint8Array(Buffer.from(k.key, 'base64')),
      createdAtMs: k.createdAtMs,
    })),
  };
  activeKey(ring);
  return ring;
}

/** The keyring in `dataDir`, created with one fresh key on first use. */
export function loadOrCreateKeyring(dataDir: string, nowMs: number): Keyring {
  const path = join(dataDir, keyringFileName);
  if (existsSync(path)) return readKeyring(path);
  const ring = createKeyring(nowMs);
  writeKeyring(path, ring);
  return ring;
}
