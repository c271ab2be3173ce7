/**
 * Maps zod issues to spec errors: a stable code, the user's path, a message written for
 * someone editing YAML, and a did-you-mean hint for misspelt keys and values.
 */
import type { z } from 'zod';
import { closestMatch } from './did-you-mean.ts';
import { DurationSchema } from './fields.ts';
import { allowedKeysAt, isSchemaAt } from './schema-walk.ts';
import type { SpecError, SpecErrorCode } from './spec-error.ts';
import { lookupPosition, type PathSegment, type PositionIndex, pathKey } from './yaml-positions.ts';

type Issue = z.core.$ZodIssue;

interface MapContext {
  schema: z.core.$ZodType;
  input: unknown;
  index: PositionIndex;
}

/** The spec errors one zod issue stands for (several for a list of unknown keys). */
export function mapIssue(
  issue: Issue,
  context: MapContext,
  prefix: PathSegment[] = [],
): SpecError[] {
  const path = [...prefix, ...(issue.path as PathSegment[])];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownField(context, path, key));
    case 'invalid_union':
      return mapUnion(issue, context, path);
    default:
      return [toSpecError(context, path, describeIssue(issue, context, path))];
  }
}

interface Described {
  code: SpecErrorCode;
  message: string;
  hint?: string;
}

function toSpecError(context: MapContext, path: PathSegment[], described: Described): SpecError {
  const position = lookupPosition(context.index, path);
  const error: SpecError = {
    code: described.code,
    message: described.message,
    path: pathKey(path),
    line: position.line,
    column: position.column,
  };
  if (described.hint) error.hint = described.hint;
  return error;
}

function unknownField(context: MapContext, objectPath: PathSegment[], key: string): SpecError {
  const suggestion = closestMatch(key, allowedKeysAt(context.schema, objectPath));
  return toSpecError(context, [...objectPath, key], {
    code: 'unknown_field',
    message: 'unknown field',
    hint: suggestion ? `did you mean ${suggestion}?` : undefined,
  });
}

/**
 * A union failed: when exactly one branch got past the type check (the value had the right
 * shape but a bad part), its issues say more than "invalid input"; report those instead.
 */
function mapUnion(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  context: MapContext,
  path: PathSegment[],
): SpecError[] {
  const branches = (issue.errors ?? []).filter(
    (branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
  );
  if (branches.length === 1) {
    return branches[0]!.flatMap((inner) => mapIssue(inner, context, path));
  }
  const value = valueAt(context.input, path);
  if (value === undefined) return [toSpecError(context, path, missing())];
  return [
    toSpecError(context, path, {
      code: 'invalid_type',
      message: `${issue.message}, got ${describeValue(value)}`,
    }),
  ];
}

function missing(): Described {
  return { code: 'missing_field', message: 'required field is missing' };
}

function describeIssue(issue: Issue, context: MapContext, path: PathSegment[]): Described {
  const value = valueAt(context.input, path);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return missing();
      if (isSchemaAt(context.schema, path, DurationSchema)) {
        return {
          code: 'invalid_duration',
          message: `expected a duration, got ${describeValue(value)}`,
          hint: 'write a number with a unit: 500ms, 5s, 2m, 1h or 1h30m',
        };
      }
      return {
        code: 'invalid_type',
        message: `expected ${expectedName(issue.expected)}, got ${describeValue(value)}`,
      };
    case 'too_small':
      return { code: 'out_of_range', message: boundMessage(issue.origin, 'least', issue.minimum) };
    case 'too_big':
      return { code: 'out_of_range', message: boundMessage(issue.origin, 'most', issue.maximum) };
    case 'invalid_value':
      return describeEnum(issue.values, value);
    case 'custom': {
      const params = (issue.params ?? {}) as { specCode?: SpecErrorCode; hint?: string };
      return {
        code: params.specCode ?? 'invalid_value',
        message: issue.message,
        hint: params.hint,
      };
    }
    default:
      return { code: 'invalid_value', message: issue.message };
  }
}

function describeEnum(values: readonly unknown[], value: unknown): Described {
  const options = values.map((option) => String(option));
  const suggestion = typeof value === 'string' ? closestMatch(value, options) : null;
  return {
    code: 'invalid_value',
    message: `expected one of ${options.join(', ')}, got ${describeValue(value)}`,
    hint: suggestion ? `did you mean ${suggestion}?` : undefined,
  };
}

function boundMessage(origin: string, side: 'least' | 'most', bound: number | bigint): string {
  const amount = Number(bound);
  if (origin === 'array' || origin === 'set') return `must have at ${side} ${amount} item(s)`;
  if (origin === 'string') {
    return amount === 1 && side === 'least'
      ? 'must not be empty'
      : `must have at ${side} ${amount} characters`;
  }
  return `must be at ${side} ${amount}`;
}

function expectedName(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  return `a ${expected}`;
}

/** A short, safe rendering of the offending value (never the whole thing). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    return value.length > 40 ? `"${value.slice(0, 37)}…"` : JSON.stringify(value);
  }
  return String(value);
}

function valueAt(input: unknown, path: readonly PathSegment[]): unknown {
  let current = input;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}
