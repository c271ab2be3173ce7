/**
 * Steady client load during the trials: a stream of writes to the surviving nodes (the
 * HTTP load through the routers is in http-load.ts), and the figures read from the
 * samples. Every sample keeps its timestamps so each trial's figures are read from the
 * window around its fault.
 */
import type { FailoverTarget } from './target.ts';

/** Samples one load keeps (a bound; old samples are dropped first). */
export const loadSamplesMax = 500_000;

export interface Sample {
  invokeMs: number;
  responseMs: number;
  ok: boolean;
  /** The endpoint asked, for an HTTP request (e.g. `n2`, the router's node). */
  target?: string;
  /** What went wrong, for a failed HTTP request (the write load leaves it out). */
  failure?: RequestFailure;
}

/**
 * How one HTTP request failed, as the client saw it: no complete answer within the
 * client's timeout, a refused or broken connection, a non-2xx status, or not sent at all
 * because the client's in-flight bound was reached.
 */
export type FailureKind = 'timeout' | 'refused' | 'reset' | 'status' | 'not_sent';

export interface RequestFailure {
  /** Which endpoint was asked, e.g. `n2` (the router's node). */
  target: string;
  /** The request's path, unique per request, so the router's log line can be found. */
  path: string;
  kind: FailureKind;
  /** The HTTP status, when an answer came. */
  status?: number;
  /** `error.code` of a JSON error body (the router's own answers), when there is one. */
  code?: string;
  /** The error's code or name, for a request that got no answer. */
  error?: string;
  /** Wall-clock send time (Date.now), to line the failure up with the agents' logs. */
  sentAtWallMs: number;
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

export function push(samples: Sample[], sample: Sample): void {
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

/**
 * The routed requests a fault at `faultMs` can have touched, up to `toMs`: those sent at or
 * after the fault, and those still in flight at it — except the ones in flight through
 * the faulted node's own router (`faultedTarget`), which died with it; the load measures
 * the routers of the nodes that stay up.
 */
export function routedWindow(
  samples: readonly Sample[],
  faultMs: number,
  toMs: number,
  faultedTarget: string,
): Sample[] {
  return samples.filter(
    (s) =>
      s.invokeMs <= toMs &&
      (s.invokeMs >= faultMs || (s.responseMs >= faultMs && s.target !== faultedTarget)),
  );
}
