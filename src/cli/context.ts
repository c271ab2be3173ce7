/**
 * Saved CLI contexts in `~/.config/berth/contexts.json` (or `$BERTH_CONFIG_DIR`): per
 * cluster, the API address, the cluster CA (PEM, with its SHA-256 fingerprint for people)
 * and a bearer token. The file holds tokens, so it is written 0600, atomically.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';

export const ContextSchema = z
  .object({
    address: z.string().url(),
    caPem: z.string().optional(),
    caFingerprint: z.string().optional(),
    token: z.string().optional(),
  })
  .strict();

export const ContextFileSchema = z
  .object({
    current: z.string().optional(),
    contexts: z.record(z.string(), ContextSchema),
  })
  .strict();

export type CliContext = z.infer<typeof ContextSchema>;
export type ContextFile = z.infer<typeof ContextFileSchema>;

export function configDir(env: Record<string, string | undefined> = process.env): string {
  if (env.BERTH_CONFIG_DIR) return env.BERTH_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'berth');
}

export function loadContexts(dir: string = configDir()): ContextFile {
  const path = join(dir, 'contexts.json');
  if (!existsSync(path)) return { contexts: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new BerthError('bad_context_file', `${path} is not valid JSON; fix or delete it`);
  }
  const parsed = ContextFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BerthError(
      'bad_context_file',
      `${path} is malformed: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

/** Writes the file atomically (temp file, then rename) with mode 0600. */
export function saveContexts(file: ContextFile, dir: string = configDir()): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'contexts.json');
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Adds or replaces a context and makes it current. */
export function useContext(name: string, context: CliContext, dir: string = configDir()): void {
  const file = loadContexts(dir);
  file.contexts[name] = ContextSchema.parse(context);
  file.current = name;
  saveContexts(file, dir);
}

/**
 * The context a command talks to: `--context`, else the current one; `--address`,
 * `--token`, BERTH_ADDR and BERTH_TOKEN override its fields.
 */
export function resolveContext(
  overrides: { context?: string; address?: string; token?: string },
  env: Record<string, string | undefined> = process.env,
  dir: string = configDir(env),
): CliContext {
  const file = loadContexts(dir);
  const name = overrides.context ?? file.current;
  const saved = name ? file.contexts[name] : undefined;
  if (overrides.context && !saved) {
    const known = Object.keys(file.contexts).join(', ') || 'none';
    throw new BerthError('unknown_context', `no context "${overrides.context}" (saved: ${known})`);
  }
  const address = overrides.address ?? env.BERTH_ADDR ?? saved?.address;
  if (!address) {
    throw new BerthError(
      'no_context',
      'no cluster configured: run `make demo`, or pass --address https://host:4646 --token …',
    );
  }
  return {
    address,
    caPem: saved?.caPem,
    caFingerprint: saved?.caFingerprint,
    token: overrides.token ?? env.BERTH_TOKEN ?? saved?.token,
  };
}
