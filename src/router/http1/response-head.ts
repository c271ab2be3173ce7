/**
 * Response heads the raw HTTP/1.1 front writes (RFC 9112 §4, §6). Pure string building, so
 * the framing rules are unit-tested without a socket: the upstream's headers pass through
 * with their names as sent, and the front adds only what the client's hop needs (its own
 * Content-Length or chunked framing, and Connection).
 */
import { STATUS_CODES } from 'node:http';
import { isHopByHop } from '../headers.ts';
import type { ReplyHeaders } from '../upstream-conn-parse.ts';

/** How the body after the head is delimited on the client's connection. */
export type ClientFraming =
  /** Content-Length from the headers, or added with this value; no body written for HEAD. */
  | { kind: 'length'; lengthBytes: number | undefined }
  /** Transfer-Encoding: chunked (HTTP/1.1 clients). */
  | { kind: 'chunked' }
  /** Until the connection closes (HTTP/1.0 clients of a body of unknown length). */
  | { kind: 'close' }
  /** 1xx, 204, 304: never a body, no framing header. */
  | { kind: 'none' };

export interface HeadOptions {
  framing: ClientFraming;
  /** The connection stays open after this answer. */
  keepAlive: boolean;
  /** The client spoke HTTP/1.0 (keep-alive must then be said). */
  http10: boolean;
}

const reasonByStatus = new Map<number, string>();
for (const [code, text] of Object.entries(STATUS_CODES)) {
  if (text) reasonByStatus.set(Number(code), text);
}
const statusLines = new Map<number, string>();

/** `HTTP/1.1 200 OK\r\n`, cached per status. */
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${reasonByStatus.get(status) ?? 'Unknown'}\r\n`;
    if (statusLines.size < 1_000) statusLines.set(status, line);
  }
  return line;
}

/** True when a response with `status` never has a body (RFC 9110 §6.4.1). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/**
 * The head for an upstream's reply (raw client): its headers as parsed (hop-by-hop already
 * removed). A Content-Length among them is kept when the framing is `length`, and dropped
 * otherwise (the body is then re-framed).
 */
export function replyHead(status: number, headers: ReplyHeaders, options: HeadOptions): string {
  let head = statusLine(status);
  let hasLength = false;
  if (Array.isArray(headers)) {
    for (const [name, value] of headers) {
      if (isLengthName(name)) {
        if (options.framing.kind !== 'length' || hasLength) continue;
        hasLength = true;
      }
      head += `${name}: ${value}\r\n`;
    }
  } else {
    for (const name in headers) {
      if (isLengthName(name)) {
        if (options.framing.kind !== 'length' || hasLength) continue;
        hasLength = true;
      }
      head += `${name}: ${headers[name]}\r\n`;
    }
  }
  return head + framingLines(options, hasLength);
}

/** The head for a whole Response (the router's own answers, fetch's answers). */
export function responseHead(response: Response, options: HeadOptions): string {
  let head = statusLine(response.status);
  let hasLength = false;
  for (const [name, value] of response.headers) {
    if (name === 'content-length') {
      if (options.framing.kind !== 'length' || hasLength) continue;
      hasLength = true;
    } else if (name === 'transfer-encoding' || isHopByHop(name)) {
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  return head + framingLines(options, hasLength);
}

function framingLines(options: HeadOptions, hasLength: boolean): string {
  const { framing } = options;
  let lines = '';
  if (framing.kind === 'length' && !hasLength && framing.lengthBytes !== undefined) {
    lines += `content-length: ${framing.lengthBytes}\r\n`;
  } else if (framing.kind === 'chunked') {
    lines += 'transfer-encoding: chunked\r\n';
  }
  if (!options.keepAlive) lines += 'connection: close\r\n';
  else if (options.http10) lines += 'connection: keep-alive\r\n';
  return `${lines}\r\n`;
}

/** Content-Length in any letter case (names come as the upstream sent them). */
function isLengthName(name: string): boolean {
  return (
    name.length === 14 && (name === 'content-length' || name.toLowerCase() === 'content-length')
  );
}

/** The Content-Length among reply headers, or undefined. */
export function replyContentLength(headers: ReplyHeaders): number | undefined {
  if (Array.isArray(headers)) {
    for (const [name, value] of headers) if (isLengthName(name)) return Number(value);
    return undefined;
  }
  for (const name in headers) if (isLengthName(name)) return Number(headers[name]);
  return undefined;
}
