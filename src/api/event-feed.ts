/**
 * The event stream's source, shared by the NDJSON and WebSocket transports. Events are the
 * committed log itself, read lazily from a cursor: a stream holds no copy of the log, only
 * an index, so a slow client costs a cursor rather than a growing queue, and a client that
 * reconnects resumes exactly where it stopped with `?index=` (the last index it saw).
 *
 * Wire format, one JSON object per line (NDJSON) or per WebSocket text message:
 *   {"event":{"index":12,"topic":"job","type":"job.registered","data":{…}}}
 *   {"heartbeat":{"index":40}}    every entry up to 40 was sent or filtered out
 *   {"error":{"code":"…","message":"…"}}    the last line before the server ends the stream
 */
import { assert } from '../core/assert.ts';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { CommittedLog, LogEntry } from '../log/committed-log.ts';
import type { Gauge } from '../metrics/registry.ts';
import type { ClusterEvent, ClusterService } from './cluster-service.ts';

/** Topics whose payloads carry credentials; their events show identifiers only. */
const sensitiveTopics: ReadonlySet<string> = new Set(['secret', 'token', 'join']);

/** Fields a sensitive event keeps: enough to say what changed, nothing to use. */
const sensitiveFieldsKept = ['id', 'name', 'role', 'version', 'nodeId', 'expiresAtMs'];

/**
 * Keys removed from every event payload, at any depth: defence in depth for a new entry
 * type that carries key material under an ordinary topic.
 */
const credentialKeys: ReadonlySet<string> = new Set([
  'hash',
  'hashHex',
  'ciphertext',
  'token',
  'password',
  'privateKey',
]);

/** Depth to which payloads are scrubbed; deeper values are replaced (bounded recursion). */
const scrubDepthMax = 16;

/**
 * The default mapping from a log entry to an event. The topic is the type's first word
 * (`job.registered` and `job_registered` → `job`); secret, token and join-token payloads
 * are cut to identifiers, and credential-named keys are removed from every payload.
 */
export function defaultEventOf(entry: LogEntry): ClusterEvent {
  const topic = /^[a-z0-9]+/i.exec(entry.type)?.[0] ?? entry.type;
  let data = scrub(entry.data, 0);
  if (sensitiveTopics.has(topic)) {
    const source = (typeof data === 'object' && data !== null ? data : {}) as Record<
      string,
      unknown
    >;
    data = Object.fromEntries(
      sensitiveFieldsKept.filter((k) => k in source).map((k) => [k, source[k]]),
    );
  }
  return { index: entry.index, topic, type: entry.type, data };
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= scrubDepthMax) return '[deep]';
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!credentialKeys.has(key)) out[key] = scrub(v, depth + 1);
  }
  return out;
}

export function eventLine(event: ClusterEvent): string {
  return `${JSON.stringify({ event })}\n`;
}

export function heartbeatLine(index: number): string {
  return `${JSON.stringify({ heartbeat: { index } })}\n`;
}

export function errorLine(code: string, message: string): string {
  return `${JSON.stringify({ error: { code, message } })}\n`;
}

/** A cursor over the committed log that yields the events one client asked for. */
export class EventFeed {
  readonly #log: CommittedLog;
  readonly #toEvent: (entry: LogEntry) => ClusterEvent | null;
  readonly #topics: ReadonlySet<string> | null;
  #next: number;

  constructor(
    service: Pick<ClusterService, 'events' | 'toEvent'>,
    afterIndex: number,
    topics: ReadonlySet<string> | null,
  ) {
    assert(Number.isSafeInteger(afterIndex) && afterIndex >= 0, 'afterIndex must be >= 0');
    this.#log = service.events;
    this.#toEvent = (entry) => service.toEvent(entry);
    this.#topics = topics;
    this.#next = afterIndex + 1;
    this.#requireHeld();
  }

