/**
 * `berth logs <job|allocation-id>`: the recent output of a job's allocations (merged by
 * time, each line prefixed with `[allocId stream]`) or of one allocation (plain lines).
 * The name is tried as a job first; a 404 `job_not_found` makes it an allocation id.
 * With -f it follows the NDJSON stream until Ctrl-C (exit 0). With --json every line is
 * printed as the server's NDJSON object (`{"line":{…}}`, `{"skipped":{…}}`).
 * Logs hold whatever the app printed, secrets included if the app prints them.
 */
import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import { flagInt, flagString, type ParsedArgs } from '../args.ts';
import type { ApiClient } from '../client.ts';
import { readNdjson } from '../ndjson.ts';
import { type Output, paint } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, positionals, segment } from './shared.ts';

/** Lines printed when --tail is not given. */
const tailDefault = 100;

interface LogLine {
  allocId?: string;
  stream: 'stdout' | 'stderr';
  line: string;
  atMs: number;
}

interface Skipped {
  allocId: string;
  node?: string;
  code: string;
  message: string;
}

interface StreamLine {
  line?: LogLine;
  skipped?: Skipped;
  heartbeat?: { atMs: number | null };
  error?: { code: string; message: string };
}

const durationUnitsMs: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `--since`: a duration back from now (`90s`, `10m`, `2h`, `1d`) or an RFC 3339 time. */
export function parseSince(raw: string, nowMs: number): number {
  const duration = /^(\d{1,9})([smhd])$/.exec(raw);
  if (duration) return nowMs - Number(duration[1]) * (durationUnitsMs[duration[2] as string] ?? 0);
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  const atMs = rfc3339.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isFinite(atMs) && atMs >= 0) return atMs;
  throw new BerthError(
    'usage',
    `--since must be a duration like 10m, 2h, 1d or a time like 2026-01-31T12:00:00Z, got "${raw}"`,
  );
}

/** The human form of one line: plain for an allocation, `[allocId stream]` for a job. */
export function lineText(out: Output, line: LogLine): string {
  const stderr = line.stream === 'stderr';
  if (line.allocId === undefined) return stderr ? paint(out, 'red', line.line) : line.line;
  const prefix = `[${line.allocId} ${line.stream}]`;
  return `${stderr ? paint(out, 'red', prefix) : paint(out, 'dim', prefix)} ${line.line}`;
}

function printSkipped(out: Output, s: Skipped): void {
  if (out.json) {
    out.out(JSON.stringify({ skipped: s }));
    return;
  }
  const where = s.node ? ` on node ${s.node}` : '';
  out.err(
    `${paint(out, 'yellow', 'warning')}: no logs from ${s.allocId}${where}: ${s.message} [${s.code}]`,
  );
}

function printLine(out: Output, line: LogLine): void {
  out.out(out.json ? JSON.stringify({ line }) : lineText(out, line));
}

interface Request {
  tail: number;
  since: number | undefined;
}

function requestOf(args: ParsedArgs): Request {
  const tail = flagInt(args, 'tail', tailDefault);
  if (tail > limits.apiLogLinesMax) {
    throw new BerthError('usage', `--tail is at most ${limits.apiLogLinesMax}, got ${tail}`);
  }
  const raw = flagString(args, 'since');
  return { tail, since: raw === undefined ? undefined : parseSince(raw, Date.now()) };
}

/** Tries `job` then `allocation`: the paths of one target, job first. */
function pathsOf(target: string): string[] {
  return [`/v1/jobs/${segment(target)}/logs`, `/v1/allocations/${segment(target)}/logs`];
}

