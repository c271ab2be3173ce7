/**
 * Peer transport benchmark: throughput (messages/s) and ping-pong round-trip latency
 * (p50/p99) for small Raft messages over loopback, for
 *   - the baseline: the in-process transport (`src/raft/transport.ts`), no sockets;
 *   - framed TLS TCP: the real `TlsTransport` (Bun.listen/Bun.connect, mutual TLS);
 *   - WebSocket over TLS: `Bun.serve` with a client certificate and a `WebSocket`
 *     client, carrying the same JSON batches and parsing them with the same schema.
 * The WebSocket variant is a minimal pair with no queues or identity checks, so it is,
 * if anything, favoured. Every phase is bounded by a message count and a time limit.
 *
 *   bun run bench/transport/run.ts
 *   BENCH_MESSAGES=100000 BENCH_BATCH=64 BENCH_PINGS=5000 BENCH_REPETITIONS=3 bun run bench/transport/run.ts
 */
import type { ServerWebSocket, Socket } from 'bun';
import { parseRaftMessage } from '../../actors/leader-election/messages.ts';
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { limits } from '../../src/core/limits.ts';
import { InProcessNetwork } from '../../src/raft/transport.ts';
import { encodeBatch, encodeMessage, FrameDecoder } from '../../src/transport/frame-codec.ts';
import { heartbeat, issueTestCluster } from '../../src/transport/testing.ts';
import { type TlsCredentials, TlsTransport } from '../../src/transport/tls-transport.ts';

const messagesTotal = envInt('BENCH_MESSAGES', 100_000);
const batchMessages = envInt('BENCH_BATCH', 64);
const pingsTotal = envInt('BENCH_PINGS', 5_000);
const repetitions = envInt('BENCH_REPETITIONS', 3);
/** Messages sent but not yet received, at most; keeps queues from overflowing. */
const inFlightMax = 2_048;
/** Wall-clock cap per phase, so a broken variant cannot hang the benchmark. */
const phaseMsMax = envInt('BENCH_PHASE_MS_MAX', 20_000);

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** Two connected endpoints, as the benchmark drives them. */
interface Pair {
  name: string;
  send(from: NodeId, msgs: RaftMessage[]): void;
  onMessage(at: NodeId, handler: (msg: RaftMessage) => void): void;
  close(): Promise<void>;
}

interface Figures {
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  complete: boolean;
}

