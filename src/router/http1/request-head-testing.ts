/**
 * Helpers shared by the request-head parser's tests (request-head.test.ts,
 * request-head-errors.test.ts).
 */
import { expect } from 'bun:test';
import { limits } from '../../core/limits.ts';
import { parseRequestHead, type RequestHead, type RequestHeadResult } from './request-head.ts';

export const headMax = limits.routerRequestHeadBytesMax;

export function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

export function parse(text: string, headBytesMax: number = headMax): RequestHeadResult {
  return parseRequestHead(bytesOf(text), 0, headBytesMax);
}

/** The head of a text that must parse whole. */
export function headOf(text: string): RequestHead {
  const result = parse(text);
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  expect(result.headBytes).toBe(text.length);
  return result.head;
}

/** The status and code of an error result, or the kind when it is not an error. */
export function verdictOf(text: string, headBytesMax: number = headMax): string {
  const result = parse(text, headBytesMax);
  return result.kind === 'error' ? `${result.status} ${result.code}` : result.kind;
}
