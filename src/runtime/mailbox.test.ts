import { describe, expect, test } from 'bun:test';
import { AssertionError } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import { Mailbox } from './mailbox.ts';

describe('Mailbox', () => {
  test('keeps FIFO order while its ring buffer grows and wraps around', () => {
    // Proves that growth and wrap-around never reorder or lose messages.
    const mailbox = new Mailbox<number>(100);
    const seen: number[] = [];
    let next = 0;
    for (let round = 0; round < 20; round += 1) {
      for (let i = 0; i < 7; i += 1) expect(mailbox.push(next++)).toBe(true);
      for (let i = 0; i < 5; i += 1) seen.push(mailbox.shift());
    }
    while (mailbox.size > 0) seen.push(mailbox.shift());
    expect(seen).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  test('refuses a message once full and keeps what it holds', () => {
    // Proves back-pressure: a full mailbox answers false and its contents are untouched.
    const mailbox = new Mailbox<string>(3);
    expect(mailbox.push('a')).toBe(true);
    expect(mailbox.push('b')).toBe(true);
    expect(mailbox.push('c')).toBe(true);
    expect(mailbox.push('d')).toBe(false);
    expect(mailbox.size).toBe(3);
    expect([mailbox.shift(), mailbox.shift(), mailbox.shift()]).toEqual(['a', 'b', 'c']);
    expect(mailbox.push('e')).toBe(true);
  });

  test('clear reports how many messages it dropped', () => {
    // Proves that dropping is counted, so the runtime can log every loss.
    const mailbox = new Mailbox<number>(10);
    for (let i = 0; i < 4; i += 1) mailbox.push(i);
    expect(mailbox.clear()).toBe(4);
    expect(mailbox.size).toBe(0);
    expect(mailbox.clear()).toBe(0);
  });

  test('rejects unusable capacities and shifting when empty as bugs', () => {
    // Proves that garbage configuration fails loudly with an assertion.
    for (const capacity of [0, -1, 1.5, Number.NaN, limits.mailboxDepthCeiling + 1]) {
      expect(() => new Mailbox<number>(capacity)).toThrow(AssertionError);
    }
    expect(() => new Mailbox<number>(1).shift()).toThrow(AssertionError);
  });
});
