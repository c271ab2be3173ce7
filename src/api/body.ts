/**
 * Parsing at the HTTP trust boundary (STYLE.md rule 6): JSON bodies and query strings are
 * validated with zod, and failures become BerthErrors with field paths.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** One validation problem, addressed by a dotted field path (`ports.0.containerPort`). */
export interface FieldIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    // Unknown keys in a strict object are reported on the parent; name them in the path.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys.map((key) => ({
      path: [...issue.path, ...(key === undefined ? [] : [key])].map(String).join('.') || '(body)',
      message: issue.message,
    }));
  });
}

/**
 * Reads the JSON body and validates it. Malformed JSON is `bad_json`; a body of the wrong
 * shape is `invalid_body` with `details.issues`; a non-JSON content type is
 * `unsupported_media_type`. The size bound is enforced earlier by the body-limit middleware.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<z.output<S>> {
  const contentType = c.req.header('content-type');
  if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) {
    throw new BerthError('unsupported_media_type', `send application/json, not ${contentType}`);
  }
  const text = await c.req.text();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new BerthError('bad_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error);
    const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new BerthError('invalid_body', `invalid body: ${summary}`, { issues });
  }
  return parsed.data;
}

/** Validates the query string (all values as strings; repeated keys keep the last). */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) {
    const issues = issuesOf(parsed.error);
    const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new BerthError('invalid_query', `invalid query: ${summary}`, { issues });
  }
  return parsed.data;
}

/** `?stale=true|false`: skip the linearizable read barrier and read this node's state. */
const staleFlag = z
  .enum(['true', 'false'])
  .optional()
  .transform((v) => v === 'true');

/** `?limit=n`, capped at limits.apiListItemsMax. */
const limitParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(limits.apiListItemsMax)
  .default(limits.apiListItemsMax);

/** Query of a plain list read. */
export const ListQuerySchema = z.strictObject({ stale: staleFlag, limit: limitParam });

/** Query of a single-object read. */
export const ReadQuerySchema = z.strictObject({ stale: staleFlag });

export const AllocationQuerySchema = z.strictObject({
  stale: staleFlag,
  limit: limitParam,
  job: z.string().min(1).max(256).optional(),
  node: z.string().min(1).max(256).optional(),
});

export const DeploymentQuerySchema = z.strictObject({
  stale: staleFlag,
  limit: limitParam,
  job: z.string().min(1).max(256).optional(),
});
