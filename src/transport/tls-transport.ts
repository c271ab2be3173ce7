/**
 * The mutual-TLS peer transport (DESIGN.md §7): one persistent TLS connection per pair
 * of nodes, both sides presenting a certificate from the cluster CA.
 *
 * Why framed TCP (`Bun.listen`/`Bun.connect` with TLS) and not a WebSocket upgrade on
 * `Bun.serve`: both carry far more than Raft needs at the same median latency
 * (bench/transport/README.md has the tables), but identity decides: `Bun.serve` does not
 * expose the client's certificate, so a WebSocket server could only know that *some*
 * cluster member connected, not *which*. A TLS socket gives `getPeerCertificate()`, and
 * the peer's node id is read from its verified certificate's CN (`node-<id>.<cluster>`).
 * Link and peer records, batching, frame checks and the sweep rule live in links.ts.
 *
 * Rules the code below keeps:
 * - Exactly one connection per pair: the node with the lower id dials, the higher one
 *   accepts, and both send over that one connection. An inbound connection from a
 *   higher id is refused; a new inbound connection from a peer replaces the old one
 *   (the peer restarted and the old socket may be half-dead).
 * - A message is accepted only if its `from` equals the id in the certificate of the
 *   connection it arrived on and its `to` is this node. Frames are parsed with
 *   `RaftMessageSchema`; anything else is dropped and counted, never thrown.
 * - Sends never block: per-peer bounded queues drop their oldest message on overflow
 *   (Raft retransmits) and report the peer unreachable; a flush batches whatever is
 *   queued into frames; a socket that cannot take more keeps the rest until `drain`.
 * - Dialling back off exponentially with jitter; idle links carry keepalives, and a link
 *   that hears nothing for `idleTimeoutMs` is cut and redialled.
 */
import type { Socket, TCPSocketListener } from 'bun';
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import { type Clock, realClock } from '../core/clock.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { createPrng, type Prng } from '../core/prng.ts';
import { nodeCommonName } from '../pki/names.ts';
import type { Transport } from '../raft/transport.ts';
import { reconnectDelayMs } from './backoff.ts';
import { DropOldestQueue } from './drop-oldest-queue.ts';
import { encodeBatch, encodeMessage, keepaliveFrame } from './frame-codec.ts';
import {
  checkItem,
  type Direction,
  frameItems,
  type Link,
  newLink,
  type Peer,
  sweepAction,
  takeBatch,
} from './links.ts';
import {
  emptyStats,
  type PeerAddress,
  resolveTuning,
  type TlsCredentials,
  type TlsTransportOptions,
  type TlsTransportStats,
  type TlsTransportTuning,
} from './options.ts';
import { identifyPeer } from './peer-identity.ts';

export type {
  PeerAddress,
  TlsCredentials,
  TlsTransportOptions,
  TlsTransportStats,
  TlsTransportTuning,
} from './options.ts';

/**
 * A node's endpoint on the peer network. Create it with `TlsTransport.listen`; it
 * implements the Raft `Transport` interface.
 */
export class TlsTransport implements Transport {
  readonly id: NodeId;
  readonly #clusterName: string;
  #credentials: TlsCredentials;
  readonly #tuning: TlsTransportTuning;
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #log: Logger;
  readonly #peers = new Map<NodeId, Peer>();
  readonly #links = new Set<Link>();
  readonly #dirty = new Set<Peer>();
  readonly #stats = emptyStats();
  #listener: TCPSocketListener<Link> | undefined;
  #handler: ((msg: RaftMessage) => void) | undefined;
  #unreachableHandler: ((peer: NodeId) => void) | undefined;
  #flushQueued = false;
  #cancelSweep: (() => void) | undefined;
  #closed = false;
  #allLinksClosed: (() => void) | undefined;

  /** Starts listening and dials every known peer with a higher id. */
  static listen(options: TlsTransportOptions): TlsTransport {
    return new TlsTransport(options);
  }

