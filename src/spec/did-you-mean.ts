/**
 * "Did you mean" suggestions for misspelt keys and enum values. A typo in a spec should
 * cost the user one glance, not a trip to the documentation.
 */

/** Largest edit distance at which a candidate is still offered as a suggestion. */
export const suggestionDistanceMax = 2;

/** Levenshtein distance, cut off early once it exceeds `limit` (returns limit + 1). */
export function editDistance(a: string, b: string, limit = suggestionDistanceMax): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The closest candidate within `suggestionDistanceMax` edits (case-insensitive, so
 * `Image` finds `image`), or null. Ties go to the candidate listed first.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = suggestionDistanceMax + 1;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
