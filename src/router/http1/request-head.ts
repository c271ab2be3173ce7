/**
 * A strict, incremental HTTP/1.1 request-head parser for the router's own front (RFC 9112,
 * RFC 9110). Pure functions over the caller's receive buffer: the front calls
 * `parseRequestHead` each time bytes arrive, until it answers 'ok' or 'error'.
 *
 * Strictness is deliberate. The router sits in front of other HTTP servers, and every
 * place where two parsers may read the same bytes differently (bare LF, obs-fold, space
 * before a colon, Content-Length beside Transfer-Encoding, odd codings) is a request
 * smuggling vector, so those are refused instead of repaired.
 */
import { assert } from '../../core/assert.ts';
import { limits } from '../../core/limits.ts';
import { latin1 } from '../upstream-conn-parse.ts';

/** A parsed request head. Strings are latin1-decoded; nothing here is a copy of the body. */
export interface RequestHead {
  /** As sent (case-sensitive token), e.g. 'GET'. */
  method: string;
  /** Origin-form '/path?query' (absolute-form 'http://host/p' is converted to '/p', and its
   *  authority becomes `host`); '*' only for OPTIONS. Never empty. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: 0 | 1;
  /** Header fields in arrival order as a flat array [name0, value0, name1, value1, ...]:
   *  names lower-cased, values with surrounding spaces/tabs trimmed. Every field is kept
   *  (hop-by-hop ones too: the caller decides what to forward). */
  fields: string[];
  /** The Host (or absolute-form authority); '' when HTTP/1.0 sent none. */
  host: string;
  /** Content-Length when present (0 allowed); undefined when absent. */
  contentLength: number | undefined;
  /** Transfer-Encoding is exactly chunked (final coding). */
  chunked: boolean;
  /** The client may send another request on this connection after this one
   *  (1.1 unless `Connection: close`; 1.0 only with `Connection: keep-alive`). */
  keepAlive: boolean;
  /** Lower-cased Upgrade value when Connection lists `upgrade` and Upgrade is present. */
  upgrade: string | undefined;
  /** `Expect: 100-continue` was sent (case-insensitive). */
  expectContinue: boolean;
  /** Lower-cased tokens listed in Connection (to strip them when forwarding); [] if none. */
  connectionTokens: string[];
}

/**
 * The outcome of one parse. Error `code`s are stable (the front puts them in its error
 * body; callers branch on them, never on `reason`):
 * - 400 `bad_request_line`: not `method SP target SP HTTP/d.d` with single spaces, a
 *   method that is not a token, a bare CR or LF in the request line, or too many empty
 *   lines before it.
 * - 400 `bad_target`: a target that is not origin-form, `*` (OPTIONS only) or an http(s)
 *   absolute-form with a plausible authority; or one with bytes outside 0x21–0x7e or '#'.
 * - 414 `target_too_long`: the target is longer than `limits.routerRequestTargetBytesMax`.
 * - 501 `unsupported_method`: CONNECT (the router does not tunnel).
 * - 505 `unsupported_version`: a well-formed version other than HTTP/1.0 and HTTP/1.1.
 * - 400 `bad_header`: a field line that is not `token ":" value` (space before the colon,
 *   obs-fold, empty name) or a value with a control character (bare CR/LF, NUL, …).
 * - 431 `head_too_large`: the head (with any leading empty lines) exceeds `headBytesMax`.
 * - 431 `too_many_headers`: more fields than `limits.routerRequestHeadersMax`.
 * - 400 `missing_host`: HTTP/1.1 without Host. 400 `duplicate_host`: more than one Host.
 * - 400 `bad_host`: a Host value that is not a plausible `host[:port]`.
 * - 400 `bad_content_length`: not 1*15DIGIT, or differing values.
 * - 400 `conflicting_framing`: Transfer-Encoding together with Content-Length.
 * - 400 `bad_transfer_encoding`: Transfer-Encoding in HTTP/1.0, or an empty coding.
 * - 501 `unsupported_transfer_encoding`: a coding list other than exactly `chunked`.
 */