async function measureThroughput(
  pair: Pair,
): Promise<{ messagesPerSecond: number; complete: boolean }> {
  let received = 0;
  pair.onMessage(2, () => {
    received++;
  });
  let sent = 0;
  const startMs = performance.now();
  const deadlineMs = startMs + phaseMsMax;
  while (received < messagesTotal && performance.now() < deadlineMs) {
    if (sent < messagesTotal && sent - received < inFlightMax) {
      const count = Math.min(batchMessages, messagesTotal - sent);
      pair.send(
        1,
        Array.from({ length: count }, (_, i) => heartbeat(1, 2, sent + i)),
      );
      sent += count;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsedS = (performance.now() - startMs) / 1000;
  return { messagesPerSecond: received / elapsedS, complete: received === messagesTotal };
}

async function measureLatency(
  pair: Pair,
): Promise<{ p50Ms: number; p99Ms: number; complete: boolean }> {
  pair.onMessage(2, (msg) => {
    if (msg.type === 'heartbeat')
      pair.send(2, [{ type: 'heartbeat_resp', from: 2, to: 1, term: msg.term }]);
  });
  const samplesMs: number[] = [];
  const deadlineMs = performance.now() + phaseMsMax;
  for (let i = 0; i < pingsTotal && performance.now() < deadlineMs; i++) {
    const startMs = performance.now();
    await new Promise<void>((resolve) => {
      pair.onMessage(1, () => resolve());
      pair.send(1, [heartbeat(1, 2, i)]);
    });
    samplesMs.push(performance.now() - startMs);
  }
  samplesMs.sort((a, b) => a - b);
  const at = (q: number) =>
    samplesMs[Math.min(samplesMs.length - 1, Math.floor(q * samplesMs.length))] ?? Number.NaN;
  return { p50Ms: at(0.5), p99Ms: at(0.99), complete: samplesMs.length === pingsTotal };
}

function inProcessPair(): Pair {
  const network = new InProcessNetwork();
  const ends = new Map([
    [1, network.connect(1)],
    [2, network.connect(2)],
  ]);
  return {
    name: 'in-process (baseline)',
    send: (from, msgs) => ends.get(from)!.send(msgs),
    onMessage: (at, handler) => ends.get(at)!.onMessage(handler),
    close: async () => {
      for (const end of ends.values()) await end.close();
    },
  };
}

async function tlsTransportPair(credentials: Map<NodeId, TlsCredentials>): Promise<Pair> {
  const b = TlsTransport.listen({
    nodeId: 2,
    clusterName: 'bench',
    credentials: credentials.get(2)!,
    listen: { hostname: '127.0.0.1', port: 0 },
    peers: [[1, undefined]],
  });
  const a = TlsTransport.listen({
    nodeId: 1,
    clusterName: 'bench',
    credentials: credentials.get(1)!,
    listen: { hostname: '127.0.0.1', port: 0 },
    peers: [[2, { host: '127.0.0.1', port: b.port }]],
  });
  const ends = new Map([
    [1, a],
    [2, b],
  ]);
  const deadlineMs = performance.now() + phaseMsMax;
  while (b.connectedPeers().length === 0 && performance.now() < deadlineMs) await Bun.sleep(5);
  return {
    name: 'framed TLS TCP (TlsTransport)',
    send: (from, msgs) => ends.get(from)!.send(msgs),
    onMessage: (at, handler) => ends.get(at)!.onMessage(handler),
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

/** Parses one WebSocket message the way the transport parses a frame body. */
function parseBatch(
  data: string | Buffer | ArrayBuffer | Uint8Array,
  handler: (msg: RaftMessage) => void,
): void {
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data as Uint8Array);
  const items = JSON.parse(text) as unknown[];
  for (const item of items) {
    const msg = parseRaftMessage(item);
    if (msg) handler(msg);
  }
}

function batchBody(msgs: RaftMessage[]): Uint8Array {
  return encodeBatch(msgs.map(encodeMessage)).subarray(4);
}

async function webSocketPair(credentials: Map<NodeId, TlsCredentials>): Promise<Pair> {
  const server = credentials.get(2)!;
  const client = credentials.get(1)!;
  const handlers = new Map<NodeId, (msg: RaftMessage) => void>();
  let serverSocket: ServerWebSocket<undefined> | undefined;
  const bun = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls: {
      cert: server.certPem,
      key: server.keyPem,
      ca: server.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    fetch: (req, srv) =>
      srv.upgrade(req) ? undefined : new Response('upgrade required', { status: 426 }),
    websocket: {
      open: (ws) => {
        serverSocket = ws;
      },
      message: (_ws, data) => parseBatch(data, (msg) => handlers.get(2)?.(msg)),
    },
  });
  // Loopback address, but the server certificate is checked against the node's name.
  const ws = new WebSocket(`wss://127.0.0.1:${bun.port}`, {
    tls: { cert: client.certPem, key: client.keyPem, ca: client.caPem, serverName: 'node-2.bench' },
  });
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (event) => parseBatch(event.data as ArrayBuffer, (msg) => handlers.get(1)?.(msg));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (event) =>
      reject(new Error(`websocket failed: ${String((event as ErrorEvent).message)}`));
  });
  const deadlineMs = performance.now() + phaseMsMax;
  while (!serverSocket && performance.now() < deadlineMs) await Bun.sleep(5);
  return {
    name: 'WebSocket over TLS (Bun.serve)',
    send: (from, msgs) => {
      const body = batchBody(msgs);
      if (from === 1) ws.send(body);
      else serverSocket?.send(body);
    },
    onMessage: (at, handler) => handlers.set(at, handler),
    close: async () => {
      ws.close();
      await bun.stop(true);
    },
  };
}

