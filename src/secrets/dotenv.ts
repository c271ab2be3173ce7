/**
 * Parsing `.env` files for `berth secret import .env`: `KEY=VALUE` lines, an optional
 * `export ` prefix, `#` comments, single quotes (literal), double quotes (with `\n`, `\t`,
 * `\"`, `\\` escapes, and may span lines). A key given twice keeps its last value, as in
 * Docker Compose.
 *
 * Every bad line is reported with its number, all at once; error messages name lines and
 * keys but never contain a value, because values are secrets.
 */
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

export interface DotenvEntry {
  key: string;
  value: string;
  /** 1-based line where the entry starts. */
  line: number;
}

export interface DotenvLineError {
  line: number;
  message: string;
}

const keyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const assignmentPattern = /^(?:export\s+)?([^=\s]*)\s*=\s*(.*)$/;
const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/**
 * Parses a `.env` text into entries in file order (duplicates resolved, last wins).
 * Throws BerthError `dotenv_invalid` with `details.errors: DotenvLineError[]`.
 */
export function parseDotenv(text: string): DotenvEntry[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > limits.dotenvLinesMax) {
    throw invalid([{ line: limits.dotenvLinesMax + 1, message: 'too many lines' }]);
  }
  const errors: DotenvLineError[] = [];
  const byKey = new Map<string, DotenvEntry>();
  let i = 0;
  while (i < lines.length) {
    const start = i;
    const parsed = parseEntry(lines, i);
    i = parsed.next;
    if (parsed.kind === 'error') errors.push({ line: start + 1, message: parsed.message });
    if (parsed.kind !== 'entry') continue;
    byKey.delete(parsed.key);
    byKey.set(parsed.key, { key: parsed.key, value: parsed.value, line: start + 1 });
  }
  if (errors.length > 0) throw invalid(errors);
  return [...byKey.values()];
}

type Parsed =
  | { kind: 'skip'; next: number }
  | { kind: 'error'; message: string; next: number }
  | { kind: 'entry'; key: string; value: string; next: number };

/** Parses the entry starting at line `i`; a double-quoted value may consume more lines. */
function parseEntry(lines: string[], i: number): Parsed {
  const text = lines[i]!.trim();
  if (text === '' || text.startsWith('#')) return { kind: 'skip', next: i + 1 };
  const match = assignmentPattern.exec(text);
  if (!match) return { kind: 'error', message: 'expected KEY=VALUE', next: i + 1 };
  const key = match[1]!;
  if (!keyPattern.test(key)) {
    return { kind: 'error', message: `invalid key ${JSON.stringify(key)}`, next: i + 1 };
  }
  const rest = match[2]!;
  if (rest.startsWith("'")) return singleQuoted(key, rest, i);
  if (rest.startsWith('"')) return doubleQuoted(key, lines, rest, i);
  // Unquoted: a `#` after whitespace starts a comment.
  const value = rest.replace(/\s+#.*$/, '').trim();
  return { kind: 'entry', key, value, next: i + 1 };
}

function singleQuoted(key: string, rest: string, i: number): Parsed {
  const end = rest.indexOf("'", 1);
  if (end < 0) return { kind: 'error', message: `unterminated ' quote for ${key}`, next: i + 1 };
  if (!isTrailerOk(rest.slice(end + 1))) {
    return {
      kind: 'error',
      message: `unexpected text after the quoted value of ${key}`,
      next: i + 1,
    };
  }
  return { kind: 'entry', key, value: rest.slice(1, end), next: i + 1 };
}

function doubleQuoted(key: string, lines: string[], rest: string, i: number): Parsed {
  let value = '';
  let text = rest.slice(1);
  // Bounded by the file's line count, itself bounded by limits.dotenvLinesMax.
  for (let line = i; line < lines.length; line++) {
    if (line > i) text = lines[line]!;
    for (let c = 0; c < text.length; c++) {
      const ch = text[c]!;
      if (ch === '\\' && c + 1 < text.length) {
        const next = text[c + 1]!;
        value += escapes[next] ?? `\\${next}`;
        c++;
      } else if (ch === '"') {
        if (!isTrailerOk(text.slice(c + 1))) {
          const message = `unexpected text after the quoted value of ${key}`;
          return { kind: 'error', message, next: line + 1 };
        }
        return { kind: 'entry', key, value, next: line + 1 };
      } else {
        value += ch;
      }
    }
    value += '\n';
  }
  return { kind: 'error', message: `unterminated " quote for ${key}`, next: lines.length };
}

/** After a closing quote only whitespace or a comment may follow. */
function isTrailerOk(trailer: string): boolean {
  const trimmed = trailer.trim();
  return trimmed === '' || trimmed.startsWith('#');
}

function invalid(errors: DotenvLineError[]): BerthError {
  const shown = errors
    .slice(0, 5)
    .map((e) => `line ${e.line}: ${e.message}`)
    .join('; ');
  const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
  return new BerthError('dotenv_invalid', `invalid .env file: ${shown}${more}`, { errors });
}