export type RequestHeadResult =
  | { kind: 'incomplete' }
  /** headBytes: bytes consumed from `start`, including leading empty lines and the blank line. */
  | { kind: 'ok'; head: RequestHead; headBytes: number }
  | { kind: 'error'; status: 400 | 413 | 414 | 431 | 501 | 505; code: string; reason: string };

type HeadError = Extract<RequestHeadResult, { kind: 'error' }>;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;
const headTerminator = Buffer.from('\r\n\r\n', 'latin1');
const lineTerminator = Buffer.from('\r\n', 'latin1');
const bareLfTerminator = Buffer.from('\n\n', 'latin1');
const incomplete: RequestHeadResult = Object.freeze({ kind: 'incomplete' });

assert(
  limits.routerRequestTargetBytesMax < limits.routerRequestHeadBytesMax,
  'a request head must be able to hold the longest accepted target',
);

/** tchar (RFC 9110 §5.6.2), indexed by char code; latin1 codes stay below 256. */
const tcharTable = byteTable(
  "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
);
/** Characters of a registered host name we accept (a plausible DNS name or IPv4 address). */
const hostCharTable = byteTable(
  '-._~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
);
/** Characters inside an IP literal's brackets (IPv6, with an embedded IPv4 tail). */
const ipLiteralCharTable = byteTable(':.0123456789abcdefABCDEF');

