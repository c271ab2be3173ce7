import { expect, test } from 'bun:test';
import { splitArgv } from './argv.ts';

// Proves quoting and escaping split like a POSIX shell, without any expansion.
test('splits words with quotes and escapes', () => {
  expect(splitArgv('bun run server.ts')).toEqual(['bun', 'run', 'server.ts']);
  expect(splitArgv(`sh -c 'echo "hi there"; exit 0'`)).toEqual([
    'sh',
    '-c',
    'echo "hi there"; exit 0',
  ]);
  expect(splitArgv('echo "a \\"b\\"" c\\ d $HOME')).toEqual(['echo', 'a "b"', 'c d', '$HOME']);
  expect(splitArgv(`x '' y`)).toEqual(['x', '', 'y']);
  expect(splitArgv('  spaced   out  ')).toEqual(['spaced', 'out']);
});

// Proves an open quote or a trailing backslash is refused rather than guessed at.
test('refuses unterminated input', () => {
  expect(splitArgv(`echo 'open`)).toBeNull();
  expect(splitArgv('echo "open')).toBeNull();
  expect(splitArgv('echo \\')).toBeNull();
});
