/**
 * JSON with object keys sorted, recursively. The state machine stores JSON columns this
 * way so that two nodes holding equal values also hold equal bytes, whatever key order
 * the proposer happened to use: state digests and snapshots compare byte for byte.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return sorted;
}
