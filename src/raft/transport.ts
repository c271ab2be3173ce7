/**
 * How Raft messages travel between nodes. The driver (`raft-host.ts`) only sees the
 * `Transport` interface; this file also holds the in-process implementation used by tests
 * and the benchmark, where several nodes share one process. The mutual-TLS transport
 * (one persistent connection per peer, DESIGN.md §7) implements the same interface.
 */
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';

/**
 * A node's view of the network. Sending never blocks and never throws for a peer that is
 * down: Raft tolerates lost messages, so a full queue or a dead peer drops the message and
 * the peer is reported through `onUnreachable` (the driver then calls
 * `reportUnreachable`, which makes the leader probe that follower again).
 */
export interface Transport {
  /** This node's id; every message sent must carry it as `from`. */
  readonly id: NodeId;
  /** Queues messages for delivery, in order per destination. Fire-and-forget. */
  send(msgs: readonly RaftMessage[]): void;
  /** Sets the handler for messages addressed to this node. Returns an unsubscribe function. */
  onMessage(handler: (msg: RaftMessage) => void): () => void;
  /** Sets the handler told when a message to `peer` was dropped. Returns an unsubscribe function. */
  onUnreachable(handler: (peer: NodeId) => void): () => void;
  /** Stops sending and receiving; queued messages are discarded. */
  close(): Promise<void>;
}

/** Counters a test or the benchmark can read. */
export interface InProcessNetworkStats {
  delivered: number;
  /** Dropped by a drop switch or a closed/unknown destination. */
  dropped: number;
  /** Dropped because a peer queue was at `raftTransportPeerQueueMax`. */
  overflowed: number;
}

interface Endpoint {
  handler: ((msg: RaftMessage) => void) | undefined;
  unreachableHandler: ((peer: NodeId) => void) | undefined;
  closed: boolean;
}

/**
 * A hub that connects several nodes in one process. Delivery is asynchronous (a macrotask
 * later, through setImmediate: setTimeout 0 is clamped to about 1 ms in Bun, which would
 * dominate commit latency), like a real network, so a node never re-enters itself while
 * it is still handling its own Ready. Messages are deep-copied so that sender and receiver
 * never share an object, as they would not across a socket.
 */
export class InProcessNetwork {
  readonly #endpoints = new Map<NodeId, Endpoint>();
  /** Per (from → to) link: queued messages awaiting the next flush. Key `${from}>${to}`. */
  readonly #queues = new Map<string, { to: NodeId; msgs: RaftMessage[] }>();
  readonly #dropLinks = new Set<string>();
  readonly #peerQueueMax: number;
  #flushScheduled = false;
  #stats: InProcessNetworkStats = { delivered: 0, dropped: 0, overflowed: 0 };

  constructor(options: { peerQueueMax?: number } = {}) {
    this.#peerQueueMax = options.peerQueueMax ?? limits.raftTransportPeerQueueMax;
    assert(this.#peerQueueMax >= 1, 'peer queue must hold at least one message');
  }

  /** Attaches node `id` to the hub and returns its transport. An id may attach again after close. */
  connect(id: NodeId): Transport {
    const existing = this.#endpoints.get(id);
    assert(!existing || existing.closed, `node ${id} is already connected`);
    const endpoint: Endpoint = { handler: undefined, unreachableHandler: undefined, closed: false };
    this.#endpoints.set(id, endpoint);
    return new InProcessTransport(this, id, endpoint);
  }

  /**
   * The drop switch: while set, messages from `from` to `to` are lost (one direction).
   * Pass `drop = false` to heal the link.
   */
  setLinkDropped(from: NodeId, to: NodeId, drop: boolean): void {
    const key = `${from}>${to}`;
    if (drop) this.#dropLinks.add(key);
    else this.#dropLinks.delete(key);
  }

  /** Cuts (or heals) every link to and from `id`, in both directions. */
  setIsolated(id: NodeId, isolated: boolean): void {
    for (const other of this.#endpoints.keys()) {
      if (other === id) continue;
      this.setLinkDropped(id, other, isolated);
      this.setLinkDropped(other, id, isolated);
    }
  }

  stats(): InProcessNetworkStats {
    return { ...this.#stats };
  }

  /** @internal Called by InProcessTransport.send. */
  enqueue(from: NodeId, msgs: readonly RaftMessage[]): void {
    for (const msg of msgs) {
      assert(msg.from === from, `message from ${msg.from} sent through node ${from}'s transport`);
      const key = `${from}>${msg.to}`;
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = { to: msg.to, msgs: [] };
        this.#queues.set(key, queue);
      }
      if (queue.msgs.length >= this.#peerQueueMax) {
        // Back-pressure by loss: Raft retransmits, and the sender learns the peer is slow.
        this.#stats.overflowed++;
        this.#reportUnreachable(from, msg.to);
        continue;
      }
      queue.msgs.push(structuredClone(msg));
    }
    this.#scheduleFlush();
  }

  /** @internal Called by InProcessTransport.close. */
  detach(id: NodeId, endpoint: Endpoint): void {
    endpoint.closed = true;
    endpoint.handler = undefined;
    endpoint.unreachableHandler = undefined;
    for (const [key, queue] of this.#queues) {
      if (key.startsWith(`${id}>`) || queue.to === id) this.#queues.delete(key);
    }
    if (this.#endpoints.get(id) === endpoint) this.#endpoints.delete(id);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Delivers what was queued before this flush; messages sent meanwhile wait for the next. */
  #flush(): void {
    this.#flushScheduled = false;
    const batches = [...this.#queues.entries()];
    this.#queues.clear();
    for (const [key, queue] of batches) {
      const from = Number(key.slice(0, key.indexOf('>')));
      for (const msg of queue.msgs) this.#deliver(from, msg);
    }
  }

  #deliver(from: NodeId, msg: RaftMessage): void {
    const endpoint = this.#endpoints.get(msg.to);
    if (!endpoint || endpoint.closed || this.#dropLinks.has(`${from}>${msg.to}`)) {
      this.#stats.dropped++;
      this.#reportUnreachable(from, msg.to);
      return;
    }
    this.#stats.delivered++;
    endpoint.handler?.(msg);
  }

  #reportUnreachable(from: NodeId, to: NodeId): void {
    const sender = this.#endpoints.get(from);
    if (sender && !sender.closed) sender.unreachableHandler?.(to);
  }
}

/** One node's attachment to an InProcessNetwork. */
export class InProcessTransport implements Transport {
  readonly id: NodeId;
  readonly #network: InProcessNetwork;
  readonly #endpoint: Endpoint;

  constructor(network: InProcessNetwork, id: NodeId, endpoint: Endpoint) {
    this.#network = network;
    this.id = id;
    this.#endpoint = endpoint;
  }

  send(msgs: readonly RaftMessage[]): void {
    if (this.#endpoint.closed || msgs.length === 0) return;
    this.#network.enqueue(this.id, msgs);
  }

  onMessage(handler: (msg: RaftMessage) => void): () => void {
    this.#endpoint.handler = handler;
    return () => {
      if (this.#endpoint.handler === handler) this.#endpoint.handler = undefined;
    };
  }

  onUnreachable(handler: (peer: NodeId) => void): () => void {
    this.#endpoint.unreachableHandler = handler;
    return () => {
      if (this.#endpoint.unreachableHandler === handler)
        this.#endpoint.unreachableHandler = undefined;
    };
  }

  async close(): Promise<void> {
    if (this.#endpoint.closed) return;
    this.#network.detach(this.id, this.#endpoint);
  }
}
