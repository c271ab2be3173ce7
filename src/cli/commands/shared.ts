/**
 * Helpers the API commands share: the client for the resolved context, positional
 * arguments with clear usage errors, and small formatters for tables.
 */
import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import { flagString, type ParsedArgs } from '../args.ts';
import { ApiClient } from '../client.ts';
import { resolveContext } from '../context.ts';
import type { Output } from '../output.ts';

/**
 * A client for the context the flags and environment select. Every request carries the
 * interrupt signal and a timeout, so a hung server cannot hang the CLI forever.
 */
export function clientFor(args: ParsedArgs, out: Output): ApiClient {
  const context = resolveContext({
    context: flagString(args, 'context'),
    address: flagString(args, 'address'),
    token: flagString(args, 'token'),
  });
  return new ApiClient(context, { signal: out.signal, timeoutMs: limits.cliRequestTimeoutMsMax });
}

/**
 * The positionals of a command, checked against its usage: exactly `names.length` of them
 * (each named in the error), or a `usage` error that says what was missing or extra.
 */
export function positionals(args: ParsedArgs, usage: string, names: readonly string[]): string[] {
  const got = args.positionals;
  if (got.length < names.length) {
    throw new BerthError('usage', `missing ${names[got.length]}; usage: ${usage}`);
  }
  if (got.length > names.length) {
    throw new BerthError('usage', `unexpected argument "${got[names.length]}"; usage: ${usage}`);
  }
  return got;
}

/** A Raft peer id (a positive integer), or a `usage` error naming the argument. */
export function peerId(raw: string, what: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1 || !/^\d+$/.test(raw)) {
    throw new BerthError(
      'usage',
      `${what} must be a Raft peer id (a positive whole number), got "${raw}"; see \`berth raft peers\``,
    );
  }
  return id;
}

/** A path segment for a user-given name, so `/` or `?` in it cannot change the route. */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

/** A list answer's items (`{ items: [...] }`), or a `bad_response` error. */
export function itemsOf<T>(body: unknown, what: string): T[] {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) {
    throw new BerthError('bad_response', `the server's ${what} list has no items array`);
  }
  return items as T[];
}

/** "yes"/"no" for boolean table cells. */
export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** A local file's text, or a `file_unreadable` error that names the path. */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await Bun.file(path).text();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new BerthError('file_unreadable', `cannot read ${path} (${reason}); check the path`);
  }
}
