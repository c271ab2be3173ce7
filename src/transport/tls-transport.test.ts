import { afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'bun';
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { limits } from '../core/limits.ts';
import { freePort } from '../core/ports-testing.ts';
import type { ClusterCa } from '../pki/ca.ts';
import { encodeBatch, encodeMessage, FrameDecoder, frameBody } from './frame-codec.ts';
import { heartbeat, issueCredentials, issueTestCluster, waitFor } from './testing.ts';
import { type TlsCredentials, TlsTransport, type TlsTransportTuning } from './tls-transport.ts';

const clusterName = 'prod';
let credentials: Map<NodeId, TlsCredentials>;
let ca: ClusterCa;
let foreign: TlsCredentials; // node-1.prod, but from another CA
const open: TlsTransport[] = [];

// Short delays keep reconnect tests quick; production uses the defaults in limits.ts.
const fastTuning: Partial<TlsTransportTuning> = {
  reconnectBackoffBaseMs: 10,
  reconnectBackoffCapMs: 50,
  closeGraceMs: 200,
};

beforeAll(async () => {
  ({ ca, credentials } = await issueTestCluster(clusterName, [1, 2, 3]));
  const other = await issueTestCluster(clusterName, []);
  foreign = await issueCredentials(other.ca, 1);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function start(
  nodeId: NodeId,
  peers: [NodeId, number][] = [],
  options: { port?: number; tuning?: Partial<TlsTransportTuning> } = {},
): { transport: TlsTransport; inbox: RaftMessage[]; unreachable: NodeId[] } {
  const transport = TlsTransport.listen({
    nodeId,
    clusterName,
    credentials: credentials.get(nodeId)!,
    listen: { hostname: '127.0.0.1', port: options.port ?? 0 },
    peers: peers.map(([id, port]) => [id, { host: '127.0.0.1', port }] as const),
    tuning: { ...fastTuning, ...options.tuning },
  });
  open.push(transport);
  const inbox: RaftMessage[] = [];
  const unreachable: NodeId[] = [];
  transport.onMessage((msg) => inbox.push(msg));
  transport.onUnreachable((peer) => unreachable.push(peer));
  return { transport, inbox, unreachable };
}

/** A hand-driven TLS client, to play a misbehaving or impersonating peer. */
async function rawClient(port: number, tls: Record<string, unknown>) {
  const state = { closed: false, handshakeOk: false, received: 0 };
  let resolveClosed = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  const handshake = new Promise<Socket<undefined>>((resolve) => {
    Bun.connect({
      hostname: '127.0.0.1',
      port,
      tls: { rejectUnauthorized: true, serverName: 'node-2.prod', ...tls },
      socket: {
        handshake(socket, ok) {
          state.handshakeOk = ok;
          resolve(socket);
        },
        data(_socket, chunk) {
          state.received += chunk.byteLength;
        },
        close() {
          state.closed = true;
          resolveClosed();
        },
        error() {},
        connectError() {
          state.closed = true;
          resolveClosed();
        },
      },
    }).catch(() => {});
  });
  return { state, closed, socket: await handshake };
}

function unusedPort(): number {
  return freePort();
}

describe('TlsTransport', () => {
  test('two nodes exchange messages both ways over one connection', async () => {
    // Proves the lower id dials, the higher replies over the accepted link, and order holds.
    const b = start(2);
    const a = start(1, [[2, b.transport.port]]);
    a.transport.send([heartbeat(1, 2, 1), heartbeat(1, 2, 2)]);
    await waitFor(() => b.inbox.length === 2, 'node 2 to receive');
    b.transport.send([heartbeat(2, 1, 3)]);
    await waitFor(() => a.inbox.length === 1, 'node 1 to receive');
    expect(b.inbox.map((m) => m.type === 'heartbeat' && m.commit)).toEqual([1, 2]);
    expect(a.inbox[0]).toEqual(heartbeat(2, 1, 3));
    expect(a.transport.stats().linksEstablished).toBe(1);
    expect(b.transport.stats().linksEstablished).toBe(1);
    expect(b.transport.connectedPeers()).toEqual([1]);
  });

  test('three nodes form a full mesh and every pair delivers', async () => {
    // Proves each pair gets exactly one link and routing picks the right one.
    const a = start(1);
    const b = start(2);
    const c = start(3);
    const nodes = new Map([
      [1, a],
      [2, b],
      [3, c],
    ]);
    // Every node learns every address; only the lower id of each pair will dial.
    for (const [id, node] of nodes) {
      for (const [peerId, peer] of nodes) {
        if (peerId !== id)
          node.transport.setPeer(peerId, { host: '127.0.0.1', port: peer.transport.port });
      }
    }
    for (const [from, node] of nodes) {
      node.transport.send(
        [...nodes.keys()]
          .filter((to) => to !== from)
          .map((to) => heartbeat(from, to, from * 10 + to)),
      );
    }
    await waitFor(
      () => [...nodes.values()].every((n) => n.inbox.length === 2),
      'all nodes to receive',
    );
    for (const [id, node] of nodes) {
      expect(node.inbox.every((m) => m.to === id)).toBe(true);
      expect(node.inbox.map((m) => m.type === 'heartbeat' && m.commit).sort()).toEqual(
        [...nodes.keys()]
          .filter((f) => f !== id)
          .map((f) => f * 10 + id)
          .sort(),
      );
      expect(node.transport.stats().linksEstablished).toBe(2);
    }
  });

  test('a client with a certificate from another CA is refused', async () => {
    // Proves trust is the cluster CA: a look-alike node-1.prod certificate gets nowhere.
    const b = start(2);
    const client = await rawClient(b.transport.port, {
      cert: foreign.certPem,
      key: foreign.keyPem,
      ca: foreign.caPem,
    });
    client.socket.write(encodeBatch([encodeMessage(heartbeat(1, 2, 1))]));
    await client.closed;
    await waitFor(() => b.transport.stats().handshakesRefused === 1, 'the refusal to be counted');
    expect(b.inbox).toEqual([]);
    expect(b.transport.connectedPeers()).toEqual([]);
  });

  test('a client without a certificate is refused', async () => {
    // Proves the server requires a client certificate (mutual TLS, not server-only TLS).
    const b = start(2);
    const client = await rawClient(b.transport.port, { ca: credentials.get(2)!.caPem });
    client.socket.write(encodeBatch([encodeMessage(heartbeat(1, 2, 1))]));
    await client.closed;
    await waitFor(() => b.transport.stats().handshakesRefused === 1, 'the refusal to be counted');
    expect(b.inbox).toEqual([]);
    expect(b.transport.stats().messagesReceived).toBe(0);
    expect(b.transport.connectedPeers()).toEqual([]);
  });

  test('a dialler whose server presents another CA certificate does not connect', async () => {
    // Proves the client side checks the server too: a foreign node-2 is never adopted.
    const other = await issueTestCluster(clusterName, [2]);
    const impostor = TlsTransport.listen({
      nodeId: 2,
      clusterName,
      credentials: other.credentials.get(2)!,
      listen: { hostname: '127.0.0.1', port: 0 },
      tuning: fastTuning,
    });
    open.push(impostor);
    const a = start(1, [[2, impostor.port]]);
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => a.transport.stats().redialsScheduled >= 2, 'node 1 to retry');
    expect(a.transport.connectedPeers()).toEqual([]);
    expect(impostor.stats().messagesReceived).toBe(0);
  });

  test('a message whose from disagrees with the certificate is dropped', async () => {
    // Proves identity comes from the certificate: node 1 cannot speak for node 3.
    const b = start(2);
    const client = await rawClient(b.transport.port, {
      cert: credentials.get(1)!.certPem,
      key: credentials.get(1)!.keyPem,
      ca: credentials.get(1)!.caPem,
    });
    expect(client.state.handshakeOk).toBe(true);
    const frame = encodeBatch([
      encodeMessage(heartbeat(3, 2, 66)),
      encodeMessage(heartbeat(1, 2, 7)),
      encodeMessage(heartbeat(1, 3, 8)),
    ]);
    client.socket.write(frame);
    await waitFor(
      () => b.inbox.length === 1 && b.transport.stats().messagesMisaddressed === 1,
      'delivery',
    );
    expect(b.inbox).toEqual([heartbeat(1, 2, 7)]);
    expect(b.transport.stats().messagesSpoofed).toBe(1);
    client.socket.end();
  });

  test('an inbound connection from a higher id is refused (one link per pair)', async () => {
    // Proves the dial-direction rule that keeps exactly one connection per pair.
    const b = start(2);
    const three = credentials.get(3)!;
    const client = await rawClient(b.transport.port, {
      cert: three.certPem,
      key: three.keyPem,
      ca: three.caPem,
    });
    await client.closed;
    expect(b.transport.stats().handshakesRefused).toBe(1);
    expect(b.transport.connectedPeers()).toEqual([]);
  });

  test('garbage bytes on the socket do not crash the server', async () => {
    // Proves malformed frames are counted and dropped, an absurd length closes only that link.
    const b = start(2);
    const one = credentials.get(1)!;
    const tls = { cert: one.certPem, key: one.keyPem, ca: one.caPem };
    const client = await rawClient(b.transport.port, tls);
    const enc = new TextEncoder();
    client.socket.write(frameBody(enc.encode('{not json')));
    client.socket.write(frameBody(enc.encode('{"type":"heartbeat"}')));
    client.socket.write(frameBody(new Uint8Array([0xff, 0xfe, 0x00])));
    client.socket.write(
      encodeBatch([
        enc.encode('{"type":"nope","from":1,"to":2}'),
        encodeMessage(heartbeat(1, 2, 5)),
      ]),
    );
    await waitFor(() => b.inbox.length === 1, 'the valid message');
    expect(b.transport.stats().framesInvalid).toBe(3);
    expect(b.transport.stats().messagesInvalid).toBe(1);
    // A length prefix far above the frame limit: the stream cannot be resynchronised.
    client.socket.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await client.closed;
    expect(b.transport.stats().framesInvalid).toBe(4);
    // Plain TCP junk at the TLS port: the handshake fails, nothing else happens.
    const junk = await Bun.connect({
      hostname: '127.0.0.1',
      port: b.transport.port,
      socket: { data() {} },
    });
    junk.write(crypto.getRandomValues(new Uint8Array(4096)));
    junk.end();
    // The server still serves a proper peer afterwards.
    const a = start(1, [[2, b.transport.port]]);
    a.transport.send([heartbeat(1, 2, 6)]);
    await waitFor(() => b.inbox.length === 2, 'the proper peer');
    expect(b.inbox[1]).toEqual(heartbeat(1, 2, 6));
  });

  test('a restarted peer is reconnected and queued messages then flow', async () => {
    // Proves redial with backoff after the accepting side restarts, and the reverse case.
    const first = start(2);
    const port = first.transport.port;
    const a = start(1, [[2, port]]);
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => first.inbox.length === 1, 'first delivery');
    await first.transport.close();
    await waitFor(() => a.unreachable.includes(2), 'node 1 to notice');
    a.transport.send([heartbeat(1, 2, 2)]);
    const second = start(2, [], { port });
    await waitFor(() => second.inbox.length === 1, 'delivery after restart');
    expect(second.inbox[0]).toEqual(heartbeat(1, 2, 2));
    expect(a.transport.stats().redialsScheduled).toBeGreaterThanOrEqual(1);
    // Now the dialling side restarts: the acceptor adopts the new link and replies over it.
    await a.transport.close();
    const a2 = start(1, [[2, port]]);
    a2.transport.send([heartbeat(1, 2, 3)]);
    await waitFor(() => second.inbox.length === 2, 'delivery from the restarted dialler');
    second.transport.send([heartbeat(2, 1, 4)]);
    await waitFor(() => a2.inbox.length === 1, 'reply to the restarted dialler');
    expect(a2.inbox[0]).toEqual(heartbeat(2, 1, 4));
  });

  test('a full queue drops its oldest messages, counts them, and delivers the newest', async () => {
    // Proves the per-peer bound: overflow loses the oldest (Raft retransmits), never grows.
    const port = unusedPort();
    const a = start(1, [[2, port]], { tuning: { sendQueueMax: 4 } });
    a.transport.send(Array.from({ length: 10 }, (_, i) => heartbeat(1, 2, i)));
    expect(a.transport.stats().messagesOverflowed).toBe(6);
    expect(a.unreachable.filter((p) => p === 2).length).toBe(6);
    const b = start(2, [], { port });
    await waitFor(() => b.inbox.length === 4, 'the newest four');
    expect(b.inbox.map((m) => m.type === 'heartbeat' && m.commit)).toEqual([6, 7, 8, 9]);
  });

  test('large batches are split into frames by count and by bytes and keep their order', async () => {
    // Proves batching by count and by bytes and per-peer ordering across frames.
    const b = start(2);
    const a = start(1, [[2, b.transport.port]], {
      tuning: { batchMessagesMax: 64, frameBytesMax: 300_000 },
    });
    const data = 'x'.repeat(100_000);
    const big: RaftMessage[] = Array.from({ length: 40 }, (_, i) => ({
      type: 'append',
      from: 1,
      to: 2,
      term: 1,
      prevIndex: i,
      prevTerm: 1,
      entries: [{ index: i + 1, term: 1, kind: 'normal', data }],
      commit: 0,
    }));
    const small = Array.from({ length: 1000 }, (_, i) => heartbeat(1, 2, i));
    a.transport.send(big);
    a.transport.send(small);
    await waitFor(() => b.inbox.length === 1040, 'every message', 10_000);
    expect(b.inbox.slice(0, 40).map((m) => m.type === 'append' && m.prevIndex)).toEqual(
      big.map((_, i) => i),
    );
    expect(b.inbox.slice(40).map((m) => m.type === 'heartbeat' && m.commit)).toEqual(
      small.map((_, i) => i),
    );
    // At most two ~100 kB appends fit a 300 kB frame; 64 messages fit a frame by count.
    const stats = a.transport.stats();
    expect(stats.framesSent).toBeGreaterThanOrEqual(20);
    expect(stats.framesSent).toBeLessThanOrEqual(20 + Math.ceil(1000 / 64) + 1);
    expect(a.transport.stats().messagesTooLarge).toBe(0);
  });

  test('a peer that stops reading causes partial writes that resume on drain, in order', async () => {
    // Proves back-pressure: unsent bytes wait for drain, nothing is lost or reordered.
    const two = credentials.get(2)!;
    const decoder = new FrameDecoder(limits.peerFrameBytesMax);
    const received: number[] = [];
    let reader: Socket<undefined> | undefined;
    const server = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      tls: {
        cert: two.certPem,
        key: two.keyPem,
        ca: two.caPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      socket: {
        handshake(socket) {
          // Stop reading: the kernel buffers fill and the sender's writes come back short.
          socket.pause();
          reader = socket;
        },
        data(_socket, chunk) {
          const decoded = decoder.push(chunk);
          if (!decoded.ok) throw new Error('bad frame from the transport');
          for (const body of decoded.bodies) {
            for (const msg of JSON.parse(new TextDecoder().decode(body)) as RaftMessage[]) {
              if (msg.type === 'forward') received.push(Number(msg.data.slice(0, 8)));
            }
          }
        },
      },
    });
    try {
      const a = start(1, [[2, server.port]]);
      await waitFor(() => reader !== undefined, 'the link');
      const padding = 'z'.repeat(64_000);
      const count = 200; // about 13 MB, well past loopback socket buffers
      for (let i = 0; i < count; i++) {
        a.transport.send([
          { type: 'forward', from: 1, to: 2, term: 1, data: String(i).padStart(8, '0') + padding },
        ]);
      }
      await waitFor(() => a.transport.stats().writesPartial > 0, 'a short write');
      reader!.resume();
      await waitFor(() => received.length === count, 'every message after drain', 10_000);
      expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(a.transport.stats().messagesOverflowed).toBe(0);
    } finally {
      server.stop(true);
    }
  });

  test('a default-size snapshot chunk crosses intact', async () => {
    // Proves InstallSnapshot chunks (512 KiB by default, base64 in JSON) fit and survive.
    const b = start(2);
    const a = start(1, [[2, b.transport.port]]);
    const bytes = crypto.getRandomValues(new Uint8Array(512 * 1024));
    const chunk = Buffer.from(bytes).toString('base64');
    const meta = { index: 10, term: 2, conf: { voters: [1, 2], learners: [] } };
    a.transport.send([
      { type: 'snapshot', from: 1, to: 2, term: 2, meta, offset: 0, chunk, done: true },
    ]);
    await waitFor(() => b.inbox.length === 1, 'the chunk');
    const got = b.inbox[0]!;
    expect(
      got.type === 'snapshot' && Buffer.from(got.chunk, 'base64').equals(Buffer.from(bytes)),
    ).toBe(true);
  });

  test('a message larger than any frame is dropped and counted, not sent', async () => {
    // Proves the sender never emits a frame the receiver would have to reject.
    const b = start(2);
    const a = start(1, [[2, b.transport.port]], { tuning: { frameBytesMax: 1_000 } });
    a.transport.send([
      { type: 'forward', from: 1, to: 2, term: 1, data: 'y'.repeat(2_000) },
      heartbeat(1, 2, 1),
    ]);
    await waitFor(() => b.inbox.length === 1, 'the small message');
    expect(a.transport.stats().messagesTooLarge).toBe(1);
    expect(b.inbox[0]).toEqual(heartbeat(1, 2, 1));
  });

  test('a message to an unknown peer is reported unreachable', async () => {
    // Proves sends to nodes outside the peer set are dropped with a signal, not queued forever.
    const a = start(1);
    a.transport.send([heartbeat(1, 9, 1)]);
    expect(a.transport.stats().messagesUnroutable).toBe(1);
    expect(a.unreachable).toEqual([9]);
  });

  test('handshakes that never finish are cut on both sides', async () => {
    // Proves a stuck TLS handshake (black-holed peer, idle prober) cannot hold a slot forever.
    const tuning = { handshakeTimeoutMs: 100, keepaliveIntervalMs: 25, idleTimeoutMs: 250 };
    // A plain TCP listener never answers the ClientHello: the dialler must give up and retry.
    const mute = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    try {
      const a = start(1, [[2, mute.port]], { tuning });
      await waitFor(() => a.transport.stats().linksTimedOut >= 2, 'two abandoned dials');
      expect(a.transport.stats().redialsScheduled).toBeGreaterThanOrEqual(2);
      expect(a.transport.connectedPeers()).toEqual([]);
    } finally {
      mute.stop(true);
    }
    // A TCP client that connects and says nothing is cut by the acceptor's sweep.
    const b = start(2, [], { tuning });
    let closed = false;
    await Bun.connect({
      hostname: '127.0.0.1',
      port: b.transport.port,
      socket: {
        data() {},
        close() {
          closed = true;
        },
      },
    });
    await waitFor(() => closed, 'the silent prober to be cut');
    expect(b.transport.stats().linksTimedOut).toBe(1);
  });

  test('a moved peer is redialled at its new address; a removed peer is not redialled', async () => {
    // Proves setPeer and removePeer drive the dialling as membership changes.
    const b1 = start(2);
    const a = start(1, [[2, b1.transport.port]]);
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b1.inbox.length === 1, 'first delivery');
    await b1.transport.close();
    const b2 = start(2);
    a.transport.setPeer(2, { host: '127.0.0.1', port: b2.transport.port });
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => b2.inbox.length === 1, 'delivery at the new address');
    expect(b2.inbox[0]).toEqual(heartbeat(1, 2, 2));
    a.transport.removePeer(2);
    await waitFor(() => b2.transport.connectedPeers().length === 0, 'the link to close');
    const redials = a.transport.stats().redialsScheduled;
    await Bun.sleep(100); // several backoff periods at the test tuning
    expect(a.transport.stats().redialsScheduled).toBe(redials);
    expect(a.transport.connectedPeers()).toEqual([]);
    a.transport.send([heartbeat(1, 2, 3)]);
    expect(a.transport.stats().messagesUnroutable).toBe(1);
  });

  test('rotated credentials serve new connections while the old link keeps working', async () => {
    // Proves certificate rotation needs no restart and drops no established link.
    const b = start(2);
    const port = b.transport.port;
    const a = start(1, [[2, port]]);
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b.inbox.length === 1, 'delivery before rotation');
    const renewed = await issueCredentials(ca, 2);
    b.transport.rotateCredentials(renewed);
    expect(b.transport.port).toBe(port);
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => b.inbox.length === 2, 'delivery on the old link after rotation');
    expect(b.transport.stats().linksEstablished).toBe(1);
    // A new connection is served with the renewed certificate.
    const one = credentials.get(1)!;
    const client = await rawClient(port, { cert: one.certPem, key: one.keyPem, ca: one.caPem });
    const served = client.socket.getPeerX509Certificate();
    expect(served.fingerprint256).toBe(new X509Certificate(renewed.certPem).fingerprint256);
    client.socket.end();
  });

  test('a silent link is cut; quiet links stay up on keepalives', async () => {
    // Proves keepalives keep a quiet pair connected and silence past the timeout is detected.
    const tuning = { keepaliveIntervalMs: 25, idleTimeoutMs: 400 };
    const b = start(2, [], { tuning });
    const a = start(1, [[2, b.transport.port]], { tuning });
    await waitFor(() => b.transport.connectedPeers().length === 1, 'the link');
    await Bun.sleep(900);
    // Quiet for several idle timeouts, yet no link was cut: keepalives flowed both ways.
    expect(a.transport.stats().linksTimedOut).toBe(0);
    expect(b.transport.stats().linksTimedOut).toBe(0);
    expect(a.transport.stats().linksEstablished).toBe(1);
    // A raw peer that handshakes and then says nothing is cut after the idle timeout.
    const one = credentials.get(1)!;
    const c = start(3, [], { tuning });
    const client = await rawClient(c.transport.port, {
      cert: one.certPem,
      key: one.keyPem,
      ca: one.caPem,
      serverName: 'node-3.prod',
    });
    await client.closed;
    expect(c.transport.stats().linksTimedOut).toBe(1);
  });
});
