/**
 * Operating errors of the actor runtime. Callers branch on `code`, never on the text.
 */
import { BerthError } from '../core/errors.ts';

/** An `ask` got no reply within its timeout (measured on the system's clock). */
export class AskTimeoutError extends BerthError {
  override name = 'AskTimeoutError';
  override readonly code = 'ask_timeout';

  constructor(actorName: string, timeoutMs: number) {
    super('ask_timeout', `no reply from actor ${actorName} within ${timeoutMs} ms`, {
      actor: actorName,
      timeoutMs,
    });
  }
}

/**
 * A supervisor exceeded its restart intensity, stopped its children and gave up. Its
 * parent sees this as the supervisor crashing; at the root it reaches `onEscalate`.
 * `cause` is the exit that was one restart too many.
 */
export class RestartIntensityError extends BerthError {
  override name = 'RestartIntensityError';
  override readonly code = 'restart_intensity_exceeded';
  readonly supervisorName: string;
  readonly childName: string;
  override readonly cause: unknown;

  constructor(supervisorName: string, childName: string, cause: unknown) {
    super(
      'restart_intensity_exceeded',
      `supervisor ${supervisorName} exceeded its restart intensity (last exit: ${childName})`,
      { supervisor: supervisorName, child: childName },
    );
    this.supervisorName = supervisorName;
    this.childName = childName;
    this.cause = cause;
  }
}
