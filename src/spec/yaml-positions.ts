/**
 * A tolerant line scanner for block-style YAML that maps each key path to where it is
 * written. Bun.YAML.parse returns values without positions and silently keeps the last of
 * two equal keys, so the spec parser needs its own index for `file:line:column` errors and
 * for refusing duplicate keys and tab indentation.
 *
 * It understands what job specs use: nested block mappings and sequences (including
 * `- key: value` items and sequences written at their parent key's indentation), comments,
 * block scalars (`|`, `>`) and flow collections or quoted scalars that span lines. Keys
 * inside flow collections are not indexed; lookups fall back to the nearest indexed parent.
 * It never decides whether the YAML is valid — Bun's parser does.
 */
import { limits } from '../core/limits.ts';
import { indexFlowCollection } from './yaml-flow-positions.ts';

/** 1-based position of a key (or sequence item) in the source text. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** A structural problem the scanner found that Bun.YAML.parse would hide or not locate. */
export interface ScanIssue {
  code: 'yaml_duplicate_key' | 'yaml_tab_indent';
  path: PathSegment[];
  position: SourcePosition;
  message: string;
}

export type PathSegment = string | number;

/** Key paths (joined by `pathKey`) to their first position, plus scanner issues. */
export interface PositionIndex {
  positions: Map<string, SourcePosition>;
  issues: ScanIssue[];
}

interface Frame {
  kind: 'map' | 'seq';
  indent: number;
  path: PathSegment[];
  keys: Set<string>;
  nextItem: number;
  /** Path of the last key or item in this frame: the parent of a deeper block. */
  lastChildPath: PathSegment[];
}

interface ScanState {
  stack: Frame[];
  index: PositionIndex;
}

/** Joins a path the way positions are keyed: `update.max_parallel`, `routes[0].hosts[1]`. */
export function pathKey(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}

/** The position of `path`, or of its nearest indexed ancestor; 1:1 when none is indexed. */
export function lookupPosition(index: PositionIndex, path: readonly PathSegment[]): SourcePosition {
  for (let length = path.length; length > 0; length -= 1) {
    const found = index.positions.get(pathKey(path.slice(0, length)));
    if (found) return found;
  }
  return { line: 1, column: 1 };
}

