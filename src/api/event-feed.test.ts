import { describe, expect, test } from 'bun:test';
import { SimClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { defaultEventOf, EventFeed } from './event-feed.ts';
import { TestClusterService } from './test-service.ts';

function setup() {
  const service = new TestClusterService({ clock: new SimClock() });
  const node = (id: string) =>
    service.record('node.registered', {
      id,
      name: id,
      address: 'a',
      status: 'ready',
      voter: false,
    });
  return { service, node };
}

describe('EventFeed', () => {
  test('reads in order, filters by topic and reports its position', () => {
    // Proves position() counts filtered entries, so a resume skips them.
    const t = setup();
    t.node('a');
    t.service.record('deployment.updated', { id: 'd', job: 'j', jobVersion: 1, status: 'x' });
    t.node('b');
    const feed = new EventFeed(t.service, 0, new Set(['deployment']));
    expect(feed.read(10).map((e) => e.index)).toEqual([2]);
    expect(feed.position()).toBe(3);
    expect(feed.behind()).toBe(false);
    expect(feed.read(10)).toEqual([]);
  });

  test('refuses to start behind the compacted prefix', () => {
    // Proves a resume index below firstIndex fails with events_compacted up front.
    const t = setup();
    t.node('a');
    t.node('b');
    t.service.events.compact(1);
    expect(() => new EventFeed(t.service, 0, null)).toThrow(BerthError);
    expect(new EventFeed(t.service, 1, null).read(10).map((e) => e.index)).toEqual([2]);
  });
});

describe('defaultEventOf', () => {
  const entry = (type: string, data: unknown) => ({ index: 7, term: 1, type, data });

  test('topics are the first word of dotted and underscored type names', () => {
    // Proves both naming styles (this API's test kinds and actors/state) map to one topic.
    expect(defaultEventOf(entry('job.registered', {})).topic).toBe('job');
    expect(defaultEventOf(entry('job_registered', {})).topic).toBe('job');
    expect(defaultEventOf(entry('allocation_status', {})).topic).toBe('allocation');
  });

  test('secret, token and join-token payloads keep identifiers only', () => {
    // Proves the state machine's real payload shapes lose their key material.
    const secret = defaultEventOf(
      entry('secret_set', { name: 'DB', ciphertext: 'AAA', nonce: 'BBB', keyId: 'k1', atMs: 1 }),
    );
    expect(secret.data).toEqual({ name: 'DB' });
    const token = defaultEventOf(
      entry('token_created', {
        id: 't',
        name: 'ci',
        role: 'deploy',
        hash: 'ab'.repeat(32),
        atMs: 1,
      }),
    );
    expect(token.data).toEqual({ id: 't', name: 'ci', role: 'deploy' });
    const join = defaultEventOf(
      entry('join_token_created', {
        id: 'j',
        hash: 'cd'.repeat(32),
        role: 'worker',
        expiresAtMs: 9,
      }),
    );
    expect(join.data).toEqual({ id: 'j', role: 'worker', expiresAtMs: 9 });
  });

  test('credential-named keys are removed from any payload, at any depth', () => {
    // Proves defence in depth for a future type that nests key material elsewhere.
    const event = defaultEventOf(
      entry('node_registered', {
        id: 'n',
        tls: { privateKey: 'PEM', cert: 'C' },
        list: [{ token: 'x', ok: 1 }],
      }),
    );
    expect(event.data).toEqual({ id: 'n', tls: { cert: 'C' }, list: [{ ok: 1 }] });
  });
});