/** Framed TLS TCP with no transport logic around it: the protocol's own cost. */
async function rawFramedPair(credentials: Map<NodeId, TlsCredentials>): Promise<Pair> {
  const server = credentials.get(2)!;
  const client = credentials.get(1)!;
  const handlers = new Map<NodeId, (msg: RaftMessage) => void>();
  const sockets = new Map<NodeId, Socket<FrameDecoder>>();
  const onData = (at: NodeId) => (socket: Socket<FrameDecoder>, chunk: Buffer) => {
    const decoded = socket.data.push(chunk);
    if (!decoded.ok) throw new Error('bad frame');
    for (const body of decoded.bodies) parseBatch(body, (msg) => handlers.get(at)?.(msg));
  };
  const listener = Bun.listen<FrameDecoder>({
    hostname: '127.0.0.1',
    port: 0,
    tls: {
      cert: server.certPem,
      key: server.keyPem,
      ca: server.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    socket: {
      open: (socket) => {
        socket.data = new FrameDecoder(limits.peerFrameBytesMax);
      },
      handshake: (socket) => {
        sockets.set(2, socket);
      },
      data: onData(2),
    },
  });
  await new Promise<void>((resolve) => {
    Bun.connect<FrameDecoder>({
      hostname: '127.0.0.1',
      port: listener.port,
      data: new FrameDecoder(limits.peerFrameBytesMax),
      tls: {
        cert: client.certPem,
        key: client.keyPem,
        ca: client.caPem,
        serverName: 'node-2.bench',
      },
      socket: {
        handshake: (socket) => {
          sockets.set(1, socket);
          resolve();
        },
        data: onData(1),
      },
    });
  });
  const deadlineMs = performance.now() + phaseMsMax;
  while (!sockets.has(2) && performance.now() < deadlineMs) await Bun.sleep(5);
  return {
    name: 'framed TLS TCP (raw sockets)',
    // Short writes are not handled here: the in-flight window keeps frames small.
    send: (from, msgs) => sockets.get(from)?.write(encodeBatch(msgs.map(encodeMessage))),
    onMessage: (at, handler) => handlers.set(at, handler),
    close: async () => {
      sockets.get(1)?.end();
      listener.stop(true);
    },
  };
}

async function run(makePair: () => Promise<Pair> | Pair): Promise<[string, Figures]> {
  const throughputPair = await makePair();
  const throughput = await measureThroughput(throughputPair);
  await throughputPair.close();
  const latencyPair = await makePair();
  const latency = await measureLatency(latencyPair);
  await latencyPair.close();
  return [
    throughputPair.name,
    {
      messagesPerSecond: throughput.messagesPerSecond,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      complete: throughput.complete && latency.complete,
    },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const { credentials } = await issueTestCluster('bench', [1, 2]);
  console.log(
    `peer transport benchmark: ${messagesTotal} heartbeats in batches of ${batchMessages}, ` +
      `${pingsTotal} ping-pongs, median of ${repetitions} interleaved runs, Bun ${Bun.version}`,
  );
  const variants: (() => Promise<Pair> | Pair)[] = [
    inProcessPair,
    () => rawFramedPair(credentials),
    () => tlsTransportPair(credentials),
    () => webSocketPair(credentials),
  ];
  const runs = new Map<string, Figures[]>();
  // Interleave the variants so that noise from other work on the machine hits all of them.
  for (let rep = 0; rep < repetitions; rep++) {
    for (const variant of variants) {
      const [name, figures] = await run(variant);
      runs.set(name, [...(runs.get(name) ?? []), figures]);
    }
  }
  let baselineRate = 0;
  for (const [name, all] of runs) {
    const rate = median(all.map((f) => f.messagesPerSecond));
    if (baselineRate === 0) baselineRate = rate;
    const complete = all.every((f) => f.complete);
    console.log(
      `${name.padEnd(32)} ${Math.round(rate).toString().padStart(9)} msg/s ` +
        `(${(rate / baselineRate).toFixed(2)}× baseline)  ` +
        `rtt p50 ${median(all.map((f) => f.p50Ms)).toFixed(3)} ms  ` +
        `p99 ${median(all.map((f) => f.p99Ms)).toFixed(3)} ms` +
        (complete ? '' : '  (INCOMPLETE: hit the time limit)'),
    );
  }
}

await main();
