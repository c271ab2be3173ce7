/**
 * Configuration, tuning and counters of the TLS peer transport. Tuning defaults come
 * from `limits`; tests shrink them to keep timeouts short, production keeps them.
 */
import type { NodeId } from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import type { Clock } from '../core/clock.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import type { Prng } from '../core/prng.ts';

/** Where a peer listens. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** This node's certificate and key and the cluster CA, all PEM. The key is a secret. */
export interface TlsCredentials {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/**
 * Knobs with defaults from `limits` (named there). Tests shrink them to keep timeouts
 * short; production keeps the defaults. Bounds may be lowered, never raised above limits.
 */
export interface TlsTransportTuning {
  /** Messages queued per peer; overflow drops the oldest. Default `peerSendQueueMax`. */
  sendQueueMax: number;
  /** Messages per frame. Default `peerBatchMessagesMax`. */
  batchMessagesMax: number;
  /** Largest frame body, in bytes, sent or accepted. Default `peerFrameBytesMax`. */
  frameBytesMax: number;
  /** Frames one flush writes before yielding. Default `peerFlushFramesMax`. */
  flushFramesMax: number;
  /** Sockets held at once, and peers known at once. Default `peerConnectionsMax`. */
  connectionsMax: number;
  /** First redial delay, in ms. Default `peerReconnectBackoffBaseMs`. */
  reconnectBackoffBaseMs: number;
  /** Cap on the redial delay, in ms. Default `peerReconnectBackoffCapMs`. */
  reconnectBackoffCapMs: number;
  /** Time to connect, finish TLS and be identified, in ms. Default `peerHandshakeTimeoutMs`. */
  handshakeTimeoutMs: number;
  /** Keepalive period on a quiet link (also the sweep period), in ms. Default `peerKeepaliveIntervalMs`. */
  keepaliveIntervalMs: number;
  /** Silence after which a link is cut, in ms. Default `peerIdleTimeoutMs`. */
  idleTimeoutMs: number;
  /** How long `close()` lets links close gracefully, in ms. Default `peerCloseGraceMs`. */
  closeGraceMs: number;
}

export interface TlsTransportOptions {
  /** This node's id; must match the CN of `credentials.certPem`. */
  nodeId: NodeId;
  /** The cluster name in every node CN (`node-<id>.<cluster>`); peers of other clusters are refused. */
  clusterName: string;
  credentials: TlsCredentials;
  /** Address to listen on; port 0 picks an ephemeral port (read it back from `.port`). */
  listen: { hostname: string; port: number };
  /** Known peers. Peers with a lower id need no address: they dial us. */
  peers?: Iterable<readonly [NodeId, PeerAddress | undefined]>;
  /** Timers and monotonic time. Default: the real clock. */
  clock?: Clock;
  /** Randomness for reconnect jitter. Default: seeded from the wall clock and node id. */
  prng?: Prng;
  /** Default: silent. */
  logger?: Logger;
  tuning?: Partial<TlsTransportTuning>;
}

/** Counters for tests, metrics and the benchmark. */
export interface TlsTransportStats {
  messagesSent: number;
  messagesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Frames that were not a JSON array of at most `batchMessagesMax` items, or oversized. */
  framesInvalid: number;
  /** Items in a valid frame that `RaftMessageSchema` rejected. */
  messagesInvalid: number;
  /** Messages whose `from` disagreed with the sender's certificate. */
  messagesSpoofed: number;
  /** Messages whose `to` was not this node. */
  messagesMisaddressed: number;
  /** Oldest messages dropped because a peer queue was full. */
  messagesOverflowed: number;
  /** Messages to a peer this transport does not know. */
  messagesUnroutable: number;
  /** Messages whose encoding alone exceeds the frame limit. */
  messagesTooLarge: number;
  /** Connections closed for a bad certificate, wrong identity or wrong dial direction. */
  handshakesRefused: number;
  /** Connections whose peer identity was verified and adopted. */
  linksEstablished: number;
  /** Links cut because the peer stayed silent past `idleTimeoutMs` or the handshake timeout. */
  linksTimedOut: number;
  redialsScheduled: number;
  /** Writes the socket took only part of; the rest waited for `drain`. */
  writesPartial: number;
}

export function emptyStats(): TlsTransportStats {
  return {
    messagesSent: 0,
    messagesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    framesInvalid: 0,
    messagesInvalid: 0,
    messagesSpoofed: 0,
    messagesMisaddressed: 0,
    messagesOverflowed: 0,
    messagesUnroutable: 0,
    messagesTooLarge: 0,
    handshakesRefused: 0,
    linksEstablished: 0,
    linksTimedOut: 0,
    redialsScheduled: 0,
    writesPartial: 0,
  };
}

export function resolveTuning(overrides: Partial<TlsTransportTuning> = {}): TlsTransportTuning {
  const tuning: TlsTransportTuning = {
    sendQueueMax: limits.peerSendQueueMax,
    batchMessagesMax: limits.peerBatchMessagesMax,
    frameBytesMax: limits.peerFrameBytesMax,
    flushFramesMax: limits.peerFlushFramesMax,
    connectionsMax: limits.peerConnectionsMax,
    reconnectBackoffBaseMs: limits.peerReconnectBackoffBaseMs,
    reconnectBackoffCapMs: limits.peerReconnectBackoffCapMs,
    handshakeTimeoutMs: limits.peerHandshakeTimeoutMs,
    keepaliveIntervalMs: limits.peerKeepaliveIntervalMs,
    idleTimeoutMs: limits.peerIdleTimeoutMs,
    closeGraceMs: limits.peerCloseGraceMs,
    ...overrides,
  };
  assert(
    tuning.sendQueueMax >= 1 && tuning.sendQueueMax <= limits.peerSendQueueMax,
    'sendQueueMax',
  );
  assert(
    tuning.batchMessagesMax >= 1 && tuning.batchMessagesMax <= limits.peerBatchMessagesMax,
    'batchMessagesMax',
  );
  assert(
    tuning.frameBytesMax >= 64 && tuning.frameBytesMax <= limits.peerFrameBytesMax,
    'frameBytesMax',
  );
  assert(
    tuning.flushFramesMax >= 1 && tuning.flushFramesMax <= limits.peerFlushFramesMax,
    'flushFramesMax',
  );
  assert(
    tuning.connectionsMax >= 1 && tuning.connectionsMax <= limits.peerConnectionsMax,
    'connectionsMax',
  );
  assert(tuning.reconnectBackoffBaseMs > 0, 'reconnect base must be positive');
  assert(tuning.reconnectBackoffBaseMs <= tuning.reconnectBackoffCapMs, 'reconnect base above cap');
  assert(
    tuning.keepaliveIntervalMs * 2 <= tuning.idleTimeoutMs,
    'keepalives must beat the idle timeout',
  );
  return tuning;
}
