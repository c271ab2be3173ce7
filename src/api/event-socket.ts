/**
 * The WebSocket transport of the event stream. Unlike NDJSON it is push-based: after each
 * commit the session sends what the client's filter selects. Bun buffers what the socket
 * cannot take yet, bounded by `backpressureLimit` (limits.eventSocketBufferedBytesMax):
 *   - `send` returning -1 means "buffered, back-pressure": the session stops reading the log
 *     until Bun calls `drain`;
 *   - `send` returning 0 means "dropped, buffer full": the stream now has a hole, so the
 *     session closes it (1008 `slow_consumer`) and the client resumes with `?index=`;
 *   - back-pressure lasting `stallMs` also closes it, freeing the stream slot.
 */
import type { ServerWebSocket, WebSocketHandler } from 'bun';
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

/** The socket as a session sees it (a Bun ServerWebSocket, or a test double). */
export interface EventSink {
  /** Bun semantics: bytes sent (> 0), -1 buffered under back-pressure, 0 dropped. */
  send(text: string): number;
  close(code: number, reason: string): void;
}

/** Close codes: 1008 policy violation (too slow), 1011 server error, 4410 compacted. */
export const closeCodes = { slowConsumer: 1008, serverError: 1011, compacted: 4410 } as const;

/** Log reads per pump before yielding to the event loop. */
const pumpReadsMax = 16;

/** One client's WebSocket event stream. */
export class EventSocketSession {
  readonly #hub: EventHub;
  readonly #feed: EventFeed;
  readonly #sink: EventSink;
  readonly #release: () => void;
  readonly #dropped: Counter | undefined;
  #ended = false;
  #backpressured = false;
  #unsubscribe: (() => void) | undefined;
  #cancelStall: (() => void) | undefined;
  #cancelHeartbeat: (() => void) | undefined;
  #cancelPump: (() => void) | undefined;

  constructor(
    hub: EventHub,
    feed: EventFeed,
    sink: EventSink,
    release: () => void,
    dropped?: Counter,
  ) {
    this.#hub = hub;
    this.#feed = feed;
    this.#sink = sink;
    this.#release = release;
    this.#dropped = dropped;
  }

  /** Subscribes to commits and sends the backlog. */
  start(): void {
    this.#unsubscribe = this.#hub.onCommit(() => this.#pump());
    this.#scheduleHeartbeat();
    this.#pump();
  }

  /** Bun's `drain`: the socket's buffer emptied, sending may resume. */
  drain(): void {
    if (this.#ended) return;
    this.#backpressured = false;
    this.#cancelStall?.();
    this.#cancelStall = undefined;
    this.#pump();
  }

  /** The socket closed (by the client or after `#end`); frees everything. */
  closed(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe?.();
    this.#cancelStall?.();
    this.#cancelHeartbeat?.();
    this.#cancelPump?.();
    this.#release();
  }

  get ended(): boolean {
    return this.#ended;
  }

  #pump(): void {
    if (this.#ended || this.#backpressured) return;
    this.#cancelPump?.();
    this.#cancelPump = undefined;
    for (let read = 0; read < pumpReadsMax; read++) {
      let lines: string[];
      try {
        lines = this.#feed.read(limits.logReadBatchMax).map(eventLine);
      } catch (error) {
        if (!(error instanceof BerthError)) throw error;
        this.#sink.send(errorLine(error.code, error.message));
        const code =
          error.code === 'events_compacted' ? closeCodes.compacted : closeCodes.serverError;
        this.#end(code, error.code);
        return;
      }
      for (const line of lines) if (!this.#send(line)) return;
      if (this.#backpressured || !this.#feed.behind()) return;
    }
    // A long backlog continues on the next turn so other sockets and requests get a say.
    this.#cancelPump = this.#hub.options.clock.setTimer(0, () => this.#pump());
  }

  /** Sends one line; false when the session ended because the line was dropped. */
  #send(line: string): boolean {
    const result = this.#sink.send(line);
    if (result === 0) {
      this.#drop(`send buffer over ${limits.eventSocketBufferedBytesMax} bytes`);
      return false;
    }
    if (result === -1 && !this.#backpressured) {
      this.#backpressured = true;
      const { clock, stallMs } = this.#hub.options;
      this.#cancelStall = clock.setTimer(stallMs, () => {
        this.#drop(`no progress for ${stallMs} ms`);
      });
    }
    return true;
  }

  #drop(why: string): void {
    if (this.#ended) return;
    this.#dropped?.inc({ transport: 'websocket', reason: 'slow_consumer' });
    // Lines after the dropped one never left, so the client resumes from the last event
    // it received (close reasons are limited to 123 bytes).
    const reason = `slow_consumer: ${why}; reconnect with ?index=<last index received>`;
    this.#end(closeCodes.slowConsumer, reason.slice(0, 123));
  }

  #scheduleHeartbeat(): void {
    const { clock, heartbeatMs } = this.#hub.options;
    this.#cancelHeartbeat = clock.setTimer(heartbeatMs, () => {
      if (this.#ended) return;
      if (!this.#backpressured && !this.#feed.behind()) {
        this.#send(heartbeatLine(this.#feed.position()));
      }
      this.#scheduleHeartbeat();
    });
  }

  #end(code: number, reason: string): void {
    this.#sink.close(code, reason);
    this.closed();
  }
}

/** What an upgraded socket carries: the session is made once the socket is open. */
export interface EventSocketData {
  start(sink: EventSink): EventSocketSession;
  session?: EventSocketSession;
}

/** Bun's WebSocket handler for event-stream sockets; pass it to Bun.serve (see serveApi). */
export const eventSocketHandler: WebSocketHandler<EventSocketData> = {
  open(ws: ServerWebSocket<EventSocketData>) {
    ws.data.session = ws.data.start({
      send: (text) => ws.send(text),
      close: (code, reason) => ws.close(code, reason),
    });
  },
  message() {
    // The stream is one-way; what a client sends is ignored.
  },
  drain(ws) {
    ws.data.session?.drain();
  },
  close(ws) {
    ws.data.session?.closed();
  },
  backpressureLimit: limits.eventSocketBufferedBytesMax,
  // The session closes slow sockets itself, with a reason the client can act on.
  closeOnBackpressureLimit: false,
};
