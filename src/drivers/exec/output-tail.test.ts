import { expect, test } from 'bun:test';
import { appendFileSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limits } from '../../core/limits.ts';
import { OutputTail } from './output-tail.ts';

test('returns only complete new lines and carries a partial one', () => {
  // Proves incremental reading: each line once, unfinished text held until its newline.
  const path = join(mkdtempSync(join(tmpdir(), 'berth-tail-')), 'out.log');
  writeFileSync(path, 'old\n');
  const tail = new OutputTail(path, false);
  expect(tail.poll()).toEqual([]);
  appendFileSync(path, 'one\ntw');
  expect(tail.poll()).toEqual(['one']);
  appendFileSync(path, 'o\nthree');
  expect(tail.poll()).toEqual(['two']);
  expect(tail.flush()).toEqual(['three']);
  expect(new OutputTail(path, true).poll()).toEqual(['old', 'one', 'two']);
});

test('truncates a file past the size bound once it has been read', () => {
  // Proves the disk bound: a big output file is emptied after reading and reading continues.
  const path = join(mkdtempSync(join(tmpdir(), 'berth-tail-')), 'out.log');
  writeFileSync(path, '');
  const tail = new OutputTail(path, true);
  const line = `${'x'.repeat(1023)}\n`;
  const lines = Math.ceil(limits.execLogFileBytesMax / line.length) + 1;
  appendFileSync(path, line.repeat(lines));
  let read = 0;
  for (let i = 0; i < 64 && read < lines; i++) read += tail.poll().length;
  expect(read).toBe(lines);
  expect(statSync(path).size).toBe(0);
  appendFileSync(path, 'after\n');
  expect(tail.poll()).toEqual(['after']);
});
