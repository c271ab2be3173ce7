/**
 * The one place where error codes become HTTP statuses (STYLE.md rule 9). Everything the
 * API refuses is a BerthError with a stable `code`; `app.onError`, the not-found handler and
 * the method-not-allowed handler all answer through `errorResponse`, so the body is always
 * `{ "error": { "code", "message" } }` and the status always comes from `statusByCode`.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AssertionError } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/** HTTP status per error code. A code missing here answers 500 and is logged. */
export const statusByCode: Readonly<Record<string, ContentfulStatusCode>> = {
  bad_json: 400,
  invalid_body: 400,
  invalid_query: 400,
  invalid_message: 400,
  invalid_node_id: 400,
  bad_join_token: 400,
  bad_csr: 400,
  csr_signature_invalid: 400,
  csr_key_unsupported: 400,
  bad_node_name: 400,
  certificate_invalid: 400,
  certificate_key_mismatch: 400,
  certificate_host_mismatch: 400,
  certificate_expired: 400,
  certificate_secret_missing: 400,
  unauthenticated: 401,
  forbidden: 403,
  join_refused: 403,
  renewal_refused: 403,
  not_found: 404,
  job_not_found: 404,
  job_version_not_found: 404,
  secret_not_found: 404,
  token_not_found: 404,
  peer_not_found: 404,
  node_not_found: 404,
  allocation_not_found: 404,
  deployment_not_found: 404,
  certificate_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  already_leader: 409,
  already_member: 409,
  already_voter: 409,
  node_retired: 409,
  last_voter: 409,
  learner_lagging: 409,
  no_keyring: 409,
  events_compacted: 410,
  body_too_large: 413,
  log_entry_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  internal: 500,
  not_implemented: 501,
  forward_failed: 502,
  node_unreachable: 502,
  no_leader: 503,
  not_leader: 503,
  proposal_dropped: 503,
  read_dropped: 503,
  membership_change_pending: 503,
  too_many_streams: 503,
  host_closed: 503,
  host_failed: 503,
  timeout: 504,
};

/**
 * Codes after which the same request may simply be sent again later; they get a
 * Retry-After (seconds). `timeout` is not one: the write may still commit.
 */
const retryAfterSecondsByCode: Readonly<Record<string, number>> = {
  no_leader: 1,
  not_leader: 1,
  proposal_dropped: 1,
  read_dropped: 1,
  membership_change_pending: 1,
  too_many_streams: 5,
  host_closed: 1,
};

/** The JSON error body, as clients see it. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Detail keys safe to show a client (field paths, the allowed methods, a leader hint). */
const publicDetailKeys = ['issues', 'allow', 'bytesMax', 'firstIndex', 'holdMs', 'role'];

/** The response for `error`. Unknown failures become a 500 `internal` with no details. */
export function errorResponse(c: Context, error: unknown, logger: Logger): Response {
  const known = error instanceof BerthError ? error : undefined;
  if (!known) {
    // An AssertionError is a bug on our side; its text is for the log, not the client.
    const kind = error instanceof AssertionError ? 'assertion failed' : 'unexpected error';
    logger.error(`api: ${kind}`, { path: c.req.path, error: String(error) });
  }
  const err = known ?? new BerthError('internal', 'internal error; see the server log');
  let status = statusByCode[err.code];
  if (status === undefined) {
    logger.warn('api: error code without an HTTP status', { code: err.code });
    status = 500;
  }
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  const details = publicDetails(err.details);
  if (details) body.error.details = details;
  const headers: Record<string, string> = {};
  const retryAfterS = retryAfterSecondsByCode[err.code];
  if (retryAfterS !== undefined) headers['Retry-After'] = String(retryAfterS);
  if (err.code === 'unauthenticated') headers['WWW-Authenticate'] = 'Bearer realm="berth"';
  const allow = err.details?.allow;
  if (err.code === 'method_not_allowed' && Array.isArray(allow)) headers.Allow = allow.join(', ');
  return c.json(body, status, headers);
}

function publicDetails(
  details: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!details) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of publicDetailKeys) if (key in details) out[key] = details[key];
  return Object.keys(out).length > 0 ? out : undefined;
}
