import { expect, test } from 'bun:test';
import { acmeTokenOf, answerAcmeChallenge, isAcmeChallengePath } from './acme-challenge.ts';

const token = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';

function recordingLookup(answers: Record<string, string>) {
  const asked: string[] = [];
  return {
    asked,
    lookup: (t: string) => {
      asked.push(t);
      return answers[t];
    },
  };
}

test('a known token gets 200 text/plain with its key authorization, query ignored', async () => {
  // Proves the HTTP-01 answer's exact shape (RFC 8555 §8.3): body is the key authorization.
  const { lookup } = recordingLookup({ [token]: `${token}.thumb` });
  const response = answerAcmeChallenge(
    'GET',
    `/.well-known/acme-challenge/${token}?x=1`,
    lookup,
    null,
  );
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain');
  expect(await response.text()).toBe(`${token}.thumb`);
});

test('an unknown token gets the router 404 with its error body', async () => {
  // Proves a missing challenge is our JSON error, not an empty page or a proxied answer.
  const { lookup, asked } = recordingLookup({});
  const response = answerAcmeChallenge('GET', `/.well-known/acme-challenge/${token}`, lookup, null);
  expect(response.status).toBe(404);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe('no_route');
  expect(asked).toEqual([token]);
});

test('garbage tokens and other methods get 404 without a lookup', () => {
  // Proves too long, empty, bad-charset and encoded tokens never reach the state query.
  const { lookup, asked } = recordingLookup({ [token]: 'k' });
  const paths = [
    `/.well-known/acme-challenge/${'a'.repeat(129)}`,
    '/.well-known/acme-challenge/',
    '/.well-known/acme-challenge/abc.def',
    '/.well-known/acme-challenge/abc%2F..',
    `/.well-known/acme-challenge/${token}/more`,
  ];
  for (const path of paths) expect(answerAcmeChallenge('GET', path, lookup, null).status).toBe(404);
  const post = answerAcmeChallenge('POST', `/.well-known/acme-challenge/${token}`, lookup, null);
  expect(post.status).toBe(404);
  expect(asked).toEqual([]);
});

test('token parsing accepts base64url up to the limit and only under the prefix', () => {
  // Proves the token rule at its edges.
  expect(acmeTokenOf(`/.well-known/acme-challenge/${'a'.repeat(128)}`)).toBe('a'.repeat(128));
  expect(acmeTokenOf('/.well-known/acme-challenge/A-b_9')).toBe('A-b_9');
  expect(isAcmeChallengePath('/.well-known/acme-challenge/x')).toBe(true);
  expect(isAcmeChallengePath('/.well-known/acme-challengex')).toBe(false);
  expect(isAcmeChallengePath('/app/.well-known/acme-challenge/x')).toBe(false);
});
