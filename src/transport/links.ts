/**
 * The peer transport's bookkeeping, apart from its sockets: what one link and one peer
 * hold, how queued messages are cut into frames, how a received frame body is checked,
 * and what the keepalive sweep does with a link. Pure functions over plain records, so
 * tls-transport.ts keeps only the socket handling.
 */
import type { Socket } from 'bun';
import { parseRaftMessage } from '../../actors/leader-election/messages.ts';
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import type { DropOldestQueue } from './drop-oldest-queue.ts';
import { FrameDecoder } from './frame-codec.ts';
import type { PeerAddress, TlsTransportTuning } from './options.ts';

export type Direction = 'inbound' | 'outbound';

/** One socket and what we know about it. Stored as the Bun socket's `data`. */
export interface Link {
  direction: Direction;
  /** For outbound links: the peer we dialled. */
  expectedPeer: NodeId | undefined;
  /** Set once the peer's certificate was verified and its identity accepted. */
  peerId: NodeId | undefined;
  socket: Socket<Link> | undefined;
  decoder: FrameDecoder;
  /** Bytes the socket did not accept yet; nothing else is written until they are. */
  pending: Uint8Array | undefined;
  openedAtMs: number;
  lastReceivedMs: number;
  lastSentMs: number;
  closed: boolean;
  /** Outbound only: cancels the timer that abandons a dial that does not finish in time. */
  cancelDialTimer: (() => void) | undefined;
}

export interface Peer {
  id: NodeId;
  address: PeerAddress | undefined;
  /** Encoded messages (JSON bytes) waiting for the link. */
  queue: DropOldestQueue<Uint8Array>;
  link: Link | undefined;
  /** The outbound connection attempt in progress, until it is adopted or fails. */
  dialLink: Link | undefined;
  failures: number;
  cancelRedial: (() => void) | undefined;
}

/** A link just opened (or dialled) at `nowMs`, not yet identified. */
export function newLink(
  direction: Direction,
  expectedPeer: NodeId | undefined,
  frameBytesMax: number,
  nowMs: number,
): Link {
  return {
    direction,
    expectedPeer,
    peerId: undefined,
    socket: undefined,
    decoder: new FrameDecoder(frameBytesMax),
    pending: undefined,
    openedAtMs: nowMs,
    lastReceivedMs: nowMs,
    lastSentMs: nowMs,
    closed: false,
    cancelDialTimer: undefined,
  };
}

/** Dequeues as many messages as fit one frame (by count and by bytes); at least one. */
export function takeBatch(
  queue: DropOldestQueue<Uint8Array>,
  tuning: Pick<TlsTransportTuning, 'batchMessagesMax' | 'frameBytesMax'>,
): Uint8Array[] {
  const batch: Uint8Array[] = [];
  let bodyBytes = 2;
  while (batch.length < tuning.batchMessagesMax) {
    const next = queue.peek();
    if (!next) break;
    const added = next.byteLength + (batch.length > 0 ? 1 : 0);
    if (batch.length > 0 && bodyBytes + added > tuning.frameBytesMax) break;
    queue.shift();
    batch.push(next);
    bodyBytes += added;
  }
  return batch;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A frame body's items (a JSON array of at most `itemsMax`), or undefined when it is not one. */
export function frameItems(body: Uint8Array, itemsMax: number): unknown[] | undefined {
  let items: unknown;
  try {
    items = JSON.parse(decoder.decode(body));
  } catch {
    return undefined;
  }
  return Array.isArray(items) && items.length <= itemsMax ? items : undefined;
}

/**
 * One item of a frame that arrived on the link of `peerId`: the message, or why it is
 * dropped (not a Raft message; a `from` other than the certificate's id; not for us).
 */
export function checkItem(
  item: unknown,
  peerId: NodeId,
  selfId: NodeId,
): RaftMessage | 'invalid' | { spoofedAs: NodeId } | 'misaddressed' {
  const msg = parseRaftMessage(item);
  if (!msg) return 'invalid';
  if (msg.from !== peerId) return { spoofedAs: msg.from };
  if (msg.to !== selfId) return 'misaddressed';
  return msg;
}

/** What the keepalive sweep does with one link at `nowMs`. */
export function sweepAction(
  link: Link,
  nowMs: number,
  tuning: Pick<TlsTransportTuning, 'handshakeTimeoutMs' | 'idleTimeoutMs' | 'keepaliveIntervalMs'>,
): 'cut-handshake' | 'cut-silent' | 'keepalive' | 'none' {
  if (link.peerId === undefined) {
    // Outbound attempts have their own dial timer; this catches inbound stragglers.
    const stuck =
      link.direction === 'inbound' && nowMs - link.openedAtMs > tuning.handshakeTimeoutMs;
    return stuck ? 'cut-handshake' : 'none';
  }
  if (nowMs - link.lastReceivedMs > tuning.idleTimeoutMs) return 'cut-silent';
  if (!link.pending && nowMs - link.lastSentMs >= tuning.keepaliveIntervalMs) return 'keepalive';
  return 'none';
}
