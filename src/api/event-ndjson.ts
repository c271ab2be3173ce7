/**
 * The NDJSON transport of the event stream: a pull-based ReadableStream. Entries are read
 * from the log only when the client has room (the stream's queue is bounded by
 * limits.eventStreamQueueLinesMax lines), so a slow reader causes back-pressure, not memory
 * growth. A reader whose queue stays full for `stallMs` is dropped: it would otherwise hold
 * one of the eventStreamsMax slots forever. Its last line says why.
 */
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Counter } from '../metrics/registry.ts';
import {
  type EventFeed,
  type EventHub,
  errorLine,
  eventLine,
  heartbeatLine,
} from './event-feed.ts';

/** Reads in one pull before answering with a heartbeat (when every entry was filtered out). */
const pullReadsMax = 64;

type Wake = 'commit' | 'heartbeat' | 'closed';

/** An NDJSON body streaming `feed`; `release` frees the stream slot when it ends. */
export function ndjsonEventStream(
  hub: EventHub,
  feed: EventFeed,
  release: () => void,
  dropped?: Counter,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    new NdjsonSource(hub, feed, release, dropped),
    new CountQueuingStrategy({ highWaterMark: limits.eventStreamQueueLinesMax }),
  );
}

/** The pull source behind one NDJSON stream. */
class NdjsonSource {
  readonly #hub: EventHub;
  readonly #feed: EventFeed;
  readonly #release: () => void;
  readonly #dropped: Counter | undefined;
  readonly #encoder = new TextEncoder();
  #ended = false;
  #wakeWaiter: ((wake: Wake) => void) | undefined;
  #cancelStall: (() => void) | undefined;

  constructor(hub: EventHub, feed: EventFeed, release: () => void, dropped?: Counter) {
    this.#hub = hub;
    this.#feed = feed;
    this.#release = release;
    this.#dropped = dropped;
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    this.#cancelStall?.();
    this.#cancelStall = undefined;
    for (let read = 0; read < pullReadsMax && !this.#ended; read++) {
      let lines: string[];
      try {
        lines = this.#feed.read(Math.max(1, controller.desiredSize ?? 1)).map(eventLine);
      } catch (error) {
        if (!(error instanceof BerthError)) throw error;
        this.#endWith(controller, errorLine(error.code, error.message));
        return;
      }
      if (lines.length > 0) {
        for (const line of lines) controller.enqueue(this.#encoder.encode(line));
        this.#armStall(controller);
        return;
      }
      if (this.#feed.behind()) continue;
      const wake = await this.#waitForWork();
      if (wake === 'closed') return;
      if (wake === 'heartbeat') break;
    }
    if (this.#ended) return;
    // A heartbeat tells an idle client the stream is alive and how far it has been
    // covered, so a reconnect after long filtered stretches does not re-read them. It is
    // also the answer when a whole pull's reads were filtered out: a pull must enqueue
    // something, or the reader waiting on it would never be woken.
    controller.enqueue(this.#encoder.encode(heartbeatLine(this.#feed.position())));
    this.#armStall(controller);
  }

  cancel(): void {
    this.#finish();
  }

  /** Waits for the next commit or the heartbeat interval, whichever comes first. */
  #waitForWork(): Promise<Wake> {
    return new Promise<Wake>((resolve) => {
      const done = (wake: Wake) => {
        unsubscribe();
        cancelTimer();
        this.#wakeWaiter = undefined;
        resolve(wake);
      };
      const unsubscribe = this.#hub.onCommit(() => done('commit'));
      const cancelTimer = this.#hub.options.clock.setTimer(this.#hub.options.heartbeatMs, () =>
        done('heartbeat'),
      );
      this.#wakeWaiter = done;
    });
  }

  /** With the queue full, starts the timer that drops a client that never reads again. */
  #armStall(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if ((controller.desiredSize ?? 0) > 0) return;
    const { clock, stallMs } = this.#hub.options;
    this.#cancelStall = clock.setTimer(stallMs, () => {
      if (this.#ended) return;
      this.#dropped?.inc({ transport: 'ndjson', reason: 'slow_consumer' });
      const resumeIndex = this.#feed.position();
      const message = `dropped: the client read nothing for ${stallMs} ms; resume with ?index=${resumeIndex}`;
      this.#endWith(controller, errorLine('slow_consumer', message));
    });
  }

  /** Ends the stream with a last line (enqueued past the bound: it is the only extra one). */
  #endWith(controller: ReadableStreamDefaultController<Uint8Array>, line: string): void {
    controller.enqueue(this.#encoder.encode(line));
    controller.close();
    this.#finish();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#cancelStall?.();
    this.#wakeWaiter?.('closed');
    this.#release();
  }
}
