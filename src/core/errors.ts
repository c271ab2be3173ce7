/**
 * Operating errors carry a stable `code`; callers branch on the code, never on the
 * message text. The HTTP layer maps codes to statuses in one place.
 */
export class BerthError extends Error {
  override name = 'BerthError';
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.details = details;
  }
}
