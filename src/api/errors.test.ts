import { describe, expect, test } from 'bun:test';
import { Hono } from 'hono';
import { AssertionError } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { errorResponse, statusByCode } from './errors.ts';
import { createHarness, errorCode, sampleJob } from './test-harness.ts';

describe('garbage requests', () => {
  test('malformed JSON is 400 bad_json and writes nothing', async () => {
    // Proves a body that is not JSON is refused before the service is asked.
    const h = await createHarness();
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/jobs', { body: '{"name": "web",' });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('bad_json');
    expect(h.commitIndex()).toBe(before);
  });

  test('wrong types are 400 invalid_body with field paths', async () => {
    // Proves zod issues come back as dotted paths a client can point at.
    const h = await createHarness();
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/jobs', {
      body: { name: 'web', image: 5, ports: { http: 'eighty' } },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { code: string; details: { issues: { path: string }[] } };
    };
    expect(body.error.code).toBe('invalid_body');
    const paths = body.error.details.issues.map((i) => i.path).sort();
    expect(paths).toEqual(['image', 'ports.http']);
    expect(h.commitIndex()).toBe(before);
  });

  test('unknown fields are refused (strict objects), nested ones too', async () => {
    // Proves a misspelt field is an error, not silently ignored, and its path is named.
    const h = await createHarness();
    const before = h.commitIndex();
    const top = await h.call('POST', '/v1/jobs', { body: { ...sampleJob, replicas: 3 } });
    expect(top.status).toBe(400);
    const body = (await top.json()) as { error: { details: { issues: { path: string }[] } } };
    expect(body.error.details.issues.map((i) => i.path)).toEqual(['replicas']);
    const nested = await h.call('POST', '/v1/jobs', {
      body: { ...sampleJob, check: { http: '/up', proto: 'tcp' } },
    });
    expect(nested.status).toBe(400);
    expect(await errorCode(nested)).toBe('invalid_body');
    const secret = await h.call('PUT', '/v1/secrets/DB_URL', { body: { value: 'x', extra: 1 } });
    expect(secret.status).toBe(400);
    expect(h.commitIndex()).toBe(before);
  });

  test('a JSON body that is not an object is invalid_body', async () => {
    // Proves arrays, strings and null are refused with the same code as wrong types.
    const h = await createHarness();
    for (const body of ['[]', '"web"', 'null', '42']) {
      const res = await h.call('POST', '/v1/jobs', { body });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('invalid_body');
    }
  });

  test('oversized bodies are 413 body_too_large, by length header and when streamed', async () => {
    // Proves both the Content-Length check and the streamed count (no length header).
    const h = await createHarness({ limits: { bodyBytesMax: 1024 } });
    const before = h.commitIndex();
    const big = JSON.stringify({ ...sampleJob, image: 'x'.repeat(2048) });
    const res = await h.call('POST', '/v1/jobs', { body: big });
    expect(res.status).toBe(413);
    expect(await errorCode(res)).toBe('body_too_large');
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 1000));
        controller.enqueue(bytes.slice(1000));
        controller.close();
      },
    });
    const streamed = await h.app.request('/v1/jobs', {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await errorCode(streamed)).toBe('body_too_large');
    expect(h.commitIndex()).toBe(before);
  });

  test('a non-JSON content type is 415', async () => {
    // Proves form posts are refused instead of being parsed as something else.
    const h = await createHarness();
    const res = await h.call('POST', '/v1/jobs', {
      body: 'name=web',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(await errorCode(res)).toBe('unsupported_media_type');
  });

  test('unknown routes are 404 not_found in the error shape', async () => {
    // Proves the not-found handler answers with the common JSON error body.
    const h = await createHarness();
    for (const path of ['/v1/nope', '/v1/jobs/web/nope', '/nope', '/v2/jobs']) {
      const res = await h.call('GET', path);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe('not_found');
    }
  });

  test('a wrong method on a known path is 405 with Allow', async () => {
    // Proves 405 is told apart from 404 and names the methods that would work.
    const h = await createHarness();
    const before = h.commitIndex();
    const res = await h.call('PATCH', '/v1/jobs');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('POST');
    expect(res.headers.get('allow')).toContain('GET');
    expect(await errorCode(res)).toBe('method_not_allowed');
    const put = await h.call('PUT', '/v1/jobs/web', { body: sampleJob });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toContain('DELETE');
    const post = await h.call('POST', '/v1/status');
    expect(post.status).toBe(405);
    expect(h.commitIndex()).toBe(before);
  });

  test('unknown query parameters and bad values are 400 invalid_query', async () => {
    // Proves query strings are validated like bodies (strict, typed).
    const h = await createHarness();
    for (const path of [
      '/v1/jobs?limit=0',
      '/v1/jobs?limit=abc',
      '/v1/jobs?stale=yes',
      '/v1/jobs?foo=1',
    ]) {
      const res = await h.call('GET', path);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('invalid_query');
    }
  });
});

describe('errorResponse', () => {
  test('maps codes through the one table and hides unexpected errors', async () => {
    // Proves the status table is used, retry hints are added, and bugs leak no text.
    const app = new Hono();
    app.get('/known', () => {
      throw new BerthError('no_leader', 'no leader yet');
    });
    app.get('/bug', () => {
      throw new AssertionError('secret internal invariant');
    });
    app.get('/odd', () => {
      throw new BerthError('some_new_code', 'from a newer module');
    });
    app.onError((error, c) => errorResponse(c, error, silentLogger));
    const known = await app.request('/known');
    expect(known.status).toBe(statusByCode.no_leader!);
    expect(known.headers.get('retry-after')).toBe('1');
    const bug = await app.request('/bug');
    expect(bug.status).toBe(500);
    const bugBody = await bug.text();
    expect(bugBody).toContain('"internal"');
    expect(bugBody).not.toContain('secret internal invariant');
    const odd = await app.request('/odd');
    expect(odd.status).toBe(500);
    expect(await errorCode(odd)).toBe('some_new_code');
  });
});
