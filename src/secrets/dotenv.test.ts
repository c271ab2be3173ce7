import { describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import { type DotenvLineError, parseDotenv } from './dotenv.ts';

function errorsOf(text: string): { error: BerthError; lines: DotenvLineError[] } {
  try {
    parseDotenv(text);
  } catch (error) {
    expect(error).toBeInstanceOf(BerthError);
    const e = error as BerthError;
    return { error: e, lines: e.details?.errors as DotenvLineError[] };
  }
  throw new Error('expected dotenv_invalid');
}

describe('parseDotenv', () => {
  test('reads plain, exported, quoted and commented entries', () => {
    // Proves the supported syntax: export prefix, spaces around =, both quote styles, comments, escapes.
    const text = [
      '# a comment',
      '',
      'PLAIN=value',
      'export EXPORTED=yes',
      'SPACED = around  ',
      "SINGLE='lit $HOME \\n # not a comment'",
      'DOUBLE="tab\\tquote\\" end" # trailing comment',
      'INLINE=abc # comment',
      'HASH=a#b',
      'EMPTY=',
      'MULTI="line one',
      'line two"',
    ].join('\n');
    const entries = parseDotenv(text);
    expect(Object.fromEntries(entries.map((e) => [e.key, e.value]))).toEqual({
      PLAIN: 'value',
      EXPORTED: 'yes',
      SPACED: 'around',
      SINGLE: 'lit $HOME \\n # not a comment',
      DOUBLE: 'tab\tquote" end',
      INLINE: 'abc',
      HASH: 'a#b',
      EMPTY: '',
      MULTI: 'line one\nline two',
    });
    expect(entries.find((e) => e.key === 'MULTI')?.line).toBe(11);
  });

  test('a key given twice keeps its last value, with CRLF line ends', () => {
    // Proves last-wins duplicates and Windows line endings.
    expect(parseDotenv('A=1\r\nB=2\r\nA=3\r\n')).toEqual([
      { key: 'B', value: '2', line: 2 },
      { key: 'A', value: '3', line: 3 },
    ]);
  });

  test('garbage is reported with every bad line number and without values', () => {
    // Proves dotenv_invalid lists each bad line, and no value text leaks into the message.
    const text = [
      'GOOD=ok',
      'this is not an assignment',
      '1BAD=hunter2-secret',
      "OPEN='hunter2-unterminated",
      'TRAIL="hunter2-x" junk',
      'LAST="hunter2-never closed',
      'more',
    ].join('\n');
    const { error, lines } = errorsOf(text);
    expect(error.code).toBe('dotenv_invalid');
    expect(lines.map((l) => l.line)).toEqual([2, 3, 4, 5, 6]);
    expect(error.message).toContain('line 2');
    expect(JSON.stringify(error.details)).not.toContain('hunter2');
    expect(error.message).not.toContain('hunter2');
  });
});
