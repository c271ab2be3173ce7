/**
 * A small, strict argument parser for the CLI: `--flag value`, `--flag=value`, boolean
 * flags, `-f` short aliases and positionals. Unknown flags are errors (exit code 2), with
 * a "did you mean" when one is close, so a typo never silently changes what a command does.
 */
import { BerthError } from '../core/errors.ts';

export interface FlagSpec {
  /** Long name without dashes, e.g. `json`. */
  name: string;
  /** One-letter alias without the dash, e.g. `f`. */
  short?: string;
  /** Boolean flags take no value. */
  boolean?: boolean;
  /** Shown in `--help`. */
  help: string;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean>;
}

/** Flags every command accepts. */
export const globalFlags: FlagSpec[] = [
  { name: 'json', boolean: true, help: 'print machine-readable JSON' },
  { name: 'context', help: 'use this saved context instead of the current one' },
  { name: 'address', help: 'API address (https://host:port); overrides the context' },
  { name: 'token', help: 'bearer token; overrides the context and BERTH_TOKEN' },
  { name: 'help', short: 'h', boolean: true, help: 'show help' },
];

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(
        cur + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/** The closest candidate within distance 2, if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function findFlag(specs: readonly FlagSpec[], token: string): FlagSpec | undefined {
  if (token.startsWith('--')) return specs.find((s) => s.name === token.slice(2));
  return specs.find((s) => s.short !== undefined && s.short === token.slice(1));
}

/** Parses `argv` against `specs` (plus the global flags). Throws BerthError `usage`. */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const all = [...globalFlags, ...specs];
  const out: ParsedArgs = { positionals: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.positionals.push(arg);
      continue;
    }
    const [token, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const spec = findFlag(all, token as string);
    if (!spec) {
      const hint = suggest(
        (token as string).replace(/^-+/, ''),
        all.map((s) => s.name),
      );
      throw new BerthError(
        'usage',
        `unknown flag ${token}${hint ? ` (did you mean --${hint}?)` : ''}`,
      );
    }
    if (spec.boolean) {
      if (inline !== undefined) throw new BerthError('usage', `--${spec.name} takes no value`);
      out.flags[spec.name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new BerthError('usage', `--${spec.name} needs a value`);
    }
    out.flags[spec.name] = value;
  }
  return out;
}

/** A string flag's value, or undefined. */
export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A positive integer flag, or the default. Throws `usage` for garbage. */
export function flagInt(args: ParsedArgs, name: string, fallback: number): number {
  const raw = flagString(args, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new BerthError('usage', `--${name} must be a whole number, got "${raw}"`);
  return n;
}
