/**
 * Finds the zod schemas that govern a path of the spec, so error reporting can ask "which
 * keys are allowed here?" (did-you-mean) and "is this a duration field?" without a second,
 * hand-kept copy of the spec's structure.
 */
import type { z } from 'zod';
import { limits } from '../core/limits.ts';

type AnySchema = z.core.$ZodType;
type Def = { type: string } & Record<string, unknown>;

function defOf(schema: AnySchema): Def {
  return schema._zod.def as unknown as Def;
}

/** Unwraps optional/default/pipe wrappers (input side) and fans out over unions. */
function unwrap(schema: AnySchema): AnySchema[] {
  const out: AnySchema[] = [];
  const pending: AnySchema[] = [schema];
  // Bounded: each step removes one wrapper; specs nest far less than this.
  for (let steps = 0; pending.length > 0 && steps < limits.specNestingDepthMax * 8; steps += 1) {
    const current = pending.pop()!;
    const def = defOf(current);
    if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch'].includes(def.type)) {
      pending.push(def.innerType as AnySchema);
    } else if (def.type === 'pipe') {
      pending.push(def.in as AnySchema);
    } else if (def.type === 'union') {
      pending.push(...(def.options as AnySchema[]));
    } else {
      out.push(current);
    }
  }
  return out;
}

/** Schemas (after unwrapping) that may govern the value at `path`. */
export function schemasAt(root: AnySchema, path: readonly PropertyKey[]): AnySchema[] {
  let current = unwrap(root);
  for (const segment of path) {
    const next: AnySchema[] = [];
    for (const schema of current) {
      const def = defOf(schema);
      if (def.type === 'object' && typeof segment === 'string') {
        const field = (def.shape as Record<string, AnySchema>)[segment];
        if (field) next.push(...unwrap(field));
      } else if (def.type === 'record' && typeof segment === 'string') {
        next.push(...unwrap(def.valueType as AnySchema));
      } else if (def.type === 'array' && typeof segment === 'number') {
        next.push(...unwrap(def.element as AnySchema));
      }
    }
    current = next;
  }
  return current;
}

/** Keys the strict objects at `path` accept, in schema order. */
export function allowedKeysAt(root: AnySchema, path: readonly PropertyKey[]): string[] {
  const keys: string[] = [];
  for (const schema of schemasAt(root, path)) {
    const def = defOf(schema);
    if (def.type === 'object') keys.push(...Object.keys(def.shape as object));
  }
  return keys;
}

/** True when `target` (unwrapped) is among the schemas at `path`. */
export function isSchemaAt(
  root: AnySchema,
  path: readonly PropertyKey[],
  target: AnySchema,
): boolean {
  const wanted = new Set(unwrap(target));
  return schemasAt(root, path).some((schema) => wanted.has(schema));
}
