/**
 * A Transport that reports who it hears from. Node liveness rides on Raft's own traffic:
 * every member, voter or learner, answers the leader's heartbeats (every tick, 50 ms),
 * so the leader hearing a message from node N is proof that N's agent is up and
 * reachable. That replaces a separate heartbeat channel (the 500 ms heartbeat is
 * met ten times over) without adding traffic.
 */
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import type { Transport } from '../raft/transport.ts';

export class ObservedTransport implements Transport {
  readonly #inner: Transport;
  readonly #listeners = new Set<(from: NodeId) => void>();

  constructor(inner: Transport) {
    this.#inner = inner;
  }

  get id(): NodeId {
    return this.#inner.id;
  }

  send(msgs: readonly RaftMessage[]): void {
    this.#inner.send(msgs);
  }

  onMessage(handler: (msg: RaftMessage) => void): () => void {
    return this.#inner.onMessage((msg) => {
      for (const fn of this.#listeners) fn(msg.from);
      handler(msg);
    });
  }

  onUnreachable(handler: (peer: NodeId) => void): () => void {
    return this.#inner.onUnreachable(handler);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Calls `fn` with the sender of every inbound message. */
  onHeard(fn: (from: NodeId) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
