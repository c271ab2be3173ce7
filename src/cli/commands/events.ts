/**
 * `berth events`: follows the NDJSON event stream (`GET /v1/events`), one line per event.
 * With --json it prints the server's lines as they come (heartbeats included), so scripts
 * can resume from the last index they saw. Ctrl-C ends it with status 0.
 */
import { BerthError } from '../../core/errors.ts';
import { flagInt, flagString } from '../args.ts';
import { readNdjson } from '../ndjson.ts';
import { type Output, paint } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, positionals } from './shared.ts';

/** Characters of an event's data shown on one human line. */
const dataCharsShownMax = 160;

interface StreamLine {
  event?: { index: number; topic: string; type: string; data: unknown };
  heartbeat?: { index: number };
  error?: { code: string; message: string };
}

/** The human form of one event: index, topic, type and a clipped JSON of its data. */
export function eventText(out: Output, event: NonNullable<StreamLine['event']>): string {
  const data = JSON.stringify(event.data ?? null);
  const clipped =
    data.length > dataCharsShownMax ? `${data.slice(0, dataCharsShownMax - 1)}…` : data;
  return `${paint(out, 'dim', String(event.index).padStart(6))}  ${event.topic}  ${paint(out, 'bold', event.type)}  ${clipped}`;
}

/** Follows one stream; tracks the last index covered so every error says where to resume. */
class EventPrinter {
  readonly #out: Output;
  lastIndex: number | undefined;

  constructor(out: Output, startIndex: number | undefined) {
    this.#out = out;
    this.lastIndex = startIndex;
  }

  /** Handles one line; throws the stream's own error line as a BerthError. */
  line(text: string): void {
    if (text.trim() === '') return;
    let parsed: StreamLine;
    try {
      parsed = JSON.parse(text) as StreamLine;
    } catch {
      throw new BerthError('bad_response', `the event stream sent a line that is not JSON`);
    }
    if (this.#out.json) this.#out.out(text);
    if (parsed.event) {
      this.lastIndex = parsed.event.index;
      if (!this.#out.json) this.#out.out(eventText(this.#out, parsed.event));
    } else if (parsed.heartbeat) {
      this.lastIndex = parsed.heartbeat.index;
    } else if (parsed.error) {
      throw new BerthError(parsed.error.code, `${parsed.error.message}${this.resumeHint()}`);
    }
  }

  resumeHint(): string {
    return this.lastIndex === undefined ? '' : `; resume with --index ${this.lastIndex}`;
  }
}

export const eventCommands: Command[] = [
  {
    path: ['events'],
    summary: 'follow the cluster’s event stream (Ctrl-C to stop)',
    usage: 'berth events [--topic job,secret] [--index N] [--json]',
    flags: [
      { name: 'topic', help: 'only these topics, comma-separated (job, secret, token, node, …)' },
      {
        name: 'index',
        help: 'start after this log index (0 = from the start); default: new events only',
      },
    ],
    async run(args, out) {
      positionals(args, this.usage, []);
      const index = args.flags.index === undefined ? undefined : flagInt(args, 'index', 0);
      const client = clientFor(args, out);
      let res: Response;
      try {
        res = await client.stream('/v1/events', {
          query: { topic: flagString(args, 'topic'), index },
          // A stream is open-ended: no request timeout, only the interrupt signal.
          timeoutMs: undefined,
        });
      } catch (error) {
        if (error instanceof BerthError && error.code === 'cancelled') return exitCode.ok;
        throw error;
      }
      const startIndex = Number(res.headers.get('x-berth-index') ?? Number.NaN);
      const printer = new EventPrinter(out, Number.isSafeInteger(startIndex) ? startIndex : index);
      if (res.body)
        await readNdjson(res.body, out, (line) => printer.line(line), {
          name: 'event',
          resumeHint: () => printer.resumeHint(),
        });
      if (out.signal?.aborted) return exitCode.ok;
      throw new BerthError(
        'stream_ended',
        `the server closed the event stream${printer.resumeHint()}`,
      );
    },
  },
];