  /** The last index this feed has covered (sent or filtered out): what a client resumes from. */
  position(): number {
    return this.#next - 1;
  }

  /** True when committed entries are waiting to be read. */
  behind(): boolean {
    return this.#next <= this.#log.commitIndex();
  }

  /**
   * Reads at most `entriesMax` committed entries and returns the matching events (possibly
   * none, when all were filtered out). Throws `events_compacted` once the next entry is gone.
   */
  read(entriesMax: number): ClusterEvent[] {
    const commitIndex = this.#log.commitIndex();
    if (this.#next > commitIndex) return [];
    this.#requireHeld();
    const count = Math.min(entriesMax, limits.logReadBatchMax, commitIndex - this.#next + 1);
    assert(count >= 1, 'read: entriesMax must be positive');
    const entries = this.#log.read(this.#next, count);
    if (entries[0]?.index !== this.#next) {
      // Compaction may have run between the check and the read.
      this.#requireHeld();
      assert(false, `event feed: wanted entry ${this.#next}, got ${entries[0]?.index ?? 'none'}`);
    }
    const events: ClusterEvent[] = [];
    for (const entry of entries) {
      assert(entry.index === this.#next, `event feed: gap at ${this.#next}`);
      this.#next++;
      const event = this.#toEvent(entry);
      if (event && (this.#topics === null || this.#topics.has(event.topic))) events.push(event);
    }
    return events;
  }

  #requireHeld(): void {
    const firstIndex = this.#log.firstIndex();
    if (this.#next >= firstIndex || this.#next > this.#log.commitIndex()) return;
    throw new BerthError(
      'events_compacted',
      `events before index ${firstIndex} were compacted; resume from a fresh read (GET the objects) and stream without ?index=`,
      { firstIndex },
    );
  }
}

export interface EventHubOptions {
  clock: Clock;
  /** Heartbeat interval of idle streams, in ms. */
  heartbeatMs: number;
  /** A client that accepts nothing for this long while data waits is dropped, in ms. */
  stallMs: number;
  /** Open streams by transport (optional). */
  openStreams?: Gauge;
}

/**
 * What all streams of one API server share: ONE subscription to the log's commit
 * notifications fanned out to every stream (the log accepts only logCommitListenersMax
 * listeners), and the bound on open streams.
 */
export class EventHub {
  readonly service: Pick<ClusterService, 'events' | 'toEvent'>;
  readonly options: EventHubOptions;
  readonly #listeners = new Set<() => void>();
  #unsubscribeLog: (() => void) | undefined;
  #open = 0;

  constructor(service: Pick<ClusterService, 'events' | 'toEvent'>, options: EventHubOptions) {
    assert(options.heartbeatMs > 0 && options.stallMs > 0, 'stream timers must be positive');
    this.service = service;
    this.options = options;
  }

  /** Streams open now. */
  openCount(): number {
    return this.#open;
  }

  /** Takes one stream slot or throws `too_many_streams`; returns an idempotent release. */
  reserve(transport: 'ndjson' | 'websocket'): () => void {
    if (this.#open >= limits.eventStreamsMax) {
      throw new BerthError('too_many_streams', `this server already serves ${this.#open} streams`);
    }
    this.#open++;
    this.options.openStreams?.inc({ transport }, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      this.options.openStreams?.inc({ transport }, -1);
    };
  }

  /** Calls `fn` after each commit until the returned function is called. */
  onCommit(fn: () => void): () => void {
    assert(this.#listeners.size < limits.eventStreamsMax, 'more commit waiters than streams');
    this.#listeners.add(fn);
    this.#unsubscribeLog ??= this.service.events.onCommit(() => {
      for (const listener of [...this.#listeners]) listener();
    });
    return () => {
      this.#listeners.delete(fn);
      if (this.#listeners.size === 0) {
        this.#unsubscribeLog?.();
        this.#unsubscribeLog = undefined;
      }
    };
  }
}