const keyPattern =
  /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},&*!|>%@`-][^#]*?|-[^\s#]+?)\s*:(?:\s|$)/;
const blockScalarPattern = /^(?:[&!]\S*\s+)*[|>][-+0-9]*\s*(?:#.*)?$/;

/** Scans `text` (already known to be at most `limits.specBytesMax` bytes). */
export function indexYamlPositions(text: string): PositionIndex {
  const lines = text.split(/\r?\n/);
  const state: ScanState = { stack: [], index: { positions: new Map(), issues: [] } };
  let lineIndex = 0;
  // Each pass consumes at least one line, so the loop is bounded by the line count.
  while (lineIndex < lines.length) {
    lineIndex += scanLine(state, lines, lineIndex);
  }
  return state.index;
}

/** Handles one structural line; returns how many lines it consumed (block scalars, flows). */
function scanLine(state: ScanState, lines: string[], lineIndex: number): number {
  const raw = lines[lineIndex]!;
  const indent = raw.length - raw.replace(/^[ \t]*/, '').length;
  const content = raw.slice(indent);
  if (content === '' || content.startsWith('#')) return 1;
  if (/^(---|\.\.\.)(\s|$)/.test(content)) {
    state.stack = [];
    return 1;
  }
  const tabAt = raw.slice(0, indent).indexOf('\t');
  if (tabAt >= 0) {
    state.index.issues.push({
      code: 'yaml_tab_indent',
      path: currentPath(state),
      position: { line: lineIndex + 1, column: tabAt + 1 },
      message: 'tab used for indentation; YAML indents with spaces only',
    });
  }
  const value = scanNode(state, content, indent, lineIndex + 1, false);
  return 1 + skipContinuation(lines, lineIndex, indent, value);
}

function currentPath(state: ScanState): PathSegment[] {
  const top = state.stack.at(-1);
  return top ? top.lastChildPath : [];
}

/**
 * Records the key or sequence item starting at `column0` (0-based) and returns the value
 * text after it, so the caller can see whether a block scalar or open flow follows.
 */
function scanNode(
  state: ScanState,
  content: string,
  column0: number,
  line: number,
  inlineItem: boolean,
): string {
  if (content === '-' || content.startsWith('- ')) {
    const frame = enterFrame(state, 'seq', column0, inlineItem);
    const itemPath = [...frame.path, frame.nextItem];
    frame.nextItem += 1;
    frame.lastChildPath = itemPath;
    const rest = content.slice(1).replace(/^ +/, '');
    const restColumn0 = column0 + content.length - content.slice(1).replace(/^ +/, '').length;
    record(state, itemPath, line, rest === '' ? column0 + 1 : restColumn0 + 1);
    if (rest === '' || rest.startsWith('#')) return '';
    if (maybeIndexFlow(state, rest, restColumn0, line, itemPath)) return rest;
    return scanNode(state, rest, restColumn0, line, true);
  }
  const match = keyPattern.exec(content);
  if (!match) return content;
  const frame = enterFrame(state, 'map', column0, inlineItem);
  const key = unquoteKey(match[1]!.trim());
  const keyPath = [...frame.path, key];
  if (frame.keys.has(key)) {
    state.index.issues.push({
      code: 'yaml_duplicate_key',
      path: keyPath,
      position: { line, column: column0 + 1 },
      message: `duplicate key "${key}"; YAML would silently keep only the last one`,
    });
  } else {
    frame.keys.add(key);
    record(state, keyPath, line, column0 + 1);
  }
  frame.lastChildPath = keyPath;
  const value = content.slice(match[0].length);
  maybeIndexFlow(state, value, column0 + match[0].length, line, keyPath);
  return value.trim();
}

/**
 * Finds or opens the frame a node at `indent` belongs to. A node on the same line as a
 * sequence dash (`- key: v`) always opens a new mapping inside that item.
 */
function enterFrame(state: ScanState, kind: Frame['kind'], indent: number, inline: boolean): Frame {
  const stack = state.stack;
  if (!inline) {
    // A sequence may sit at its parent key's indentation (`key:\n- a`), so a key at a
    // sequence's indentation ends that sequence, while a dash under a key opens one.
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const endsSequence = top.indent === indent && top.kind === 'seq' && kind === 'map';
      if (top.indent > indent || endsSequence) stack.pop();
      else break;
    }
    const top = stack.at(-1);
    if (top && top.indent === indent && top.kind === kind) return top;
  }
  const parent = stack.at(-1);
  const frame: Frame = {
    kind,
    indent,
    path: parent ? parent.lastChildPath : [],
    keys: new Set(),
    nextItem: 0,
    lastChildPath: parent ? parent.lastChildPath : [],
  };
  if (stack.length < limits.specNestingDepthMax) stack.push(frame);
  return frame;
}

/** Indexes a flow collection that starts `value` (at 0-based `column0`); false if none. */
function maybeIndexFlow(
  state: ScanState,
  value: string,
  column0: number,
  line: number,
  path: PathSegment[],
): boolean {
  const trimmed = value.trimStart();
  if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) return false;
  const startColumn0 = column0 + value.length - trimmed.length;
  indexFlowCollection(trimmed, startColumn0, path, (elementPath, column) =>
    record(state, elementPath, line, column),
  );
  return true;
}

function record(state: ScanState, path: PathSegment[], line: number, column: number): void {
  const key = pathKey(path);
  if (!state.index.positions.has(key)) state.index.positions.set(key, { line, column });
}

function unquoteKey(key: string): string {
  if (key.startsWith('"') && key.endsWith('"') && key.length >= 2) {
    try {
      return JSON.parse(key) as string;
    } catch {
      return key.slice(1, -1);
    }
  }
  if (key.startsWith("'") && key.endsWith("'") && key.length >= 2) {
    return key.slice(1, -1).replaceAll("''", "'");
  }
  return key;
}

/**
 * Lines after `lineIndex` that belong to the value just scanned and hold no keys: the body
 * of a block scalar, or the rest of a flow collection or quoted scalar left open.
 */
function skipContinuation(
  lines: string[],
  lineIndex: number,
  indent: number,
  value: string,
): number {
  if (blockScalarPattern.test(value)) {
    let skipped = 0;
    for (let next = lineIndex + 1; next < lines.length; next += 1) {
      const line = lines[next]!;
      const lineIndent = line.length - line.trimStart().length;
      if (line.trim() !== '' && lineIndent <= indent) break;
      skipped += 1;
    }
    return skipped;
  }
  let open = openness(value, { depth: 0, quote: '' });
  let skipped = 0;
  for (let next = lineIndex + 1; next < lines.length && isOpen(open); next += 1) {
    open = openness(lines[next]!, open);
    skipped += 1;
  }
  return skipped;
}

interface FlowState {
  depth: number;
  quote: '' | '"' | "'";
}

function isOpen(state: FlowState): boolean {
  return state.depth > 0 || state.quote !== '';
}

/** Tracks flow brackets and quotes across a line, ignoring those inside quotes. */
function openness(text: string, start: FlowState): FlowState {
  let { depth, quote } = start;
  const startsFlow = depth > 0 || quote !== '' || /^[[{"']/.test(text.trimStart());
  if (!startsFlow) return { depth: 0, quote: '' };
  for (let at = 0; at < text.length; at += 1) {
    const char = text[at]!;
    if (quote === '"') {
      if (char === '\\') at += 1;
      else if (char === '"') quote = '';
    } else if (quote === "'") {
      if (char === "'") quote = '';
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '[' || char === '{') depth += 1;
    else if (char === ']' || char === '}') depth = Math.max(0, depth - 1);
    else if (char === '#' && depth === 0) break;
  }
  return { depth, quote };
}