  private constructor(options: TlsTransportOptions) {
    assert(Number.isSafeInteger(options.nodeId) && options.nodeId > 0, 'node ids are positive');
    this.id = options.nodeId;
    this.#clusterName = options.clusterName;
    this.#credentials = options.credentials;
    this.#tuning = resolveTuning(options.tuning);
    this.#clock = options.clock ?? realClock;
    this.#prng = options.prng ?? createPrng((Date.now() ^ (options.nodeId * 0x9e3779b1)) >>> 0);
    this.#log = (options.logger ?? silentLogger).child({
      node: options.nodeId,
      actor: 'tls-transport',
    });
    this.#listener = this.#startListener(options.listen.hostname, options.listen.port);
    this.#scheduleSweep();
    for (const [id, address] of options.peers ?? []) this.setPeer(id, address);
  }

  /** The port actually listened on (useful with port 0). */
  get port(): number {
    assert(this.#listener, 'transport is closed');
    return this.#listener.port;
  }

  /** Adds a peer or changes its address. Dials it when this node has the lower id. */
  setPeer(id: NodeId, address: PeerAddress | undefined): void {
    assert(Number.isSafeInteger(id) && id > 0 && id !== this.id, `bad peer id ${id}`);
    if (this.#closed) return;
    const existing = this.#peers.get(id);
    if (existing) {
      const moved =
        existing.address?.host !== address?.host || existing.address?.port !== address?.port;
      existing.address = address;
      // A moved peer is redialled at its new address; the close handler does the redial.
      if (moved && existing.link?.direction === 'outbound') existing.link.socket?.terminate();
      if (moved && existing.dialLink) this.#abandonDial(existing.dialLink);
      this.#maybeDial(existing);
      return;
    }
    const peer = this.#newPeer(id, address);
    this.#maybeDial(peer);
  }

  /** Forgets a peer: its link is closed, its queue dropped, and it is not redialled. */
  removePeer(id: NodeId): void {
    const peer = this.#peers.get(id);
    if (!peer) return;
    this.#peers.delete(id);
    this.#dirty.delete(peer);
    peer.cancelRedial?.();
    peer.cancelRedial = undefined;
    peer.queue.clear();
    if (peer.dialLink) this.#abandonDial(peer.dialLink);
    peer.link?.socket?.end();
  }

  /**
   * Switches to rotated credentials (same cluster CA, or a CA bundle during a CA change).
   * New connections, in and out, use them at once: the listener is reopened on the same
   * port. Established links keep their session; TLS checks certificates only at the
   * handshake, so they stay valid and pick up the new certificate when they next reconnect.
   */
  rotateCredentials(credentials: TlsCredentials): void {
    assert(this.#listener, 'transport is closed');
    const { hostname, port } = this.#listener;
    this.#credentials = credentials;
    // stop(false) closes the listening socket only; accepted connections stay open.
    this.#listener.stop(false);
    this.#listener = this.#startListener(hostname, port);
  }

  /** Peers with a verified, open link right now. */
  connectedPeers(): NodeId[] {
    return [...this.#peers.values()].filter((p) => p.link && !p.link.closed).map((p) => p.id);
  }

  stats(): TlsTransportStats {
    return { ...this.#stats };
  }

  send(msgs: readonly RaftMessage[]): void {
    if (this.#closed) return;
    for (const msg of msgs) {
      assert(
        msg.from === this.id,
        `message from ${msg.from} sent through node ${this.id}'s transport`,
      );
      const peer = this.#peers.get(msg.to);
      if (!peer) {
        this.#stats.messagesUnroutable++;
        this.#unreachableHandler?.(msg.to);
        continue;
      }
      const bytes = encodeMessage(msg);
      // Brackets of a one-message batch; a message that cannot fit any frame is lost for good.
      if (bytes.byteLength + 2 > this.#tuning.frameBytesMax) {
        this.#stats.messagesTooLarge++;
        this.#log.warn('peer message exceeds the frame limit; dropped', {
          peer: msg.to,
          type: msg.type,
        });
        this.#unreachableHandler?.(msg.to);
        continue;
      }
      if (peer.queue.push(bytes) !== undefined) {
        this.#stats.messagesOverflowed++;
        this.#unreachableHandler?.(peer.id);
      }
      this.#dirty.add(peer);
    }
    this.#scheduleFlush();
  }

  onMessage(handler: (msg: RaftMessage) => void): () => void {
    this.#handler = handler;
    return () => {
      if (this.#handler === handler) this.#handler = undefined;
    };
  }

  onUnreachable(handler: (peer: NodeId) => void): () => void {
    this.#unreachableHandler = handler;
    return () => {
      if (this.#unreachableHandler === handler) this.#unreachableHandler = undefined;
    };
  }

  /**
   * Stops listening, ends every link with a TLS close_notify and FIN, and resolves once
   * they are closed (or after `closeGraceMs`, when the rest are cut). Queues are dropped.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelSweep?.();
    this.#handler = undefined;
    this.#unreachableHandler = undefined;
    for (const peer of this.#peers.values()) {
      peer.cancelRedial?.();
      peer.queue.clear();
      if (peer.dialLink) this.#abandonDial(peer.dialLink);
    }
    this.#dirty.clear();
    this.#listener?.stop(true);
    this.#listener = undefined;
    if (this.#links.size === 0) return;
    const closed = new Promise<void>((resolve) => {
      this.#allLinksClosed = resolve;
    });
    for (const link of this.#links) link.socket?.end();
    const cancelGrace = this.#clock.setTimer(this.#tuning.closeGraceMs, () => {
      for (const link of this.#links) link.socket?.terminate();
      this.#allLinksClosed?.();
    });
    await closed;
    cancelGrace();
  }

  #startListener(hostname: string, port: number): TCPSocketListener<Link> {
    return Bun.listen<Link>({
      hostname,
      port,
      tls: {
        cert: this.#credentials.certPem,
        key: this.#credentials.keyPem,
        ca: this.#credentials.caPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      socket: this.#socketHandlers(),
    });
  }

  #newPeer(id: NodeId, address: PeerAddress | undefined): Peer {
    const peer: Peer = {
      id,
      address,
      queue: new DropOldestQueue<Uint8Array>(this.#tuning.sendQueueMax),
      link: undefined,
      dialLink: undefined,
      failures: 0,
      cancelRedial: undefined,
    };
    this.#peers.set(id, peer);
    return peer;
  }

  #newLink(direction: Direction, expectedPeer: NodeId | undefined): Link {
    return newLink(direction, expectedPeer, this.#tuning.frameBytesMax, this.#clock.nowMs());
  }

  /** The lower id dials, so each pair shares exactly one connection. */
  #dials(peerId: NodeId): boolean {
    return this.id < peerId;
  }

  #maybeDial(peer: Peer): void {
    if (this.#closed || !this.#dials(peer.id) || !peer.address) return;
    if (peer.dialLink || peer.link || peer.cancelRedial) return;
    if (this.#links.size >= this.#tuning.connectionsMax) {
      this.#scheduleRedial(peer);
      return;
    }
    const link = this.#newLink('outbound', peer.id);
    peer.dialLink = link;
    // A SYN into a black hole can take the kernel minutes to give up on; we do not wait.
    link.cancelDialTimer = this.#clock.setTimer(this.#tuning.handshakeTimeoutMs, () => {
      link.cancelDialTimer = undefined;
      this.#stats.linksTimedOut++;
      this.#abandonDial(link);
    });
    Bun.connect<Link>({
      hostname: peer.address.host,
      port: peer.address.port,
      data: link,
      tls: {
        cert: this.#credentials.certPem,
        key: this.#credentials.keyPem,
        ca: this.#credentials.caPem,
        rejectUnauthorized: true,
        // TLS checks the server's SAN against this name, and every node certificate
        // carries its CN as a DNS SAN: the handshake itself proves which node answered.
        serverName: nodeCommonName(peer.id, this.#clusterName),
      },
      socket: this.#socketHandlers(),
    }).catch(() => {
      // Usually connectError has already ended this attempt; if not (say, a failed name
      // lookup), end it here so the peer is redialled.
      if (!link.socket) this.#abandonDial(link);
    });
  }

  /** Gives up on an outbound attempt: cuts its socket if any, and lets the peer redial. */
  #abandonDial(link: Link): void {
    link.cancelDialTimer?.();
    link.cancelDialTimer = undefined;
    if (link.socket && !link.closed) {
      link.socket.terminate(); // the close handler ends the attempt
      return;
    }
    link.closed = true;
    this.#dialEnded(link);
  }

  /** An outbound attempt failed or was abandoned: clear it and schedule the next one. */
  #dialEnded(link: Link): void {
    link.cancelDialTimer?.();
    link.cancelDialTimer = undefined;
    const peer = link.expectedPeer === undefined ? undefined : this.#peers.get(link.expectedPeer);
    if (!peer || peer.dialLink !== link) return;
    peer.dialLink = undefined;
    this.#scheduleRedial(peer);
  }

  #scheduleRedial(peer: Peer): void {
    if (this.#closed || this.#peers.get(peer.id) !== peer || !this.#dials(peer.id)) return;
    if (!peer.address || peer.link || peer.dialLink || peer.cancelRedial) return;
    const delayMs = reconnectDelayMs(
      peer.failures,
      { baseMs: this.#tuning.reconnectBackoffBaseMs, capMs: this.#tuning.reconnectBackoffCapMs },
      this.#prng,
    );
    peer.failures++;
    this.#stats.redialsScheduled++;
    peer.cancelRedial = this.#clock.setTimer(delayMs, () => {
      peer.cancelRedial = undefined;
      this.#maybeDial(peer);
    });
  }

  #socketHandlers() {
    return {
      open: (socket: Socket<Link>) => this.#handleOpen(socket),
      handshake: (socket: Socket<Link>, _success: boolean, authorizationError: Error | null) =>
        this.#handleHandshake(socket, authorizationError),
      data: (socket: Socket<Link>, chunk: Buffer) => this.#handleData(socket, chunk),
      drain: (socket: Socket<Link>) => this.#handleDrain(socket),
      close: (socket: Socket<Link>) => this.#handleClose(socket),
      error: (socket: Socket<Link>, error: Error) => {
        this.#log.debug('peer socket error', { peer: socket.data?.peerId, error: error.message });
      },
      connectError: (socket: Socket<Link>) => this.#handleConnectError(socket),
    };
  }

  #handleOpen(socket: Socket<Link>): void {
    // Accepted sockets start with the listener's (empty) data; dialled ones carry theirs.
    if (!socket.data) socket.data = this.#newLink('inbound', undefined);
    const link = socket.data;
    link.socket = socket;
    if (link.closed || this.#closed || this.#links.size >= this.#tuning.connectionsMax) {
      link.closed = true;
      socket.terminate();
      return;
    }
    this.#links.add(link);
  }

  #handleHandshake(socket: Socket<Link>, authorizationError: Error | null): void {
    const link = socket.data;
    if (!link || link.closed) return;
    const identity = identifyPeer({
      authorized: socket.authorized && authorizationError === null,
      certificate: socket.getPeerCertificate(),
      clusterName: this.#clusterName,
      selfId: this.id,
      direction: link.direction,
      expectedPeer: link.expectedPeer,
    });
    if (!identity.ok) {
      this.#stats.handshakesRefused++;
      this.#log.info('peer connection refused', {
        reason: identity.reason,
        direction: link.direction,
        remote: socket.remoteAddress,
        authorizationError: authorizationError?.message,
      });
      socket.terminate();
      return;
    }
    this.#adopt(link, identity.nodeId);
  }

  #adopt(link: Link, nodeId: NodeId): void {
    let peer = this.#peers.get(nodeId);
    if (link.direction === 'outbound' && peer?.dialLink !== link) {
      // The attempt was abandoned or the peer removed while the handshake ran.
      link.socket?.terminate();
      return;
    }
    if (!peer) {
      if (this.#peers.size >= this.#tuning.connectionsMax) {
        this.#stats.handshakesRefused++;
        link.socket?.terminate();
        return;
      }
      peer = this.#newPeer(nodeId, undefined);
    }
    const previous = peer.link;
    link.peerId = nodeId;
    link.lastReceivedMs = this.#clock.nowMs();
    peer.link = link;
    if (peer.dialLink === link) {
      peer.dialLink = undefined;
      link.cancelDialTimer?.();
      link.cancelDialTimer = undefined;
    }
    peer.failures = 0;
    peer.cancelRedial?.();
    peer.cancelRedial = undefined;
    // The newest connection wins: the peer restarted, and the old socket may be half-dead.
    if (previous && previous !== link) previous.socket?.terminate();
    this.#stats.linksEstablished++;
    this.#log.info('peer link up', { peer: nodeId, direction: link.direction });
    this.#flushPeer(peer);
  }

  #handleData(socket: Socket<Link>, chunk: Buffer): void {
    const link = socket.data;
    if (!link || link.closed) return;
    if (link.peerId === undefined) {
      // Nothing may arrive before the identity is known; a peer that tries is not one of ours.
      this.#stats.framesInvalid++;
      socket.terminate();
      return;
    }
    link.lastReceivedMs = this.#clock.nowMs();
    const decoded = link.decoder.push(chunk);
    if (!decoded.ok) {
      this.#stats.framesInvalid++;
      this.#log.warn('peer frame too large; closing link', {
        peer: link.peerId,
        bytes: decoded.lengthBytes,
      });
      socket.terminate();
      return;
    }
    for (const body of decoded.bodies) {
      if (link.closed) return;
      this.#handleFrame(link, link.peerId, body);
    }
  }

  #handleFrame(link: Link, peerId: NodeId, body: Uint8Array): void {
    this.#stats.framesReceived++;
    const items = frameItems(body, this.#tuning.batchMessagesMax);
    if (!items) {
      this.#stats.framesInvalid++;
      return;
    }
    for (const item of items) {
      const msg = checkItem(item, peerId, this.id);
      if (msg === 'invalid') {
        this.#stats.messagesInvalid++;
      } else if (msg === 'misaddressed') {
        this.#stats.messagesMisaddressed++;
      } else if ('spoofedAs' in msg) {
        this.#stats.messagesSpoofed++;
        this.#log.warn('peer message with a forged sender dropped', {
          peer: peerId,
          claimed: msg.spoofedAs,
        });
      } else {
        this.#stats.messagesReceived++;
        this.#deliver(msg);
      }
      if (link.closed) return;
    }
  }

  #deliver(msg: RaftMessage): void {
    try {
      this.#handler?.(msg);
    } catch (error) {
      // A handler bug must not take the socket down with it; the host's supervisor sees it logged.
      this.#log.error('peer message handler threw', { peer: msg.from, error: String(error) });
    }
  }

  #handleDrain(socket: Socket<Link>): void {
    const link = socket.data;
    if (!link || link.closed || !link.pending) return;
    const pending = link.pending;
    link.pending = undefined;
    this.#write(link, pending);
    if (!link.pending && link.peerId !== undefined) {
      const peer = this.#peers.get(link.peerId);
      if (peer?.link === link) this.#flushPeer(peer);
    }
  }

  #handleClose(socket: Socket<Link>): void {
    const link = socket.data;
    if (!link) return;
    link.closed = true;
    link.pending = undefined;
    this.#links.delete(link);
    if (this.#closed) {
      if (this.#links.size === 0) this.#allLinksClosed?.();
      return;
    }
    if (link.peerId === undefined) {
      // Never identified: an outbound attempt failed (redial), or an inbound one was refused.
      if (link.direction === 'outbound') this.#dialEnded(link);
      return;
    }
    const peer = this.#peers.get(link.peerId);
    if (!peer || peer.link !== link) return; // removed, or replaced by a newer link
    peer.link = undefined;
    this.#log.info('peer link down', { peer: peer.id, direction: link.direction });
    this.#unreachableHandler?.(peer.id);
    if (link.direction === 'outbound') this.#scheduleRedial(peer);
  }

  #handleConnectError(socket: Socket<Link>): void {
    const link = socket.data;
    if (!link) return;
    link.closed = true;
    this.#dialEnded(link);
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#dirty.size === 0) return;
    this.#flushQueued = true;
    // A microtask: everything sent in the current turn (one Ready) goes out as one batch.
    queueMicrotask(() => {
      this.#flushQueued = false;
      const peers = [...this.#dirty];
      this.#dirty.clear();
      for (const peer of peers) this.#flushPeer(peer);
    });
  }

  /** Writes up to `flushFramesMax` frames of queued messages, stopping at back-pressure. */
  #flushPeer(peer: Peer): void {
    const link = peer.link;
    if (!link || link.closed || link.pending || this.#closed) return;
    for (let frames = 0; frames < this.#tuning.flushFramesMax && peer.queue.size > 0; frames++) {
      const batch = takeBatch(peer.queue, this.#tuning);
      this.#stats.messagesSent += batch.length;
      this.#stats.framesSent++;
      this.#write(link, encodeBatch(batch));
      if (link.pending || link.closed) return;
    }
    if (peer.queue.size > 0) {
      // More than one flush's worth: yield to the event loop, then continue.
      this.#clock.setTimer(0, () => {
        this.#dirty.add(peer);
        this.#scheduleFlush();
      });
    }
  }

  #write(link: Link, bytes: Uint8Array): void {
    const socket = link.socket;
    if (!socket || link.closed) return;
    const written = socket.write(bytes);
    link.lastSentMs = this.#clock.nowMs();
    // Bun does not buffer what a TLS socket refuses: keep the rest until `drain`.
    if (written < bytes.byteLength) {
      this.#stats.writesPartial++;
      link.pending = bytes.subarray(Math.max(0, written));
    }
  }

  #scheduleSweep(): void {
    this.#cancelSweep = this.#clock.setTimer(this.#tuning.keepaliveIntervalMs, () => {
      if (this.#closed) return;
      this.#sweep();
      this.#scheduleSweep();
    });
  }

  /** Cuts stuck handshakes and silent links; sends keepalives on quiet ones. */
  #sweep(): void {
    const nowMs = this.#clock.nowMs();
    for (const link of this.#links) {
      const action = sweepAction(link, nowMs, this.#tuning);
      if (action === 'cut-handshake' || action === 'cut-silent') {
        this.#stats.linksTimedOut++;
        if (action === 'cut-silent') {
          this.#log.info('peer link silent; closing', { peer: link.peerId });
        }
        link.socket?.terminate();
      } else if (action === 'keepalive') {
        this.#write(link, keepaliveFrame);
      }
    }
  }
}
