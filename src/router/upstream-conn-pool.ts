/**
 * Keep-alive connections to one upstream (host:port). Idle connections are reused
 * last-in first-out, so under light load the warm ones stay busy and the rest reach their
 * idle timeout (upstream-conn.ts) and close.
 *
 * The classic keep-alive pitfall, an upstream closing an idle connection just as a
 * request is written to it, is reported by the connection as a "retry safe" failure; the
 * caller then resends once with `send(exchange, { fresh: true })`, which never picks an
 * idle connection (they may all be stale after an upstream restart).
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import { type ConnectionOwner, type Exchange, UpstreamConnection } from './upstream-conn.ts';

export type {
  Exchange,
  ExchangeFailureKind,
  ReplyHeaders,
  UpstreamConnection,
  UpstreamReply,
} from './upstream-conn.ts';

const urlPattern = /^http:\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]]+):(\d{1,5})$/;

/** Bounds of one pool; the defaults come from `src/core/limits.ts`. */
export interface ConnPoolLimits {
  /** Connections open at once (busy and idle). */
  connsMax: number;
  /** Idle connections kept for reuse. */
  idleConnsMax: number;
}

const defaultPoolLimits: ConnPoolLimits = {
  connsMax: limits.routerUpstreamConnsMax,
  idleConnsMax: limits.routerUpstreamIdleConnsMax,
};

export class UpstreamConnPool implements ConnectionOwner {
  readonly #hostname: string;
  readonly #port: number;
  readonly #limits: ConnPoolLimits;
  readonly #idle: UpstreamConnection[] = [];
  #openCount = 0;
  #closed = false;

  constructor(hostname: string, port: number, poolLimits: ConnPoolLimits = defaultPoolLimits) {
    assert(poolLimits.idleConnsMax <= poolLimits.connsMax, 'idle connections above the cap');
    this.#hostname = hostname;
    this.#port = port;
    this.#limits = poolLimits;
  }

  /** The upstream's address (for a tunnel that bypasses the pool). */
  get address(): { hostname: string; port: number } {
    return { hostname: this.#hostname, port: this.#port };
  }

  /**
   * The pool for an upstream URL, or undefined when it is not plain `http://host:port`
   * (those go through fetch).
   */
  static forUrl(url: string, poolLimits?: ConnPoolLimits): UpstreamConnPool | undefined {
    const match = urlPattern.exec(url);
    if (!match) return undefined;
    const port = Number(match[2]);
    if (port < 1 || port > 65_535) return undefined;
    const host = match[1]!;
    return new UpstreamConnPool(host.startsWith('[') ? host.slice(1, -1) : host, port, poolLimits);
  }

  /**
   * Starts `exchange` on an idle connection (unless `fresh`) or a new one, and returns
   * the connection carrying it. Undefined when the upstream already has `connsMax`
   * connections or the pool is closed: the caller uses fetch.
   */
  send(exchange: Exchange, options: { fresh?: boolean } = {}): UpstreamConnection | undefined {
    if (this.#closed) return undefined;
    const idle = options.fresh ? undefined : this.#idle.pop();
    if (idle) {
      idle.send(exchange);
      return idle;
    }
    if (this.#openCount >= this.#limits.connsMax) return undefined;
    this.#openCount += 1;
    return UpstreamConnection.open(this, this.#hostname, this.#port, exchange);
  }

  release(conn: UpstreamConnection): void {
    if (this.#closed || this.#idle.length >= this.#limits.idleConnsMax) {
      conn.closeIdle();
      return;
    }
    this.#idle.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    assert(this.#openCount > 0, 'upstream connection forgotten twice');
    this.#openCount -= 1;
    const at = this.#idle.lastIndexOf(conn);
    if (at >= 0) this.#idle.splice(at, 1);
  }

  /** Closes idle connections now and busy ones when their exchange ends; sends stop. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.closeIdle();
  }

  /** Connections open (busy and idle) and idle. */
  stats(): { open: number; idle: number } {
    return { open: this.#openCount, idle: this.#idle.length };
  }
}
