/**
 * Yields to the event loop (a macrotask), so timers and socket I/O get a turn. Microtask
 * chains alone would starve them: an actor that always has mail never lets go otherwise.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Formats a thrown value for a log line without assuming it is an Error. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
