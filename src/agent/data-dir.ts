/**
 * A node's data directory: what it holds and how it is read back. Everything secret
 * (keys, the keyring, tokens) is written 0600, atomically (temp file, fsync, rename), as
 * kamal-proxy writes its state file.
 *
 *   node.json         identity: cluster name, node id, role, addresses
 *   raft.db           Raft log and hard state (fsync'd)
 *   state.db          the replicated state machine
 *   tls/ca.pem        the cluster CA certificate
 *   tls/ca-key.pem    the CA key (voters only: the leader signs joining nodes' CSRs)
 *   tls/node.pem      this node's certificate; tls/node-key.pem its key
 *   keyring.json      the secrets data keys (voters only)
 *   bootstrap.json    commands the first leader proposes once (init only; then deleted)
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';

export const NodeIdentitySchema = z
  .object({
    version: z.literal(1),
    clusterName: z.string().min(1),
    /** The Raft id; never reused in the cluster. */
    nodeId: z.number().int().positive(),
    nodeName: z.string().min(1),
    /** What the node joined as; workers may be promoted later. */
    role: z.enum(['voter', 'worker']),
  })
  .strict();

export type NodeIdentity = z.infer<typeof NodeIdentitySchema>;

export const BootstrapSchema = z
  .object({
    version: z.literal(1),
    /** Commands as `{ type, data }`, proposed in order by the first leader. */
    commands: z.array(z.object({ type: z.string(), data: z.record(z.string(), z.unknown()) })),
  })
  .strict();

export type Bootstrap = z.infer<typeof BootstrapSchema>;

export function dataPaths(dataDir: string) {
  return {
    identity: join(dataDir, 'node.json'),
    raftDb: join(dataDir, 'raft.db'),
    stateDb: join(dataDir, 'state.db'),
    caCert: join(dataDir, 'tls', 'ca.pem'),
    caKey: join(dataDir, 'tls', 'ca-key.pem'),
    nodeCert: join(dataDir, 'tls', 'node.pem'),
    nodeKey: join(dataDir, 'tls', 'node-key.pem'),
    bootstrap: join(dataDir, 'bootstrap.json'),
    lock: join(dataDir, 'agent.pid'),
  };
}

export type DataPaths = ReturnType<typeof dataPaths>;

/** Writes a file atomically: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(path: string, content: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

function readJson<T>(path: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new BerthError(
      'bad_data_dir',
      `${what} at ${path} is unreadable: ${(error as Error).message}`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new BerthError(
      'bad_data_dir',
      `${what} at ${path} is malformed: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

export function readIdentity(paths: DataPaths): NodeIdentity {
  if (!existsSync(paths.identity)) {
    throw new BerthError(
      'not_initialized',
      `no node in ${dirname(paths.identity)}: run \`berth server init\` or \`berth server join\` first`,
    );
  }
  return readJson(paths.identity, NodeIdentitySchema, 'node identity');
}

export function writeIdentity(paths: DataPaths, identity: NodeIdentity): void {
  writeFileAtomic(
    paths.identity,
    `${JSON.stringify(NodeIdentitySchema.parse(identity), null, 2)}\n`,
  );
}

export function readBootstrap(paths: DataPaths): Bootstrap | undefined {
  if (!existsSync(paths.bootstrap)) return undefined;
  return readJson(paths.bootstrap, BootstrapSchema, 'bootstrap commands');
}

export function writeBootstrap(paths: DataPaths, bootstrap: Bootstrap): void {
  writeFileAtomic(paths.bootstrap, `${JSON.stringify(BootstrapSchema.parse(bootstrap))}\n`);
}

export function removeBootstrap(paths: DataPaths): void {
  rmSync(paths.bootstrap, { force: true });
}

export interface TlsFiles {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Present on voters only. */
  caKeyPem?: string;
}

export function readTls(paths: DataPaths): TlsFiles {
  for (const p of [paths.caCert, paths.nodeCert, paths.nodeKey]) {
    if (!existsSync(p))
      throw new BerthError('bad_data_dir', `missing ${p}; the data directory is incomplete`);
  }
  return {
    caPem: readFileSync(paths.caCert, 'utf8'),
    certPem: readFileSync(paths.nodeCert, 'utf8'),
    keyPem: readFileSync(paths.nodeKey, 'utf8'),
    caKeyPem: existsSync(paths.caKey) ? readFileSync(paths.caKey, 'utf8') : undefined,
  };
}

export function writeTls(paths: DataPaths, files: TlsFiles): void {
  writeFileAtomic(paths.caCert, files.caPem, 0o644);
  writeFileAtomic(paths.nodeCert, files.certPem, 0o644);
  writeFileAtomic(paths.nodeKey, files.keyPem);
  if (files.caKeyPem) writeFileAtomic(paths.caKey, files.caKeyPem);
}
