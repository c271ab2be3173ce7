/**
 * TEST-ONLY network faults for the peer transport: a `Transport` wrapper that drops Raft
 * messages to and from chosen peers, so the chaos test (issue 9) can partition real
 * `berth agent` processes without root, packet filters or network namespaces.
 *
 * It is switched on by one environment variable, `BERTH_TEST_FAULTS_FILE`, and only by
 * it. Unset (every real deployment), `withTestFaults` returns the transport it was given
 * and nothing here runs: no timer, no file read, no per-message check. Set, it names a
 * small JSON file — a relative path is resolved against the node's data directory, so one
 * setting serves every node of a test cluster and each node gets its own file — that the
 * wrapper re-reads every `limits.testFaultsPollMs`:
 *
 *   { "blocked": [2, 3] }       drop every message to and from peers 2 and 3
 *   { "blockedFrom": [2] }      drop only what peer 2 sends here (a one-way cut)
 *   { "blockedTo": [2] }        drop only what this node sends to peer 2
 *   { "dropRate": 0.1 }         lose each other message, either way, with probability 0.1
 *
 * Fields combine and all are optional; `{}` and a missing file mean no faults. A file that
 * cannot be read or parsed is logged once (until it changes) and counts as no faults, so a
 * half-written file heals the network for one poll instead of crashing the node (writers
 * should still write a temporary file and rename it).
 *
 * Only Raft messages pass through here: the TLS link stays up (keepalives still flow) and
 * HTTP between nodes (forwarding to the leader) is not affected. A message to a blocked
 * peer is reported through `onUnreachable`, as the real transport reports a cut link; a
 * message lost to `dropRate` is not reported, like loss on a real network.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import { type Clock, realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { createPrng, type Prng } from '../core/prng.ts';
import type { Transport } from '../raft/transport.ts';

/** The test flag: the faults file's path. Never set it outside tests. */
export const testFaultsFileEnv = 'BERTH_TEST_FAULTS_FILE';

const PeerIdsSchema = z.array(z.number().int().positive()).max(limits.testFaultsPeersMax);

const FaultsFileSchema = z.strictObject({
  blocked: PeerIdsSchema.optional(),
  blockedFrom: PeerIdsSchema.optional(),
  blockedTo: PeerIdsSchema.optional(),
  dropRate: z.number().min(0).max(1).optional(),
});

/** The faults in force, from this node's point of view. */
export interface NetworkFaults {
  /** Peers whose messages to this node are dropped on arrival. */
  readonly inbound: ReadonlySet<NodeId>;
  /** Peers that this node's messages are dropped for, before sending. */
  readonly outbound: ReadonlySet<NodeId>;
  /** Probability in [0, 1] that any other message, either way, is lost. */
  readonly dropRate: number;
}

/** No faults: what a missing, empty or malformed file means. */
export const noFaults: NetworkFaults = { inbound: new Set(), outbound: new Set(), dropRate: 0 };

/** Messages the wrapper dropped, by reason and direction. */
export interface FaultInjectionStats {
  blockedOutbound: number;
  blockedInbound: number;
  lostOutbound: number;
  lostInbound: number;
}

export interface FaultInjectionOptions {
  /** The faults file (absolute, or relative to the working directory). */
  path: string;
  clock?: Clock;
  /** Draws for `dropRate`. Default: seeded from the wall clock and the node id. */
  prng?: Prng;
  logger?: Logger;
  /** Interval between two reads of the file, in ms. Default `limits.testFaultsPollMs`. */
  pollMs?: number;
}

/** Parses the faults file's text; malformed text is a `bad_faults_file` error value. */
export function parseFaults(text: string): NetworkFaults | BerthError {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return new BerthError('bad_faults_file', `not JSON: ${(error as Error).message}`);
  }
  const parsed = FaultsFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    return new BerthError('bad_faults_file', `${where}: ${issue?.message ?? 'invalid'}`);
  }
  const both = parsed.data.blocked ?? [];
  return {
    inbound: new Set([...both, ...(parsed.data.blockedFrom ?? [])]),
    outbound: new Set([...both, ...(parsed.data.blockedTo ?? [])]),
    dropRate: parsed.data.dropRate ?? 0,
  };
}

/**
 * Wraps the peer transport when the test flag is set; otherwise returns `inner` itself,
 * so production pays nothing. `env` defaults to the process environment.
 */
export function withTestFaults(
  inner: Transport,
  options: { dataDir: string; logger?: Logger; env?: Record<string, string | undefined> },
): Transport {
  const file = (options.env ?? process.env)[testFaultsFileEnv];
  if (!file) return inner;
  const path = isAbsolute(file) ? file : join(options.dataDir, file);
  const logger = options.logger ?? silentLogger;
  logger.warn('TEST-ONLY network fault injection is on', { env: testFaultsFileEnv, path });
  return new FaultInjectingTransport(inner, { path, logger });
}

