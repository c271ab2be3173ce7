/**
 * Test helpers for the raw upstream client: a scripted HTTP/1.1 upstream on 127.0.0.1
 * (Bun.listen, in this process) whose answers are written byte for byte by the test, and
 * a recording Exchange. Each connection and each request it sees is counted, so tests can
 * assert keep-alive reuse and retries.
 */
import type { Socket, TCPSocketListener } from 'bun';
import type { Exchange, ExchangeFailureKind, UpstreamReply } from './upstream-conn.ts';

/** One request as the scripted upstream received it. */
export interface SeenRequest {
  /** 1-based number of the connection it came on. */
  connection: number;
  /** 1-based number of the request on that connection. */
  indexOnConnection: number;
  method: string;
  target: string;
  /** The raw head text, request line included. */
  head: string;
  body: Buffer;
}

/**
 * What the script does with a request: write these chunks, then optionally close. No
 * chunks and no close holds the request: the script may answer later through the socket.
 */
export interface ScriptAction {
  chunks?: Array<string | Uint8Array>;
  /** Close the connection after writing (or without writing). */
  close?: boolean;
}

export type Script = (request: SeenRequest, socket: Socket<ConnState>) => ScriptAction;

interface ConnState {
  id: number;
  requests: number;
  buffered: Buffer;
}

export interface ScriptedUpstream {
  port: number;
  url: string;
  requests: SeenRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Connections open now. */
  openConnections(): number;
  /** Closes every open connection from the server side (an idle-timeout sweep). */
  closeAll(): void;
  stop(): void;
}

/** Starts a scripted upstream; `script` answers each complete request. */
export function scriptedUpstream(script: Script): ScriptedUpstream {
  const requests: SeenRequest[] = [];
  const open = new Set<Socket<ConnState>>();
  let accepted = 0;
  const listener: TCPSocketListener<ConnState> = Bun.listen<ConnState>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        accepted += 1;
        socket.data = { id: accepted, requests: 0, buffered: Buffer.alloc(0) };
        open.add(socket);
      },
      data(socket, data) {
        const state = socket.data;
        state.buffered = Buffer.concat([state.buffered, data]);
        // Requests are answered one at a time, in order (no pipelining from the router).
        for (let request = takeRequest(state); request; request = takeRequest(state)) {
          requests.push(request);
          const action = script(request, socket);
          for (const chunk of action.chunks ?? []) socket.write(chunk);
          if (action.close) socket.end();
        }
      },
      close(socket) {
        open.delete(socket);
      },
    },
  });
  return {
    port: listener.port,
    url: `http://127.0.0.1:${listener.port}`,
    requests,
    connections: () => accepted,
    openConnections: () => open.size,
    closeAll: () => {
      for (const socket of open) socket.end();
    },
    stop: () => listener.stop(true),
  };
}

/** Cuts one complete request (head and Content-Length body) off the connection's buffer. */
function takeRequest(state: ConnState): SeenRequest | undefined {
  const end = state.buffered.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = state.buffered.toString('latin1', 0, end);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
  if (state.buffered.length < end + 4 + length) return undefined;
  const body = state.buffered.subarray(end + 4, end + 4 + length);
  state.buffered = state.buffered.subarray(end + 4 + length);
  state.requests += 1;
  const [method = '', target = ''] = head.split(' ');
  return {
    connection: state.id,
    indexOnConnection: state.requests,
    method,
    target,
    head,
    body: Buffer.from(body),
  };
}

/** An HTTP/1.1 answer with a Content-Length body. */
export function okResponse(body: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 200 OK\r\n${lines.join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** What a recording Exchange saw. */
export type ExchangeOutcome =
  | { ok: true; reply: UpstreamReply }
  | { ok: false; kind: ExchangeFailureKind; retrySafe: boolean };

/** An Exchange that records its outcome and counts body ends. */
export class RecordingExchange implements Exchange {
  readonly head: string;
  readonly body: Uint8Array | null;
  readonly isHead: boolean;
  readonly replayable: boolean;
  readonly outcome: Promise<ExchangeOutcome>;
  bodyEnds = 0;
  #resolve!: (outcome: ExchangeOutcome) => void;

  constructor(
    head: string,
    options: { body?: Uint8Array; isHead?: boolean; replayable?: boolean } = {},
  ) {
    this.head = head;
    this.body = options.body ?? null;
    this.isHead = options.isHead ?? false;
    this.replayable = options.replayable ?? true;
    this.outcome = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  deliver(reply: UpstreamReply): void {
    this.#resolve({ ok: true, reply });
  }

  fail(kind: ExchangeFailureKind, retrySafe: boolean): void {
    this.#resolve({ ok: false, kind, retrySafe });
  }

  bodyEnded(): void {
    this.bodyEnds += 1;
  }
}

/** A GET head for the raw client. */
export function getHead(target: string, method = 'GET'): string {
  return `${method} ${target} HTTP/1.1\r\nhost: test\r\n\r\n`;
}

/** Reads a reply body (bytes or stream) to the end. */
export async function replyBytes(reply: UpstreamReply): Promise<Buffer> {
  if (reply.body === null) return Buffer.alloc(0);
  if (reply.body instanceof Uint8Array) return Buffer.from(reply.body);
  return Buffer.from(await new Response(reply.body).arrayBuffer());
}
