import { expect, test } from 'bun:test';
import { errorResponse } from './error-response.ts';

test('router errors are JSON with a stable code unless the client prefers HTML', async () => {
  // Proves the Accept negotiation and that messages are escaped in the HTML page.
  const json = errorResponse('upstream_unavailable', 'web could not be reached', '*/*');
  expect(json.status).toBe(502);
  expect(await json.json()).toEqual({
    error: { code: 'upstream_unavailable', message: 'web could not be reached' },
  });
  const html = errorResponse('maintenance', 'back <soon>', 'text/html,application/xhtml+xml');
  expect(html.status).toBe(503);
  expect(html.headers.get('content-type')).toStartWith('text/html');
  expect(await html.text()).toContain('back &lt;soon&gt;');
  const jsonFirst = errorResponse('upstream_timeout', 'slow', 'application/json, text/html');
  expect(jsonFirst.status).toBe(504);
  expect(jsonFirst.headers.get('content-type')).toBe('application/json');
});