/** A Transport that drops messages as the faults file says; see the file comment. */
export class FaultInjectingTransport implements Transport {
  readonly #inner: Transport;
  readonly #path: string;
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #stats: FaultInjectionStats = {
    blockedOutbound: 0,
    blockedInbound: 0,
    lostOutbound: 0,
    lostInbound: 0,
  };
  #faults: NetworkFaults = noFaults;
  /** What the faults were last logged as, so only changes are logged. */
  #faultsSignature = signature(noFaults);
  /** The last read problem logged, so a persistently bad file is logged once. */
  #problem: string | undefined;
  #unreachable: ((peer: NodeId) => void) | undefined;
  #cancelPoll: (() => void) | undefined;
  #closed = false;

  constructor(inner: Transport, options: FaultInjectionOptions) {
    this.#inner = inner;
    this.#path = options.path;
    this.#clock = options.clock ?? realClock;
    this.#prng = options.prng ?? createPrng((Date.now() ^ Math.imul(inner.id, 0x9e3779b1)) >>> 0);
    this.#log = (options.logger ?? silentLogger).child({ actor: 'test-faults' });
    this.#pollMs = options.pollMs ?? limits.testFaultsPollMs;
    assert(this.#pollMs > 0, 'the faults file must be polled at a positive interval');
    this.reload();
    this.#schedulePoll();
  }

  get id(): NodeId {
    return this.#inner.id;
  }

  /** The faults in force now. */
  faults(): NetworkFaults {
    return this.#faults;
  }

  stats(): FaultInjectionStats {
    return { ...this.#stats };
  }

  send(msgs: readonly RaftMessage[]): void {
    const kept: RaftMessage[] = [];
    for (const msg of msgs) {
      if (this.#faults.outbound.has(msg.to)) {
        this.#stats.blockedOutbound++;
        this.#unreachable?.(msg.to);
      } else if (this.#lose()) {
        this.#stats.lostOutbound++;
      } else {
        kept.push(msg);
      }
    }
    if (kept.length > 0) this.#inner.send(kept);
  }

  onMessage(handler: (msg: RaftMessage) => void): () => void {
    return this.#inner.onMessage((msg) => {
      if (this.#faults.inbound.has(msg.from)) {
        this.#stats.blockedInbound++;
      } else if (this.#lose()) {
        this.#stats.lostInbound++;
      } else {
        handler(msg);
      }
    });
  }

  onUnreachable(handler: (peer: NodeId) => void): () => void {
    this.#unreachable = handler;
    const unsubscribe = this.#inner.onUnreachable(handler);
    return () => {
      if (this.#unreachable === handler) this.#unreachable = undefined;
      unsubscribe();
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelPoll?.();
    this.#cancelPoll = undefined;
    await this.#inner.close();
  }

  /** Reads the faults file now (the poll timer calls this; tests may too). */
  reload(): void {
    const read = readFaultsFile(this.#path);
    if (read instanceof BerthError) {
      if (read.message !== this.#problem) {
        this.#log.warn('faults file ignored; no faults in force', {
          path: this.#path,
          code: read.code,
          reason: read.message,
        });
      }
      this.#problem = read.message;
      this.#setFaults(noFaults);
      return;
    }
    this.#problem = undefined;
    this.#setFaults(read);
  }

  #setFaults(faults: NetworkFaults): void {
    this.#faults = faults;
    const next = signature(faults);
    if (next === this.#faultsSignature) return;
    this.#faultsSignature = next;
    this.#log.info('test network faults changed', {
      blockedFrom: [...faults.inbound],
      blockedTo: [...faults.outbound],
      dropRate: faults.dropRate,
    });
  }

  #lose(): boolean {
    return this.#faults.dropRate > 0 && this.#prng.chance(this.#faults.dropRate);
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    this.#cancelPoll = this.#clock.setTimer(this.#pollMs, () => {
      this.reload();
      this.#schedulePoll();
    });
  }
}

/** The file's faults; a missing file is no faults; unreadable or malformed is an error value. */
function readFaultsFile(path: string): NetworkFaults | BerthError {
  try {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return noFaults;
    if (stat.size > limits.testFaultsFileBytesMax) {
      return new BerthError(
        'bad_faults_file',
        `${stat.size} bytes exceed testFaultsFileBytesMax (${limits.testFaultsFileBytesMax})`,
      );
    }
    const text = readFileSync(path, 'utf8');
    // The file may have grown between stat and read; the bound holds for what was read.
    if (text.length > limits.testFaultsFileBytesMax) {
      return new BerthError('bad_faults_file', 'the file grew past testFaultsFileBytesMax');
    }
    return parseFaults(text);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Deleted between stat and read: the same as missing.
    if (code === 'ENOENT') return noFaults;
    return new BerthError('bad_faults_file', `cannot read: ${(error as Error).message}`);
  }
}

function signature(faults: NetworkFaults): string {
  const sorted = (ids: ReadonlySet<NodeId>) => [...ids].sort((a, b) => a - b);
  return JSON.stringify([sorted(faults.inbound), sorted(faults.outbound), faults.dropRate]);
}
