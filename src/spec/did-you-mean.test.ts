import { expect, test } from 'bun:test';
import { closestMatch, editDistance } from './did-you-mean.ts';

// Proves the edit distance counts insertions, deletions and substitutions.
test('edit distance', () => {
  expect(editDistance('max_paralel', 'max_parallel')).toBe(1);
  expect(editDistance('imgae', 'image')).toBe(2);
  expect(editDistance('kitten', 'sitting', 5)).toBe(3);
  expect(editDistance('a', 'abcdef')).toBe(3);
});

// Proves suggestions stay within two edits and pick the closest candidate.
test('closest match', () => {
  const keys = ['image', 'command', 'count', 'check'];
  expect(closestMatch('imgae', keys)).toBe('image');
  expect(closestMatch('Image', keys)).toBe('image');
  expect(closestMatch('chek', keys)).toBe('check');
  expect(closestMatch('resources', keys)).toBeNull();
});
