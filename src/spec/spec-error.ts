/**
 * The errors a spec parse reports: a stable `code` to branch on, the spec path the user
 * wrote, and where they wrote it, formatted like a compiler (`app.yml:12:3: …`).
 */

import type { SpecRuleCode } from './fields.ts';

/** Stable codes; callers branch on these, never on the message text. */
export type SpecErrorCode =
  | SpecRuleCode
  | 'spec_too_large'
  | 'yaml_syntax'
  | 'yaml_tab_indent'
  | 'yaml_duplicate_key'
  | 'spec_not_mapping'
  | 'unknown_field'
  | 'missing_field'
  | 'invalid_type'
  | 'invalid_value'
  | 'out_of_range'
  | 'too_many_errors';

export interface SpecError {
  code: SpecErrorCode;
  message: string;
  /** Dotted spec path, e.g. `update.max_parallel` or `routes[0].hosts[1]`; '' for the file. */
  path: string;
  /** 1-based line and column of the key (or its nearest written parent). */
  line: number;
  column: number;
  /** What to do about it, when there is something specific to say. */
  hint?: string;
}

/** `app.yml:12:3: update.max_paralel: unknown field (did you mean max_parallel?)` */
export function formatSpecError(fileName: string, error: SpecError): string {
  const where = error.path === '' ? '' : `${error.path}: `;
  const hint = error.hint ? ` (${error.hint})` : '';
  return `${fileName}:${error.line}:${error.column}: ${where}${error.message}${hint}`;
}
