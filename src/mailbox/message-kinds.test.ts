import { describe, expect, test } from 'bun:test';
import { z } from 'zod';
import { AssertionError } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { defineMessageKinds, local, replicated } from './message-kinds.ts';

const kinds = defineMessageKinds({
  'job.registered': replicated(1, z.object({ job: z.string(), version: z.number().int() })),
  'job.legacy': replicated(2, z.object({ job: z.string() }), { retired: true }),
  tick: local(),
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('message kinds', () => {
  test('two types on one log tag are refused at definition', () => {
    // Proves a reused log tag is caught when the registry is built.
    expect(() =>
      defineMessageKinds({ a: replicated(3, z.null()), b: replicated(3, z.null()) }),
    ).toThrow(AssertionError);
  });

  test('tags must be positive integers', () => {
    // Proves tag 0 and fractional tags are rejected.
    expect(() => defineMessageKinds({ a: replicated(0, z.null()) })).toThrow(AssertionError);
    expect(() => defineMessageKinds({ a: replicated(1.5, z.null()) })).toThrow(AssertionError);
  });

  test('a local type asked for as replicated is an assertion', () => {
    // Proves the runtime treats a local type heading for the log as a bug.
    expect(() => kinds.requireReplicated('tick')).toThrow(AssertionError);
    expect(() => kinds.requireAppendable('tick')).toThrow(AssertionError);
  });

  test('an unknown type is an operating error with a stable code', () => {
    // Proves unregistered types give BerthError unknown_message_type, not an assertion.
    const error = thrown(() => kinds.requireReplicated('job.nope'));
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('unknown_message_type');
    // Object prototype names are not registered types.
    expect(kinds.kindOf('toString')).toBeUndefined();
  });

  test('a retired type can be parsed but not appended', () => {
    // Proves retirement blocks new entries while old entries stay readable.
    expect((thrown(() => kinds.requireAppendable('job.legacy')) as BerthError).code).toBe(
      'message_type_retired',
    );
    expect(kinds.parse('job.legacy', { job: 'web' })).toEqual({ ok: true, data: { job: 'web' } });
    expect(kinds.typeOfTag(2)).toBe('job.legacy');
  });

  test('parse reports which field is wrong', () => {
    // Proves a bad payload yields invalid_message naming the type and the field path.
    const result = kinds.parse('job.registered', { job: 'web', version: 'two' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('invalid_message');
    expect(result.error.message).toContain('job.registered');
    expect(result.error.message).toContain('version');
    expect(result.error.details?.issues).toEqual([
      { path: ['version'], message: expect.any(String) },
    ]);
  });
});
