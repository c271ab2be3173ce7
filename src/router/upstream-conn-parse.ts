/**
 * HTTP/1.1 response parsing for the router's upstream connections (RFC 9112): the status
 * line and header section, how the body is delimited (§6.3), and a chunked-body decoder.
 * Pure functions over bytes and strings, so every framing rule is unit-tested without a
 * socket.
 */
import { limits } from '../core/limits.ts';
import { isHopByHop } from './headers.ts';

/** How the response body ends. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; lengthBytes: number }
  | { kind: 'chunked' }
  /** Read until the upstream closes the connection (no length, no chunking). */
  | { kind: 'close' };

/**
 * Response headers as `new Response` takes them: an object (cheapest for Bun to read), or
 * name/value pairs when a name repeats exactly (Set-Cookie), which an object cannot hold.
 */
export type ReplyHeaders = Record<string, string> | [string, string][];

/** A parsed response head, with the headers the client should see. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** Hop-by-hop headers removed (also those named in Connection); names as sent. */
  headers: ReplyHeaders;
  framing: BodyFraming;
  /** The upstream allows another request on this connection after this response. */
  keepAlive: boolean;
}

export type HeadParseResult = { ok: true; head: ResponseHead } | { ok: false; reason: string };

const noBody: BodyFraming = { kind: 'none' };
const untilClose: BodyFraming = { kind: 'close' };
const chunked: BodyFraming = { kind: 'chunked' };
const digitsPattern = /^\d{1,15}$/;
/**
 * Lengths of the header names this parser must recognise (hop-by-hop ones and
 * Content-Length). Only names of these lengths are lower-cased, which keeps the common
 * headers (Date, Server, ETag, …) free of a string copy: this loop runs per response.
 */
const specialNameLengths = new Set(
  [
    'te',
    'trailer',
    'connection',
    'content-length',
    'proxy-connection',
    'transfer-encoding',
    'proxy-authenticate',
    'proxy-authorization',
  ].map((name) => name.length),
);

/**
 * Parses a response head: `text` is the status line and header lines, without the blank
 * line that ends them. `requestWasHead` matters because a HEAD response has no body
 * whatever its Content-Length says (RFC 9112 §6.3 rule 1). Header names and values are
 * checked further by Bun when the Response is built.
 */
export function parseResponseHead(text: string, requestWasHead: boolean): HeadParseResult {
  const statusEnd = lineEnd(text, 0);
  const status = statusOf(text, statusEnd);
  if (status < 100) return { ok: false, reason: 'bad status line' };
  const http11 = text.charCodeAt(7) === 0x31;
  const fields = readFields(text, statusEnd + 2);
  if (!fields.ok) return fields;
  const { connectionTokens, transferEncoding, contentLength } = fields;
  const framing = framingOf(status, requestWasHead, transferEncoding, contentLength);
  if (!framing) return { ok: false, reason: 'bad content-length' };
  const headers = maybeDropNamed(fields.headers, connectionTokens, transferEncoding !== undefined);
  // A response with both Transfer-Encoding and Content-Length may be a smuggling attempt;
  // RFC 9112 §6.1 has the connection closed after it.
  const keepAlive =
    http11 &&
    !connectionTokens.includes('close') &&
    framing.kind !== 'close' &&
    !(transferEncoding !== undefined && contentLength !== undefined);
  const statusText = statusEnd > 13 ? text.slice(13, statusEnd) : '';
  return { ok: true, head: { status, statusText, headers, framing, keepAlive } };
}

/** Where the line starting at `from` ends (its CR, or the end of the text). */
function lineEnd(text: string, from: number): number {
  const at = text.indexOf('\r\n', from);
  return at < 0 ? text.length : at;
}

/** The status code of `HTTP/1.x SSS[ reason]`, or -1; read by hand, this runs per response. */
function statusOf(text: string, end: number): number {
  if (end < 12 || !text.startsWith('HTTP/1.')) return -1;
  const minor = text.charCodeAt(7);
  if ((minor !== 0x30 && minor !== 0x31) || text.charCodeAt(8) !== 0x20) return -1;
  if (end > 12 && text.charCodeAt(12) !== 0x20) return -1;
  let status = 0;
  for (let at = 9; at < 12; at++) {
    const digit = text.charCodeAt(at) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    status = status * 10 + digit;
  }
  return status;
}

interface Fields {
  ok: true;
  /** Every header except the fixed hop-by-hop ones. */
  headers: ReplyHeaders;
  /** Lower-cased tokens of every Connection header. */
  connectionTokens: string[];
  transferEncoding: string | undefined;
  contentLength: string[] | undefined;
}

