/**
 * Durations in a job spec are written with a unit ("500ms", "5s", "2m", "1h30m", "1d") and
 * normalised to milliseconds. A bare number is refused on purpose: Kamal's deploy.yml uses
 * seconds where other tools use milliseconds, so `interval: 5` has no safe reading.
 */

const unitMs: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** One or more `<integer or decimal><unit>` parts, largest unit first by convention. */
const durationPattern = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const partPattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** The pattern as a JSON Schema `pattern` string, for editors. */
export const durationPatternSource = durationPattern.source;

/** Longest duration a spec may state: 30 days covers every retry window we know of. */
export const durationMsMax = 30 * unitMs.d!;

/**
 * Parses "5s", "500ms", "2m", "1h30m", "1.5s" into whole milliseconds; returns null when the
 * text is not a duration or exceeds `durationMsMax`.
 */
export function parseDurationMs(text: string): number | null {
  const trimmed = text.trim();
  if (!durationPattern.test(trimmed)) return null;
  let totalMs = 0;
  for (const match of trimmed.matchAll(partPattern)) {
    totalMs += Number(match[1]) * unitMs[match[2]!]!;
  }
  const roundedMs = Math.round(totalMs);
  if (!Number.isFinite(roundedMs) || roundedMs > durationMsMax) return null;
  return roundedMs;
}

/** Formats milliseconds back into the shortest exact spec form ("90s" → "1m30s"). */
export function formatDurationMs(durationMs: number): string {
  if (durationMs === 0) return '0s';
  let restMs = durationMs;
  let text = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const sizeMs = unitMs[unit]!;
    const count = Math.floor(restMs / sizeMs);
    if (count > 0) {
      text += `${count}${unit}`;
      restMs -= count * sizeMs;
    }
  }
  return text;
}
