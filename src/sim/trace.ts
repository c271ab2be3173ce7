/**
 * A run's trace: a rolling 32-bit FNV-1a hash over every event (cheap enough to keep
 * always on), plus readable lines when a caller asks for them (verbose replay, or a
 * failed seed re-run for its report). An event is hashed from its time, a short label
 * and up to three numbers; its readable detail is only built when lines are kept, so
 * the hash is the same whether or not lines are kept.
 */

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;

/** Records events; `hash()` identifies the run, `lines` holds the kept tail. */
export class Trace {
  #h = fnvOffset;
  #count = 0;
  readonly #linesMax: number;
  readonly #onLine: ((line: string) => void) | undefined;
  /** Kept lines, at most 2 × linesMax (trimmed in halves); read the tail with `tail`. */
  readonly lines: string[] = [];

  constructor(options: { linesMax: number; onLine?: (line: string) => void }) {
    this.#linesMax = options.linesMax;
    this.#onLine = options.onLine;
  }

  get count(): number {
    return this.#count;
  }

  /** True when readable lines are wanted; callers skip building details otherwise. */
  get keepsLines(): boolean {
    return this.#linesMax > 0 || this.#onLine !== undefined;
  }

  /** One event: hashed from (time, label, a, b, c); `detail` is only called when lines are kept. */
  event(timeMs: number, label: string, a = 0, b = 0, c = 0, detail?: () => string): void {
    this.#count++;
    // Times carry per-node drift (fractions of a ms); microseconds keep them exact enough.
    this.#mixNumber(Math.round(timeMs * 1000));
    this.#mixString(label);
    this.#mixNumber(a);
    this.#mixNumber(b);
    this.#mixNumber(c);
    if (this.keepsLines) this.#keep(`${formatMs(timeMs)} ${label}${detail ? ` ${detail()}` : ''}`);
  }

  /** A free-form line (rare events: crashes, role changes); hashed in full. */
  record(timeMs: number, line: string): void {
    this.event(timeMs, line);
  }

  /** The last `n` kept lines. */
  tail(n: number): string[] {
    return this.lines.slice(Math.max(0, this.lines.length - Math.min(n, this.#linesMax)));
  }

  /** 8 hex digits identifying the sequence of events recorded so far. */
  hash(): string {
    return (this.#h >>> 0).toString(16).padStart(8, '0');
  }

  #keep(line: string): void {
    if (this.#linesMax > 0) {
      // Trim from the front in halves so keeping a tail stays amortised O(1) per line.
      if (this.lines.length >= this.#linesMax * 2) this.lines.splice(0, this.#linesMax);
      this.lines.push(line);
    }
    this.#onLine?.(line);
  }

  #mixNumber(n: number): void {
    let h = this.#h;
    // Mix the low 32 bits and a high part, so numbers above 2^32 still differ.
    const lo = n | 0;
    const hi = Math.floor(n / 0x1_0000_0000) | 0;
    h = Math.imul(h ^ (lo & 0xffff), fnvPrime);
    h = Math.imul(h ^ (lo >>> 16), fnvPrime);
    h = Math.imul(h ^ hi, fnvPrime);
    this.#h = h;
  }

  #mixString(s: string): void {
    let h = this.#h;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), fnvPrime);
    this.#h = Math.imul(h ^ 10, fnvPrime);
  }
}

function formatMs(timeMs: number): string {
  return Number.isInteger(timeMs) ? String(timeMs) : timeMs.toFixed(3);
}
