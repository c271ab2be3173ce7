/**
 * Steady client load during the trials: a stream of writes to the surviving nodes, and
 * (Berth only) HTTP requests through the routers of the nodes that stay up. Every sample keeps
 * its timestamps so each trial's figures are read from the window around its fault.
 */
import type { FailoverTarget } from './target.ts';

/** Samples one load keeps (a bound; old samples are dropped first). */
export const loadSamplesMax = 500_000;

export interface Sample {
  invokeMs: number;
  responseMs: number;
  ok: boolean;
}

export interface Load {
  readonly samples: Sample[];
  stop(): Promise<void>;
}

export interface WriteLoadOptions {
  /** Nodes not to write to right now (the faulted one). */
  avoid: Set<number>;
  /** Bound of one write, in ms. */
  timeoutMs: number;
  /** A new write starts every `intervalMs`, whether or not earlier ones have answered. */
  intervalMs: number;
  /** Writes in flight at most; past it the tick is skipped (a bound, not a queue). */
  inFlightMax: number;
}

function push(samples: Sample[], sample: Sample): void {
  if (samples.length >= loadSamplesMax) samples.splice(0, loadSamplesMax / 10);
  samples.push(sample);
}

/**
 * An open-loop write stream: one write every `intervalMs` to the next surviving node,
 * round robin. Open loop matters: a write sent to a node that then freezes hangs until
 * its timeout (its outcome is unknown, so nobody may retry it), and a closed-loop writer
 * stuck on it would stop measuring; new clients keep arriving in real life.
 */
export function startWriteLoad(target: FailoverTarget, options: WriteLoadOptions): Load {
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const loop = (async () => {
    for (let seq = 0; !stopped; seq++) {
      const nodes = Array.from({ length: target.nodeCount }, (_, i) => i).filter(
        (i) => !options.avoid.has(i),
      );
      const node = nodes[seq % Math.max(1, nodes.length)];
      if (node !== undefined && inFlight.size < options.inFlightMax) {
        const invokeMs = performance.now();
        const write = target
          .write(node, `bench-w${seq % 8}`, `v${seq}`, options.timeoutMs)
          .then((ok) => {
            push(samples, { invokeMs, responseMs: performance.now(), ok });
            inFlight.delete(write);
          });
        inFlight.add(write);
      }
      await Bun.sleep(options.intervalMs);
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

/**
 * GETs every port `ports()` returns, every `intervalMs`; a non-2xx or error is a failure.
 * With `host`, requests carry that Host header (to go through a router's route).
 */
export function startHttpLoad(
  ports: () => readonly number[],
  intervalMs: number,
  timeoutMs: number,
  host?: string,
): Load {
  const samples: Sample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        ports().map(async (port) => {
          const invokeMs = performance.now();
          let ok = false;
          try {
            const res = await fetch(`http://127.0.0.1:${port}/`, {
              signal: AbortSignal.timeout(timeoutMs),
              ...(host ? { headers: { host } } : {}),
            });
            ok = res.ok;
            await res.arrayBuffer();
          } catch {
            ok = false;
          }
          push(samples, { invokeMs, responseMs: performance.now(), ok });
        }),
      );
      await Bun.sleep(intervalMs);
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * The first write invoked at or after `fromMs` that succeeded: the time from `fromMs` to
 * its response, or null when none did.
 */
export function firstSuccessAfter(samples: readonly Sample[], fromMs: number): number | null {
  let best: number | null = null;
  for (const s of samples) {
    if (s.ok && s.invokeMs >= fromMs && (best === null || s.responseMs < best)) best = s.responseMs;
  }
  return best === null ? null : best - fromMs;
}

/**
 * The write-unavailability window a client sees: the longest gap between two consecutive
 * successful write completions that spans or follows `fromMs`, up to `toMs`.
 */
export function longestSuccessGap(
  samples: readonly Sample[],
  fromMs: number,
  toMs: number,
): number {
  const done = samples
    .filter((s) => s.ok)
    .map((s) => s.responseMs)
    .sort((a, b) => a - b);
  let gap = 0;
  let previous = done.filter((t) => t < fromMs).at(-1) ?? fromMs;
  let sawSuccess = false;
  for (const t of done) {
    if (t < fromMs) continue;
    if (t > toMs) break;
    gap = Math.max(gap, t - previous);
    previous = t;
    sawSuccess = true;
  }
  // No write completed in the whole window: the client saw it unavailable throughout.
  return sawSuccess ? gap : toMs - previous;
}

/** Failed samples invoked in [fromMs, toMs]. */
export function failuresBetween(
  samples: readonly Sample[],
  fromMs: number,
  toMs: number,
): { failed: number; total: number } {
  const inWindow = samples.filter((s) => s.invokeMs >= fromMs && s.invokeMs <= toMs);
  return { failed: inWindow.filter((s) => !s.ok).length, total: inWindow.length };
}