/** One pass over the header lines from `start`: the client's headers, and what framing needs. */
function readFields(text: string, start: number): Fields | { ok: false; reason: string } {
  let byName: Record<string, string> | undefined = {};
  let pairs: [string, string][] | undefined;
  const connectionTokens: string[] = [];
  let transferEncoding: string | undefined;
  let contentLength: string[] | undefined;
  // Each pass moves past one line, so the loop ends within the (bounded) head.
  for (let at = start; at < text.length; ) {
    const end = lineEnd(text, at);
    const colon = text.indexOf(':', at);
    // obs-fold (a line starting with whitespace) and whitespace before the colon are
    // rejected, as RFC 9112 §5.1 and §5.2 allow: they are how responses get smuggled.
    if (colon <= at || colon > end) return { ok: false, reason: 'bad header line' };
    if (isSpace(text.charCodeAt(at)) || isSpace(text.charCodeAt(colon - 1))) {
      return { ok: false, reason: 'bad header line' };
    }
    const name = text.slice(at, colon);
    const value = fieldValue(text, colon, end);
    at = end + 2;
    if (specialNameLengths.has(name.length)) {
      const lower = name.toLowerCase();
      if (lower === 'connection') {
        for (const token of value.split(',')) connectionTokens.push(token.trim().toLowerCase());
      } else if (lower === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (lower === 'content-length') {
        contentLength ??= [];
        for (const part of value.split(',')) contentLength.push(part.trim());
      }
      if (isHopByHop(lower)) continue;
    }
    // An object is what Bun reads fastest; a repeated name (Set-Cookie) needs pairs.
    if (byName !== undefined && (name === '__proto__' || Object.hasOwn(byName, name))) {
      pairs = Object.entries(byName);
      byName = undefined;
    }
    if (byName !== undefined) byName[name] = value;
    else pairs!.push([name, value]);
  }
  return { ok: true, headers: byName ?? pairs!, connectionTokens, transferEncoding, contentLength };
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** The value between the colon and the line end, without surrounding whitespace. */
function fieldValue(text: string, colon: number, lineEndAt: number): string {
  let start = colon + 1;
  let end = lineEndAt;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * Removes the headers named in Connection (hop-by-hop too, RFC 9110 §7.6.1) and, when
 * the body is decoded from Transfer-Encoding, Content-Length. Rare, so it may copy.
 */
function maybeDropNamed(
  headers: ReplyHeaders,
  connectionTokens: string[],
  hasTransferEncoding: boolean,
): ReplyHeaders {
  const named = connectionTokens.filter((token) => token !== 'close' && token !== 'keep-alive');
  if (named.length === 0 && !hasTransferEncoding) return headers;
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.filter(([name]) => {
    const lower = name.toLowerCase();
    return !named.includes(lower) && !(hasTransferEncoding && lower === 'content-length');
  });
}

/** RFC 9112 §6.3, in its order; undefined when the Content-Length is invalid. */
function framingOf(
  status: number,
  requestWasHead: boolean,
  transferEncoding: string | undefined,
  contentLength: string[] | undefined,
): BodyFraming | undefined {
  if (requestWasHead || status < 200 || status === 204 || status === 304) return noBody;
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.split(',');
    const last = codings[codings.length - 1]!.trim().toLowerCase();
    return last === 'chunked' ? chunked : untilClose;
  }
  if (contentLength === undefined) return untilClose;
  const first = contentLength[0]!;
  // Repeated lengths are allowed only when they all agree (§6.3 rule 5).
  if (!digitsPattern.test(first) || contentLength.some((value) => value !== first)) {
    return undefined;
  }
  const lengthBytes = Number(first);
  return lengthBytes === 0 ? noBody : { kind: 'length', lengthBytes };
}

/** Where a chunked body decoder is; plain data, advanced by `decodeChunked`. */
export interface ChunkedState {
  phase: 'size' | 'data' | 'data-end' | 'trailer' | 'done';
  /** Bytes left in the current chunk (phase `data`). */
  remainingBytes: number;
  /** The partial line being read (size line, chunk end, or trailer line). */
  line: string;
  /** Bytes of trailer section read so far (bounded like a head). */
  trailerBytes: number;
}

export function newChunkedState(): ChunkedState {
  return { phase: 'size', remainingBytes: 0, line: '', trailerBytes: 0 };
}

/**
 * Decodes `bytes` from `start` into `out` (views into `bytes`, no copies). Returns the
 * index after the last byte consumed: it stops right after the body's end, so bytes past
 * it are left for the caller to judge. Returns -1 when the encoding is malformed.
 * Chunk extensions and trailer fields are read and dropped.
 */
export function decodeChunked(
  state: ChunkedState,
  bytes: Uint8Array,
  start: number,
  out: Uint8Array[],
): number {
  let at = start;
  while (at < bytes.length && state.phase !== 'done') {
    if (state.phase === 'data') {
      const take = Math.min(state.remainingBytes, bytes.length - at);
      out.push(bytes.subarray(at, at + take));
      at += take;
      state.remainingBytes -= take;
      if (state.remainingBytes === 0) state.phase = 'data-end';
      continue;
    }
    const lineEnd = bytes.indexOf(0x0a, at);
    const end = lineEnd < 0 ? bytes.length : lineEnd;
    state.line += latin1(bytes, at, end);
    if (state.line.length > limits.routerChunkLineBytesMax) return -1;
    // After chunk data only CRLF may follow: fail at once rather than wait for a newline.
    if (state.phase === 'data-end' && state.line !== '' && state.line !== '\r') return -1;
    at = lineEnd < 0 ? bytes.length : lineEnd + 1;
    if (lineEnd < 0) break;
    if (!state.line.endsWith('\r')) return -1;
    const line = state.line.slice(0, -1);
    state.line = '';
    if (!advanceLine(state, line)) return -1;
  }
  return at;
}

/** Handles one complete line (CRLF removed) of the chunked framing. */
function advanceLine(state: ChunkedState, line: string): boolean {
  if (state.phase === 'data-end') {
    state.phase = 'size';
    return line === '';
  }
  if (state.phase === 'trailer') {
    state.trailerBytes += line.length + 2;
    if (state.trailerBytes > limits.routerResponseHeadBytesMax) return false;
    if (line === '') state.phase = 'done';
    return true;
  }
  const semicolon = line.indexOf(';');
  const hex = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
  if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return false;
  const size = Number.parseInt(hex, 16);
  if (size === 0) {
    state.phase = 'trailer';
  } else {
    state.phase = 'data';
    state.remainingBytes = size;
  }
  return true;
}

/** ISO-8859-1 text of `bytes[start, end)`: one char per byte, as HTTP heads are read. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (start >= end) return '';
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset);
  return buffer.toString('latin1', start, end);
}