function byteTable(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

function fail(status: HeadError['status'], code: string, reason: string): HeadError {
  return { kind: 'error', status, code, reason };
}

/**
 * Parses the head starting at `start` of `bytes` (the caller's receive buffer). Answers
 * 'incomplete' while the blank line that ends the head has not arrived and nothing seen
 * so far is already wrong; errors are reported as early as the bytes allow (a bad method,
 * a bare LF, a head past `headBytesMax`), so a client cannot hold a connection open with
 * bytes that can never form a request.
 */
export function parseRequestHead(
  bytes: Uint8Array,
  start: number,
  headBytesMax: number,
): RequestHeadResult {
  assert(start >= 0 && start <= bytes.length, 'request head start outside the buffer');
  assert(headBytesMax > 0, 'request head limit must be positive');
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = skipEmptyLines(buffer, start);
  const terminator = buffer.indexOf(headTerminator, at);
  if (terminator < 0) return judgeIncomplete(buffer, start, at, headBytesMax);
  const headBytes = terminator + 4 - start;
  if (headBytes > headBytesMax) {
    return fail(431, 'head_too_large', `request head is larger than ${headBytesMax} bytes`);
  }
  const head = parseHeadText(latin1(buffer, at, terminator));
  return 'kind' in head ? head : { kind: 'ok', head, headBytes };
}

/**
 * Skips the empty lines a client may send before the request line (RFC 9112 §2.2), up to
 * a few: more than that is not a request. Returns where the request line starts.
 */
function skipEmptyLines(buffer: Buffer, start: number): number {
  let at = start;
  for (let lines = 0; lines < limits.routerRequestLeadingEmptyLinesMax; lines++) {
    if (buffer[at] !== CR || buffer[at + 1] !== LF) break;
    at += 2;
  }
  return at;
}

/**
 * The verdict on a head whose end has not arrived: an error when what is there can never
 * become a valid request (checked cheaply with native searches, as this runs on every
 * partial read), otherwise 'incomplete' while under the size limit.
 */
function judgeIncomplete(
  buffer: Buffer,
  start: number,
  at: number,
  headBytesMax: number,
): RequestHeadResult {
  const lineEnd = buffer.indexOf(lineTerminator, at);
  if (lineEnd < 0) {
    const partial = judgePartialRequestLine(buffer, at);
    if (partial !== undefined) return partial;
  } else {
    const line = parseRequestLine(latin1(buffer, at, lineEnd), lineEnd - at);
    if ('kind' in line) return line;
    // An LF-only client ends its head with "\n\n", which never matches CRLFCRLF: answer
    // at once instead of waiting for the size limit.
    if (buffer.indexOf(bareLfTerminator, lineEnd) >= 0) {
      return fail(400, 'bad_header', 'header section has a bare LF');
    }
  }
  if (buffer.length - start > headBytesMax) {
    return fail(431, 'head_too_large', `request head is larger than ${headBytesMax} bytes`);
  }
  return incomplete;
}

/** Checks a request line whose CRLF has not arrived: its method so far and target length. */
function judgePartialRequestLine(buffer: Buffer, at: number): HeadError | undefined {
  const end = buffer.length;
  // No CRLF was found, so any LF is a bare one.
  if (buffer.indexOf(LF, at) >= 0) {
    return fail(400, 'bad_request_line', 'request line has a bare LF');
  }
  let methodEnd = at;
  while (methodEnd < end && tcharTable[buffer[methodEnd]!] === 1) methodEnd++;
  if (methodEnd === end) return undefined;
  const stop = buffer[methodEnd];
  // A final CR may be the start of the CRLF of an empty line or of the line's end.
  if (stop === CR && methodEnd === end - 1) return undefined;
  if (stop !== SP || methodEnd === at) {
    return fail(400, 'bad_request_line', 'method is not a token followed by one space');
  }
  const targetStart = methodEnd + 1;
  const targetEnd = buffer.indexOf(SP, targetStart);
  const targetBytes = (targetEnd < 0 ? end : targetEnd) - targetStart;
  if (targetBytes > limits.routerRequestTargetBytesMax) return targetTooLong();
  return undefined;
}

function targetTooLong(): HeadError {
  const max = limits.routerRequestTargetBytesMax;
  return fail(414, 'target_too_long', `request target is longer than ${max} bytes`);
}

/** Parses a complete head: `text` is the request line and field lines, without the blank line. */
function parseHeadText(text: string): RequestHead | HeadError {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  const line = parseRequestLine(text, lineEnd);
  if ('kind' in line) return line;
  const facts = readFields(text, lineEnd + 2);
  if ('kind' in facts) return facts;
  const problem = judgeFacts(facts, line.minorVersion);
  return problem ?? assembleHead(line, facts);
}

interface RequestLine {
  method: string;
  target: string;
  /** The authority of an absolute-form target, which wins over the Host field. */
  authority: string | undefined;
  minorVersion: 0 | 1;
}

/** Parses `method SP target SP HTTP/1.x` occupying `text[0, end)`. */
function parseRequestLine(text: string, end: number): RequestLine | HeadError {
  let methodEnd = 0;
  while (methodEnd < end && tcharTable[text.charCodeAt(methodEnd)] === 1) methodEnd++;
  if (methodEnd === 0 || methodEnd === end || text.charCodeAt(methodEnd) !== SP) {
    return fail(400, 'bad_request_line', 'method is not a token followed by one space');
  }
  const targetStart = methodEnd + 1;
  const targetEnd = text.indexOf(' ', targetStart);
  if (targetEnd < 0 || targetEnd >= end) {
    if (end - targetStart > limits.routerRequestTargetBytesMax) return targetTooLong();
    return fail(400, 'bad_request_line', 'request line has no version');
  }
  if (targetEnd === targetStart) {
    return fail(400, 'bad_request_line', 'request line has an empty target or a double space');
  }
  if (targetEnd - targetStart > limits.routerRequestTargetBytesMax) return targetTooLong();
  const minorVersion = versionOf(text, targetEnd + 1, end);
  if (typeof minorVersion !== 'number') return minorVersion;
  const method = text.slice(0, methodEnd);
  if (method === 'CONNECT') {
    return fail(501, 'unsupported_method', 'CONNECT is not supported by this router');
  }
  const target = parseTarget(text, targetStart, targetEnd, method);
  if ('kind' in target) return target;
  return { method, target: target.path, authority: target.authority, minorVersion };
}

/** The minor version of `HTTP/1.0` or `HTTP/1.1` at `text[from, end)`; 505 for other versions. */
function versionOf(text: string, from: number, end: number): 0 | 1 | HeadError {
  const major = text.charCodeAt(from + 5) - 0x30;
  const minor = text.charCodeAt(from + 7) - 0x30;
  const wellFormed =
    end - from === 8 &&
    text.startsWith('HTTP/', from) &&
    text.charCodeAt(from + 6) === 0x2e &&
    major >= 0 &&
    major <= 9 &&
    minor >= 0 &&
    minor <= 9;
  if (!wellFormed) return fail(400, 'bad_request_line', 'request line has no valid HTTP version');
  if (major !== 1 || minor > 1) {
    return fail(505, 'unsupported_version', 'only HTTP/1.0 and HTTP/1.1 are supported');
  }
  return minor === 0 ? 0 : 1;
}

interface Target {
  path: string;
  authority: string | undefined;
}

/** Classifies and converts the target at `text[from, to)` (RFC 9112 §3.2). */
function parseTarget(text: string, from: number, to: number, method: string): Target | HeadError {
  for (let at = from; at < to; at++) {
    const code = text.charCodeAt(at);
    // A fragment is never part of a request target; refusing it avoids a proxy and an
    // upstream disagreeing on where the path ends.
    if (code < 0x21 || code > 0x7e || code === 0x23) {
      return fail(400, 'bad_target', 'request target has a byte outside visible ASCII or a #');
    }
  }
  const first = text.charCodeAt(from);
  if (first === 0x2f) return { path: text.slice(from, to), authority: undefined };
  if (first === 0x2a && to - from === 1) {
    if (method === 'OPTIONS') return { path: '*', authority: undefined };
    return fail(400, 'bad_target', 'asterisk-form is only valid for OPTIONS');
  }
  if (first === 0x68 || first === 0x48) return parseAbsoluteForm(text, from, to, method);
  return fail(400, 'bad_target', 'request target is not origin-form or absolute-form');
}

/** Converts `http(s)://authority[path][?query]` into origin-form and its authority. */
function parseAbsoluteForm(
  text: string,
  from: number,
  to: number,
  method: string,
): Target | HeadError {
  let authorityStart = -1;
  if (text.slice(from, from + 7).toLowerCase() === 'http://') authorityStart = from + 7;
  else if (text.slice(from, from + 8).toLowerCase() === 'https://') authorityStart = from + 8;
  if (authorityStart < 0) return fail(400, 'bad_target', 'absolute-form scheme is not http(s)');
  let authorityEnd = authorityStart;
  while (authorityEnd < to) {
    const code = text.charCodeAt(authorityEnd);
    if (code === 0x2f || code === 0x3f) break;
    authorityEnd++;
  }
  const authority = text.slice(authorityStart, authorityEnd);
  if (authority === '' || !isPlausibleAuthority(authority)) {
    return fail(400, 'bad_target', 'absolute-form authority is not a plausible host[:port]');
  }
  // An empty path is sent as '/', or as '*' for OPTIONS (RFC 9112 §3.2.4).
  if (authorityEnd === to) return { path: method === 'OPTIONS' ? '*' : '/', authority };
  const rest = text.slice(authorityEnd, to);
  return { path: rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest, authority };
}

/**
 * True for `host[:port]` where host is a DNS-like name, an IPv4 address or a bracketed
 * IPv6 literal. Stricter than RFC 3986's reg-name (no percent-encoding, no sub-delims
 * such as ',' or ';'): no real host needs them, and the route table keys on this value.
 */
function isPlausibleAuthority(value: string): boolean {
  let at = 0;
  if (value.charCodeAt(0) === 0x5b) {
    const close = value.indexOf(']');
    if (close < 3) return false;
    for (at = 1; at < close; at++) {
      if (ipLiteralCharTable[value.charCodeAt(at)] !== 1) return false;
    }
    at = close + 1;
  } else {
    while (at < value.length && hostCharTable[value.charCodeAt(at)] === 1) at++;
    if (at === 0) return false;
  }
  if (at === value.length) return true;
  if (value.charCodeAt(at) !== COLON || value.length - at - 1 > 5) return false;
  for (at++; at < value.length; at++) {
    const code = value.charCodeAt(at);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

/** What the field lines say about framing, routing and the connection. */
interface FieldFacts {
  fields: string[];
  hostCount: number;
  host: string;
  contentLength: number | undefined;
  /** All Transfer-Encoding values joined as one list. */
  transferEncoding: string | undefined;
  upgrade: string | undefined;
  expectContinue: boolean;
  connectionTokens: string[];
}

/** Reads the field lines of `text` from `from`, one pass, bounded by the field limit. */
function readFields(text: string, from: number): FieldFacts | HeadError {
  const facts: FieldFacts = {
    fields: [],
    hostCount: 0,
    host: '',
    contentLength: undefined,
    transferEncoding: undefined,
    upgrade: undefined,
    expectContinue: false,
    connectionTokens: [],
  };
  let at = from;
  for (let count = 0; at < text.length; count++) {
    if (count === limits.routerRequestHeadersMax) {
      return fail(431, 'too_many_headers', `more than ${count} header fields`);
    }
    let end = text.indexOf('\r\n', at);
    if (end < 0) end = text.length;
    const problem = readField(text, at, end, facts);
    if (problem !== undefined) return problem;
    at = end + 2;
  }
  return facts;
}

/** Reads the field line `text[at, end)` into `facts`. */
function readField(
  text: string,
  at: number,
  end: number,
  facts: FieldFacts,
): HeadError | undefined {
  const first = text.charCodeAt(at);
  // obs-fold is refused (RFC 9112 §5.2): folded lines are read differently by servers.
  if (first === SP || first === HTAB) return fail(400, 'bad_header', 'obsolete line folding');
  let colon = at;
  let hasUpper = false;
  for (; colon < end; colon++) {
    const code = text.charCodeAt(colon);
    if (tcharTable[code] !== 1) break;
    if (code >= 0x41 && code <= 0x5a) hasUpper = true;
  }
  // Whitespace between name and colon is refused (RFC 9112 §5.1): a smuggling classic.
  if (colon === at || colon === end || text.charCodeAt(colon) !== COLON) {
    return fail(400, 'bad_header', 'header field name is not a token followed by a colon');
  }
  let valueStart = colon + 1;
  let valueEnd = end;
  while (valueStart < valueEnd && isSpace(text.charCodeAt(valueStart))) valueStart++;
  while (valueEnd > valueStart && isSpace(text.charCodeAt(valueEnd - 1))) valueEnd--;
  for (let i = valueStart; i < valueEnd; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== HTAB) || code === 0x7f) {
      return fail(400, 'bad_header', 'header field value has a control character');
    }
  }
  const raw = text.slice(at, colon);
  const name = hasUpper ? raw.toLowerCase() : raw;
  const value = text.slice(valueStart, valueEnd);
  facts.fields.push(name, value);
  return noteField(name, value, facts);
}

function isSpace(code: number): boolean {
  return code === SP || code === HTAB;
}

/** Records what a field that matters to framing, routing or the connection says. */
function noteField(name: string, value: string, facts: FieldFacts): HeadError | undefined {
  switch (name) {
    case 'host':
      facts.hostCount++;
      if (facts.hostCount > 1) return fail(400, 'duplicate_host', 'more than one Host field');
      if (value !== '' && !isPlausibleAuthority(value)) {
        return fail(400, 'bad_host', 'Host is not a plausible host[:port]');
      }
      facts.host = value;
      return undefined;
    case 'content-length': {
      const lengthBytes = contentLengthOf(value);
      if (lengthBytes < 0 || (facts.contentLength ?? lengthBytes) !== lengthBytes) {
        return fail(400, 'bad_content_length', 'Content-Length is invalid or has differing values');
      }
      facts.contentLength = lengthBytes;
      return undefined;
    }
    case 'transfer-encoding':
      facts.transferEncoding =
        facts.transferEncoding === undefined ? value : `${facts.transferEncoding},${value}`;
      return undefined;
    case 'connection':
      for (const token of value.split(',')) {
        const trimmed = token.trim();
        if (trimmed !== '') facts.connectionTokens.push(trimmed.toLowerCase());
      }
      return undefined;
    case 'upgrade':
      facts.upgrade = facts.upgrade === undefined ? value : `${facts.upgrade}, ${value}`;
      return undefined;
    case 'expect':
      if (value.length === 12 && value.toLowerCase() === '100-continue')
        facts.expectContinue = true;
      return undefined;
    default:
      return undefined;
  }
}

/**
 * A Content-Length value: 1*15DIGIT, or a comma list of equal such values (RFC 9112
 * §6.3 rule 5). -1 when invalid: signs, inner spaces, empty elements or differing values.
 */
function contentLengthOf(value: string): number {
  let result = -1;
  let at = 0;
  // Each pass consumes at least one digit or returns, so the loop ends within the value.
  while (at <= value.length) {
    while (at < value.length && isSpace(value.charCodeAt(at))) at++;
    const digitsStart = at;
    let lengthBytes = 0;
    for (; at < value.length; at++) {
      const digit = value.charCodeAt(at) - 0x30;
      if (digit < 0 || digit > 9) break;
      lengthBytes = lengthBytes * 10 + digit;
    }
    const digits = at - digitsStart;
    if (digits === 0 || digits > 15) return -1;
    if (result >= 0 && lengthBytes !== result) return -1;
    result = lengthBytes;
    while (at < value.length && isSpace(value.charCodeAt(at))) at++;
    if (at === value.length) return result;
    if (value.charCodeAt(at) !== COMMA) return -1;
    at++;
  }
  return -1;
}

/**
 * Host presence (RFC 9112 §3.2) and body framing (RFC 9112 §6.1–6.3 for requests): refuses
 * every framing two parsers could read differently. Only exactly `chunked` passes, which
 * is what lets `assembleHead` read `chunked` off the mere presence of Transfer-Encoding.
 */
function judgeFacts(facts: FieldFacts, minorVersion: 0 | 1): HeadError | undefined {
  if (minorVersion === 1 && facts.hostCount === 0) {
    return fail(400, 'missing_host', 'HTTP/1.1 request without a Host field');
  }
  const transferEncoding = facts.transferEncoding;
  if (transferEncoding === undefined) return undefined;
  if (facts.contentLength !== undefined) {
    return fail(400, 'conflicting_framing', 'both Transfer-Encoding and Content-Length');
  }
  if (minorVersion === 0) {
    return fail(400, 'bad_transfer_encoding', 'Transfer-Encoding in an HTTP/1.0 request');
  }
  const codings = transferEncoding.split(',');
  for (const coding of codings) {
    if (coding.trim() === '') {
      return fail(400, 'bad_transfer_encoding', 'Transfer-Encoding has an empty coding');
    }
  }
  if (codings.length !== 1 || codings[0]!.trim().toLowerCase() !== 'chunked') {
    return fail(
      501,
      'unsupported_transfer_encoding',
      'only Transfer-Encoding: chunked is supported',
    );
  }
  return undefined;
}

function assembleHead(line: RequestLine, facts: FieldFacts): RequestHead {
  const { minorVersion } = line;
  const tokens = facts.connectionTokens;
  const close = tokens.includes('close');
  const keepAlive = minorVersion === 1 ? !close : !close && tokens.includes('keep-alive');
  // HTTP/1.0 requests' Upgrade and Expect are ignored (RFC 9110 §7.8, §10.1.1).
  const upgrade =
    minorVersion === 1 && facts.upgrade !== undefined && tokens.includes('upgrade')
      ? facts.upgrade.toLowerCase()
      : undefined;
  return {
    method: line.method,
    target: line.target,
    minorVersion,
    fields: facts.fields,
    host: line.authority ?? facts.host,
    contentLength: facts.contentLength,
    chunked: facts.transferEncoding !== undefined,
    keepAlive,
    upgrade,
    expectContinue: minorVersion === 1 && facts.expectContinue,
    connectionTokens: tokens,
  };
}
