/**
 * `berth secret set|get|ls|rm|import`. Values travel only in request bodies; no command
 * except `secret get` (admin) ever prints one, and errors name keys and lines, not values.
 */
import { BerthError } from '../../core/errors.ts';
import { parseDotenv } from '../../secrets/dotenv.ts';
import { flagString, type ParsedArgs } from '../args.ts';
import type { ApiClient } from '../client.ts';
import { ago, emit, type Output, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, positionals, readTextFile, segment } from './shared.ts';

interface SecretMetaView {
  name: string;
  version: number;
  updatedAtMs: number;
}

const setUsage = 'berth secret set NAME [VALUE | - | --from-file FILE]';

/**
 * The value to store: the VALUE argument, a file's exact bytes, or standard input when VALUE
 * is `-` (one trailing newline dropped, since `echo x |` adds it). Exactly one source.
 */
async function secretValue(
  args: ParsedArgs,
  out: Output,
): Promise<{ name: string; value: string }> {
  const fromFile = flagString(args, 'from-file');
  const [name, inline, extra] = args.positionals;
  if (name === undefined) throw new BerthError('usage', `missing NAME; usage: ${setUsage}`);
  if (extra !== undefined) {
    throw new BerthError('usage', `unexpected argument after the value; usage: ${setUsage}`);
  }
  if (fromFile !== undefined && inline !== undefined) {
    throw new BerthError('usage', `give the value or --from-file, not both; usage: ${setUsage}`);
  }
  if (fromFile !== undefined) return { name, value: await readTextFile(fromFile) };
  if (inline === undefined) {
    throw new BerthError(
      'usage',
      `missing the value: pass it, \`-\` to read standard input, or --from-file FILE; usage: ${setUsage}`,
    );
  }
  if (inline !== '-') return { name, value: inline };
  const text = await out.readStdin();
  return { name, value: text.endsWith('\n') ? text.slice(0, -1) : text };
}

async function putSecret(client: ApiClient, name: string, value: string): Promise<number> {
  const body = await client.request<{ index: number }>(`/v1/secrets/${segment(name)}`, {
    method: 'PUT',
    body: { value },
  });
  return body.index;
}

/**
 * Sets every entry of a parsed .env file in order, stopping at the first failure with an
 * error that says how many were set before it (the API has no multi-key transaction).
 */
async function importEntries(
  client: ApiClient,
  entries: { key: string; value: string }[],
): Promise<string[]> {
  const set: string[] = [];
  for (const entry of entries) {
    try {
      await putSecret(client, entry.key, entry.value);
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      throw new BerthError(
        error.code,
        `set ${set.length} of ${entries.length} secrets, then ${entry.key} failed: ${error.message}`,
        error.details,
      );
    }
    set.push(entry.key);
  }
  return set;
}

/** Parses the .env text; bad lines are listed one per line on stderr before failing. */
function parseEnvFile(path: string, text: string, out: Output): { key: string; value: string }[] {
  try {
    return parseDotenv(text);
  } catch (error) {
    if (!(error instanceof BerthError) || error.code !== 'dotenv_invalid') throw error;
    const errors = (error.details?.errors ?? []) as { line: number; message: string }[];
    for (const e of errors) out.err(`${path}:${e.line}: ${e.message}`);
    throw new BerthError(
      'dotenv_invalid',
      `${errors.length} bad line(s) in ${path}; nothing was set`,
    );
  }
}

export const secretCommands: Command[] = [
  {
    path: ['secret', 'set'],
    summary: 'set a secret (deploy or admin); the value is never printed',
    usage: `${setUsage}   (a VALUE argument lands in shell history; prefer - or --from-file)`,
    flags: [{ name: 'from-file', help: 'read the value from this file, byte for byte' }],
    async run(args, out) {
      const { name, value } = await secretValue(args, out);
      const index = await putSecret(clientFor(args, out), name, value);
      emit(out, { name, index }, () => `secret ${name} set (log index ${index})`);
      return exitCode.ok;
    },
  },
  {
    path: ['secret', 'get'],
    summary: 'print a secret’s value (admin only)',
    usage: 'berth secret get NAME [--json]',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['NAME']) as [string];
      const body = await clientFor(args, out).request<{ name: string; value: string }>(
        `/v1/secrets/${segment(name)}`,
      );
      emit(out, body, () => body.value);
      return exitCode.ok;
    },
  },
  {
    path: ['secret', 'ls'],
    aliases: [['secret', 'list']],
    summary: 'list secret names and versions (never values)',
    usage: 'berth secret ls [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const body = await clientFor(args, out).request('/v1/secrets');
      const secrets = itemsOf<SecretMetaView>(body, 'secret');
      emit(out, secrets, () =>
        table(
          ['name', 'version', 'updated'],
          secrets.map((s) => [s.name, s.version, ago(s.updatedAtMs)]),
        ),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['secret', 'rm'],
    aliases: [['secret', 'remove']],
    summary: 'delete a secret (deploy or admin)',
    usage: 'berth secret rm NAME',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['NAME']) as [string];
      const body = await clientFor(args, out).request<{ index: number }>(
        `/v1/secrets/${segment(name)}`,
        { method: 'DELETE' },
      );
      emit(
        out,
        { name, index: body.index },
        () => `secret ${name} removed (log index ${body.index})`,
      );
      return exitCode.ok;
    },
  },
  {
    path: ['secret', 'import'],
    summary: 'set every KEY=VALUE of a .env file as a secret (deploy or admin)',
    usage: 'berth secret import FILE',
    flags: [],
    async run(args, out) {
      const [path] = positionals(args, this.usage, ['FILE']) as [string];
      const entries = parseEnvFile(path, await readTextFile(path), out);
      const client = clientFor(args, out);
      const set = await importEntries(client, entries);
      emit(out, { file: path, count: set.length, names: set }, () =>
        set.length === 0
          ? `no entries in ${path}; nothing was set`
          : `set ${set.length} secret(s) from ${path}: ${set.join(', ')}`,
      );
      return exitCode.ok;
    },
  },
];
