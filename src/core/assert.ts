/**
 * Assertions are for programmer errors (TigerBeetle style): they stay on in production,
 * crash the actor that hit them, and its supervisor restarts it. Operating errors are
 * values with a stable code, never assertions.
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
