/**
 * Positions inside a one-line flow collection (`hosts: [a.example.com, b_bad.com]`,
 * `ports: {http: 80}`), so an error in one element points at that element rather than at
 * the key that holds the collection. Collections that continue on later lines are indexed
 * as far as the first line goes; the rest falls back to the holding key.
 */
import type { PathSegment } from './yaml-positions.ts';

/** Records one element's 1-based column on the current line. */
export type RecordColumn = (path: PathSegment[], column: number) => void;

interface Cursor {
  text: string;
  at: number;
  /** 0-based column of `text[0]` in the source line. */
  column0: number;
  record: RecordColumn;
  /** False once the text ends or stops looking like a flow collection: stop quietly. */
  ok: boolean;
}

/**
 * Indexes the flow collection at the start of `text` (which starts at 0-based `column0`).
 * Every step advances the cursor, so work is bounded by the line length.
 */
export function indexFlowCollection(
  text: string,
  column0: number,
  path: PathSegment[],
  record: RecordColumn,
): void {
  const cursor: Cursor = { text, at: 0, column0, record, ok: true };
  flowNode(cursor, path);
}

function flowNode(cursor: Cursor, path: PathSegment[]): void {
  skipSpaces(cursor);
  const char = cursor.text[cursor.at];
  if (char === '[') flowSequence(cursor, path);
  else if (char === '{') flowMapping(cursor, path);
  else readScalar(cursor);
}

function flowSequence(cursor: Cursor, path: PathSegment[]): void {
  cursor.at += 1;
  for (let index = 0; cursor.ok; index += 1) {
    skipSpaces(cursor);
    if (cursor.text[cursor.at] === ']') {
      cursor.at += 1;
      return;
    }
    cursor.record([...path, index], cursor.column0 + cursor.at + 1);
    const before = cursor.at;
    flowNode(cursor, [...path, index]);
    if (!endElement(cursor, ']', before)) return;
  }
}

function flowMapping(cursor: Cursor, path: PathSegment[]): void {
  cursor.at += 1;
  while (cursor.ok) {
    skipSpaces(cursor);
    if (cursor.text[cursor.at] === '}') {
      cursor.at += 1;
      return;
    }
    const keyColumn = cursor.column0 + cursor.at + 1;
    const before = cursor.at;
    const key = readScalar(cursor);
    if (!cursor.ok) return;
    cursor.record([...path, key], keyColumn);
    skipSpaces(cursor);
    if (cursor.text[cursor.at] === ':') {
      cursor.at += 1;
      flowNode(cursor, [...path, key]);
    }
    if (!endElement(cursor, '}', before)) return;
  }
}

/** Consumes `,` (more elements follow) or the closing bracket; false when done or stuck. */
function endElement(cursor: Cursor, close: string, before: number): boolean {
  skipSpaces(cursor);
  const char = cursor.text[cursor.at];
  if (char === ',' && cursor.at > before) {
    cursor.at += 1;
    return true;
  }
  if (char === close) {
    cursor.at += 1;
    return false;
  }
  cursor.ok = false;
  return false;
}

/** Reads a quoted or plain scalar; a plain one ends at `,` `]` `}` or `: `. */
function readScalar(cursor: Cursor): string {
  const { text } = cursor;
  const quote = text[cursor.at];
  if (quote === '"' || quote === "'") {
    const start = cursor.at;
    for (cursor.at += 1; cursor.at < text.length; cursor.at += 1) {
      if (quote === '"' && text[cursor.at] === '\\') cursor.at += 1;
      else if (text[cursor.at] === quote) {
        if (quote === "'" && text[cursor.at + 1] === "'") cursor.at += 1;
        else break;
      }
    }
    if (cursor.at >= text.length) cursor.ok = false;
    cursor.at += 1;
    const raw = text.slice(start + 1, cursor.at - 1);
    return quote === "'" ? raw.replaceAll("''", "'") : raw.replace(/\\(.)/g, '$1');
  }
  const start = cursor.at;
  while (cursor.at < text.length && !endsPlain(text, cursor.at)) cursor.at += 1;
  if (cursor.at >= text.length) cursor.ok = false;
  return text.slice(start, cursor.at).trim();
}

function endsPlain(text: string, at: number): boolean {
  const char = text[at];
  if (char === ',' || char === ']' || char === '}') return true;
  if (char === ':') return /[\s,[\]{}]/.test(text[at + 1] ?? ' ');
  return char === '#' && /\s/.test(text[at - 1] ?? ' ');
}

function skipSpaces(cursor: Cursor): void {
  while (cursor.at < cursor.text.length && /\s/.test(cursor.text[cursor.at]!)) cursor.at += 1;
  if (cursor.at >= cursor.text.length) cursor.ok = false;
}
