/**
 * `parseJobSpec`: YAML text in, validated and normalised jobs out, or every problem found
 * with its `file:line:column`. Bun.YAML.parse gives values without positions and keeps the
 * last of two equal keys, so a small line scanner (yaml-positions.ts) supplies positions
 * and refuses duplicate keys and tab indentation.
 */
import { limits } from '../core/limits.ts';
import { jobDocuments, withoutExtensionKeys } from './documents.ts';
import { mapIssue } from './issue-map.ts';
import { type Job, type JobSpec, type JobSpecInput, JobSpecSchema } from './schema.ts';
import { formatSpecError, type SpecError } from './spec-error.ts';
import { indexYamlPositions, pathKey, type ScanIssue } from './yaml-positions.ts';

export type ParseJobSpecResult =
  | {
      ok: true;
      /** The normalised spec: the main job with its accessories by key. */
      spec: JobSpec;
      /** Jobs to register: the main job first, then one per accessory (sorted by key). */
      jobs: Job[];
      /** The authoring form of each job in `jobs` (what the CLI POSTs; see documents.ts). */
      documents: JobSpecInput[];
    }
  | {
      ok: false;
      errors: SpecError[];
      /** The errors formatted one per line as `file:line:column: path: message (hint)`. */
      report: string;
    };

/**
 * Parses and validates a job spec. `fileName` only labels errors (see `formatSpecError`).
 * Errors are sorted by position and capped at `limits.specErrorsMax`.
 */
export function parseJobSpec(text: string, fileName: string): ParseJobSpecResult {
  if (new TextEncoder().encode(text).length > limits.specBytesMax) {
    return fail(fileName, [
      fileError('spec_too_large', `larger than ${limits.specBytesMax} bytes`),
    ]);
  }
  const index = indexYamlPositions(text);
  const scanErrors = index.issues.map(scanIssueToError);
  const loaded = loadYaml(text);
  if (!loaded.ok) {
    // Bun refuses tab indentation too; the scanner's error says where.
    return fail(fileName, scanErrors.length > 0 ? scanErrors : [loaded.error]);
  }
  if (loaded.value === null || typeof loaded.value !== 'object' || Array.isArray(loaded.value)) {
    return fail(fileName, [...scanErrors, notMapping(loaded.value, text)]);
  }
  const value = withoutExtensionKeys(loaded.value as Record<string, unknown>);
  const result = JobSpecSchema.safeParse(value);
  if (!result.success) {
    const context = { schema: JobSpecSchema, input: value, index };
    return fail(fileName, [
      ...scanErrors,
      ...result.error.issues.flatMap((issue) => mapIssue(issue, context)),
    ]);
  }
  if (scanErrors.length > 0) return fail(fileName, scanErrors);
  return {
    ok: true,
    spec: result.data,
    jobs: expandJobs(result.data),
    documents: jobDocuments(value, result.data),
  };
}

/** The main job (without its accessories map) followed by each accessory as its own job. */
export function expandJobs(spec: JobSpec): Job[] {
  const { accessories, ...main } = spec;
  return [
    main,
    ...Object.keys(accessories)
      .sort()
      .map((key) => accessories[key]!),
  ];
}

type Loaded = { ok: true; value: unknown } | { ok: false; error: SpecError };

function loadYaml(text: string): Loaded {
  try {
    return { ok: true, value: Bun.YAML.parse(text) };
  } catch (error) {
    const line = firstFailingLine(text);
    const detail = error instanceof Error ? error.message.replace(/^YAML Parse error: /, '') : '';
    return {
      ok: false,
      error: {
        code: 'yaml_syntax',
        message: `invalid YAML${detail ? `: ${detail}` : ''}`,
        path: '',
        line,
        column: 1,
      },
    };
  }
}

/**
 * Bun's YAML errors carry no position, so find the first line at which a prefix of the
 * document stops parsing (binary search: about log2(lines) parses). A prefix that ends
 * inside an open flow collection fails early, which still points near the problem.
 */
function firstFailingLine(text: string): number {
  const lines = text.split('\n');
  let goodLines = 0;
  let badLines = lines.length;
  while (badLines - goodLines > 1) {
    const middle = Math.floor((goodLines + badLines) / 2);
    if (parses(lines.slice(0, middle).join('\n'))) goodLines = middle;
    else badLines = middle;
  }
  return badLines;
}

function parses(text: string): boolean {
  try {
    Bun.YAML.parse(text);
    return true;
  } catch {
    return false;
  }
}

function notMapping(value: unknown, source: string): SpecError {
  const multiple = Array.isArray(value) && /(^|\n)---(\s|$)/.test(source.trimStart().slice(3));
  return fileError(
    'spec_not_mapping',
    `the top level must be a mapping of fields (name, image, …), got ${describeTop(value)}`,
    multiple ? 'a spec file holds one YAML document; remove the --- separators' : undefined,
  );
}

function describeTop(value: unknown): string {
  if (value === null) return 'an empty document';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

function fileError(code: SpecError['code'], message: string, hint?: string): SpecError {
  const error: SpecError = { code, message, path: '', line: 1, column: 1 };
  if (hint) error.hint = hint;
  return error;
}

function scanIssueToError(issue: ScanIssue): SpecError {
  return {
    code: issue.code,
    message: issue.message,
    path: pathKey(issue.path),
    line: issue.position.line,
    column: issue.position.column,
  };
}

function fail(fileName: string, errors: SpecError[]): ParseJobSpecResult {
  const sorted = [...errors].sort(
    (a, b) =>
      a.line - b.line || a.column - b.column || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
  const kept = sorted.slice(0, limits.specErrorsMax);
  if (sorted.length > kept.length) {
    const more = sorted.length - kept.length;
    kept.push(fileError('too_many_errors', `${more} more error(s) not shown`));
  }
  const report = kept.map((error) => formatSpecError(fileName, error)).join('\n');
  return { ok: false, errors: kept, report };
}
