/**
 * CLI output: tables for people (colours only on a TTY and without NO_COLOR), JSON for
 * programs (`--json`). Errors always go to stderr with what to do next.
 */
export interface Output {
  json: boolean;
  color: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Reads all of standard input (`berth secret set NAME -`). */
  readStdin: () => Promise<string>;
  /** Aborted when the user interrupts a long-running command (Ctrl-C), if the caller set one. */
  signal: AbortSignal | undefined;
}

/**
 * Where a CLI run reads and writes. The defaults are the process's own streams; tests pass
 * sinks to capture output in-process, a stdin text, and a signal to stop a stream.
 */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  readStdin: () => Promise<string>;
  signal: AbortSignal;
  /** Whether stdout is a terminal (colours). Default: process.stdout.isTTY. */
  isTty: boolean;
}

export function createOutput(json: boolean, io: Partial<CliIo> = {}): Output {
  const isTty = io.isTty ?? Boolean(process.stdout.isTTY);
  const color = isTty && !process.env.NO_COLOR && !json;
  const write = io.out ?? ((t: string) => process.stdout.write(t));
  const writeErr = io.err ?? ((t: string) => process.stderr.write(t));
  return {
    json,
    color,
    out: (t) => write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => writeErr(t.endsWith('\n') ? t : `${t}\n`),
    readStdin: io.readStdin ?? (() => Bun.stdin.text()),
    signal: io.signal,
  };
}

const codes = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
} as const;

export function paint(o: Output, style: keyof typeof codes, text: string): string {
  if (!o.color) return text;
  const [on, off] = codes[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

/** Renders rows as an aligned table with a header, like `docker ps`. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('   ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n');
}

/** Prints `value` as JSON, or `human()` for people. */
export function emit(o: Output, value: unknown, human: () => string): void {
  o.out(o.json ? JSON.stringify(value, null, 2) : human());
}

/** "3s ago"-style durations for tables. */
export function ago(ms: number, nowMs: number = Date.now()): string {
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}
