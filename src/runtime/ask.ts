/**
 * `ask`: a tell carrying a one-shot reply slot, plus a timer on the system's clock. The
 * timeout is mandatory and bounded because asks are for the edges (HTTP handlers, CLI),
 * where nothing may wait forever; under a SimClock the timer fires when the simulation
 * advances time, so timeouts are testable without real waiting.
 */
import { assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { RuntimeEnv } from './child.ts';
import { AskTimeoutError } from './errors.ts';
import type { AskOptions, Recipient, TellResult } from './types.ts';

/** Asserts a usable ask timeout. A bad one is a programmer error, so it throws at once. */
export function assertAskTimeout(options: AskOptions | undefined): void {
  const timeoutMs = options?.timeoutMs;
  assert(
    typeof timeoutMs === 'number' &&
      Number.isFinite(timeoutMs) &&
      timeoutMs > 0 &&
      timeoutMs <= limits.askTimeoutMsMax,
    `ask timeoutMs must be a number in (0, ${limits.askTimeoutMsMax}], got ${String(timeoutMs)}`,
  );
}

/** Sends `build(replyTo)` to `target` and resolves with the first reply told to `replyTo`. */
export function ask<M, R>(
  env: RuntimeEnv,
  target: { readonly name: string; readonly tell: (message: M) => TellResult },
  build: (replyTo: Recipient<R>) => M,
  options: AskOptions,
): Promise<R> {
  assertAskTimeout(options);
  if (!env.acquireAsk()) {
    return Promise.reject(
      new BerthError('asks_exhausted', `too many pending asks (${limits.asksInFlightMax})`, {
        actor: target.name,
      }),
    );
  }
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    let cancelTimer = (): void => {};
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      cancelTimer();
      env.releaseAsk();
      return true;
    };
    // A reply after the timeout (or a second reply) is refused like a tell to a stopped
    // actor: the one-shot recipient no longer exists.
    const replyTo: Recipient<R> = {
      tell: (reply: R): TellResult => {
        if (!settle()) return { ok: false, code: 'actor_stopped' };
        resolve(reply);
        return { ok: true };
      },
    };
    cancelTimer = env.clock.setTimer(options.timeoutMs, () => {
      if (settle()) reject(new AskTimeoutError(target.name, options.timeoutMs));
    });
    let result: TellResult;
    try {
      result = target.tell(build(replyTo));
    } catch (error) {
      if (settle()) reject(error);
      return;
    }
    if (!result.ok && settle()) {
      reject(new BerthError(result.code, `actor ${target.name} refused the ask: ${result.code}`));
    }
  });
}
