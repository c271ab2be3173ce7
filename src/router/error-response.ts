/**
 * Answers the router gives itself (not the upstream's): JSON `{ error: { code, message } }`
 * as the API does, or a small HTML page when the client prefers HTML (a browser).
 */

/** Stable codes of the router's own answers, with their HTTP status. */
export const routerErrorStatus = {
  no_route: 404,
  body_too_large: 413,
  /** nginx's code for a client that went away before the answer; logged, never seen. */
  client_closed: 499,
  upstream_unavailable: 502,
  no_upstream: 503,
  maintenance: 503,
  too_many_websockets: 503,
  upstream_timeout: 504,
} as const;

export type RouterErrorCode = keyof typeof routerErrorStatus;

const titles: Record<RouterErrorCode, string> = {
  no_route: 'Not found',
  body_too_large: 'Request too large',
  client_closed: 'Client closed request',
  upstream_unavailable: 'Bad gateway',
  no_upstream: 'Service unavailable',
  maintenance: 'Down for maintenance',
  too_many_websockets: 'Service unavailable',
  upstream_timeout: 'Gateway timeout',
};

/** The router's error answer for `code`, in JSON or HTML by the request's Accept header. */
export function errorResponse(
  code: RouterErrorCode,
  message: string,
  accept: string | null,
): Response {
  const status = routerErrorStatus[code];
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (code === 'maintenance' || code === 'no_upstream') headers['retry-after'] = '5';
  if (prefersHtml(accept)) {
    headers['content-type'] = 'text/html; charset=utf-8';
    return sizedResponse(htmlPage(titles[code], message), status, headers);
  }
  headers['content-type'] = 'application/json';
  return sizedResponse(JSON.stringify({ error: { code, message } }), status, headers);
}

/**
 * A Response whose body is `text`, with its Content-Length said: the raw HTTP/1.1 front
 * frames a body it cannot measure as chunked, which a tiny answer should not need.
 */
export function sizedResponse(
  text: string,
  status: number,
  headers: Record<string, string>,
): Response {
  headers['content-length'] = String(Buffer.byteLength(text));
  return new Response(text, { status, headers });
}

/** HTML only when the client names text/html before any JSON type (browsers do). */
function prefersHtml(accept: string | null): boolean {
  if (!accept) return false;
  const html = accept.indexOf('text/html');
  if (html < 0) return false;
  const json = accept.indexOf('application/json');
  return json < 0 || html < json;
}

function htmlPage(title: string, message: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>
`;
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
