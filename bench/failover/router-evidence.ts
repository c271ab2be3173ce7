/**
 * Finds a failed routed request in its router's log. The router logs every request it
 * handled, when it finishes (`msg: request` with path, status, allocation and its own
 * duration), and the HTTP load gives each request a unique path, so one failed request
 * maps to at most one line. No line means the router never finished handling it: it did
 * not accept the connection, or it is still waiting on an upstream.
 */

/** What the router's log says about one request. */
export interface RouterEvidence {
  /** The status the router recorded (its own 5xx, or the upstream's). */
  status: number;
  /** The allocation that answered, when one did. */
  alloc: string | null;
  /** The router's own time for the request, from handling to the answer's headers, ms. */
  routerMs: number;
  /**
   * From the client sending the request to the router starting to handle it, ms: time
   * spent in the accept queue and the router's event loop (its process busy or starved).
   */
  pickupDelayMs: number;
}

interface RequestLine {
  ts: number;
  status: number;
  alloc: string | null;
  durationMs: number;
}

/** Log lines scanned at most per call (a bound on a pathological log). */
const logLinesMax = 2_000_000;

/** The router's `request` lines for `paths`, from one agent's log text. */
export function routerLines(logText: string, paths: ReadonlySet<string>): Map<string, RequestLine> {
  const found = new Map<string, RequestLine>();
  if (paths.size === 0) return found;
  const lines = logText.split('\n', logLinesMax);
  for (const line of lines) {
    // Cheap filters first: the log has a line per routed request.
    if (!line.includes('"msg":"request"') || !line.includes('?bench=')) continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const path = parsed.path;
    if (typeof path !== 'string' || !paths.has(path)) continue;
    found.set(path, {
      ts: Number(parsed.ts),
      status: Number(parsed.status),
      alloc: typeof parsed.alloc === 'string' ? parsed.alloc : null,
      durationMs: Number(parsed.durationMs),
    });
  }
  return found;
}

/** Evidence for a request sent at `sentAtWallMs`, from its router line. */
export function evidenceOf(line: RequestLine, sentAtWallMs: number): RouterEvidence {
  const startedAtWallMs = line.ts - line.durationMs;
  return {
    status: line.status,
    alloc: line.alloc,
    routerMs: Math.round(line.durationMs),
    pickupDelayMs: Math.round(startedAtWallMs - sentAtWallMs),
  };
}

/**
 * The sum of every series of counter `name` in a Prometheus text exposition, grouped by
 * the value of `byLabel` (all series under `''` when `byLabel` is not given).
 */
export function sumCounter(text: string, name: string, byLabel?: string): Record<string, number> {
  const sums: Record<string, number> = {};
  const labelPattern = byLabel ? new RegExp(`[{,]${byLabel}="([^"]*)"`) : undefined;
  for (const line of text.split('\n', logLinesMax)) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' '))
      continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    const key = labelPattern ? (labelPattern.exec(line)?.[1] ?? '') : '';
    sums[key] = (sums[key] ?? 0) + value;
  }
  return sums;
}