/** Runs `attempt` on the job path, then on the allocation path if there is no such job. */
async function jobThenAllocation<T>(target: string, attempt: (path: string) => Promise<T>) {
  const [jobPath, allocPath] = pathsOf(target) as [string, string];
  try {
    return await attempt(jobPath);
  } catch (error) {
    if (!(error instanceof BerthError) || error.code !== 'job_not_found') throw error;
  }
  try {
    return await attempt(allocPath);
  } catch (error) {
    if (error instanceof BerthError && error.code === 'allocation_not_found') {
      throw new BerthError(
        'allocation_not_found',
        `no job or allocation named ${JSON.stringify(target)}; list jobs with \`berth job ls\` and allocations with \`berth status\``,
      );
    }
    throw error;
  }
}

/** One-shot read: prints the lines; exit 3 when no node holding them could be reached. */
async function printOnce(client: ApiClient, target: string, req: Request, out: Output) {
  const body = await jobThenAllocation(target, (path) =>
    client.request<{ lines: LogLine[]; errors?: Skipped[] }>(path, {
      query: { tail: req.tail, since: req.since },
    }),
  );
  for (const line of body.lines) printLine(out, line);
  const errors = body.errors ?? [];
  for (const s of errors) printSkipped(out, s);
  const allUnreachable = errors.length > 0 && body.lines.length === 0;
  return allUnreachable ? exitCode.unreachable : exitCode.ok;
}

/** Handles one stream line; the stream's error line is thrown as a BerthError. */
function handleStreamLine(out: Output, text: string): void {
  if (text.trim() === '') return;
  let parsed: StreamLine;
  try {
    parsed = JSON.parse(text) as StreamLine;
  } catch {
    throw new BerthError('bad_response', 'the log stream sent a line that is not JSON');
  }
  if (parsed.line) printLine(out, parsed.line);
  else if (parsed.skipped) printSkipped(out, parsed.skipped);
  else if (parsed.error) throw new BerthError(parsed.error.code, parsed.error.message);
}

async function follow(client: ApiClient, target: string, req: Request, out: Output) {
  let res: Response;
  try {
    res = await jobThenAllocation(target, (path) =>
      client.stream(path, {
        query: { tail: req.tail, since: req.since, follow: true },
        // A followed log is open-ended: no request timeout, only the interrupt signal.
        timeoutMs: undefined,
      }),
    );
  } catch (error) {
    if (error instanceof BerthError && error.code === 'cancelled') return exitCode.ok;
    throw error;
  }
  if (res.body)
    await readNdjson(res.body, out, (line) => handleStreamLine(out, line), { name: 'log' });
  if (out.signal?.aborted) return exitCode.ok;
  throw new BerthError('stream_ended', 'the server closed the log stream; run the command again');
}

export const logCommands: Command[] = [
  {
    path: ['logs'],
    summary: 'print the output of a job’s allocations or of one allocation',
    usage: 'berth logs <job|allocation-id> [-f] [--tail N] [--since 10m|RFC3339] [--json]',
    flags: [
      {
        name: 'follow',
        short: 'f',
        boolean: true,
        help: 'keep printing new lines (Ctrl-C to stop)',
      },
      {
        name: 'tail',
        help: `lines to show first (default ${tailDefault}, at most ${limits.apiLogLinesMax})`,
      },
      { name: 'since', help: 'only lines since a duration ago (10m, 2h) or an RFC 3339 time' },
    ],
    async run(args, out) {
      const [target] = positionals(args, this.usage, ['job or allocation id']) as [string];
      const req = requestOf(args);
      const client = clientFor(args, out);
      try {
        if (args.flags.follow) return await follow(client, target, req, out);
        return await printOnce(client, target, req, out);
      } catch (error) {
        // main.ts maps only its own `unreachable` to exit 3; a node that holds the logs
        // being down is the same situation for a script, one hop further.
        if (!(error instanceof BerthError) || error.code !== 'node_unreachable') throw error;
        const text = out.json
          ? JSON.stringify({ error: { code: error.code, message: error.message } })
          : `${paint(out, 'red', 'error')}: ${error.message} [${error.code}]\n  next: the node running it is down or cut off; check \`berth node ls\``;
        out.err(text);
        return exitCode.unreachable;
      }
    },
  },
];
