import { expect, test } from 'bun:test';
import { exitCodeOfSignal, parseTaskLabels } from './driver.ts';

test('labels parse back only when every identity label is present and well formed', () => {
  // Proves adoption reads exactly the labels the drivers write, and ignores foreign ones.
  const raw = { 'berth.job': 'web', 'berth.alloc': 'a1', 'berth.version': '4', 'berth.node': 'n1' };
  expect(parseTaskLabels(raw)).toEqual({
    jobId: 'web',
    allocId: 'a1',
    jobVersion: 4,
    nodeId: 'n1',
  });
  expect(parseTaskLabels({ ...raw, 'berth.version': 'x' })).toBeUndefined();
  const { 'berth.node': _node, ...noNode } = raw;
  expect(parseTaskLabels(noNode)).toBeUndefined();
});

test('signal deaths map to 128 + signal number', () => {
  // Proves the shell convention both drivers report.
  expect(exitCodeOfSignal('SIGTERM')).toBe(143);
  expect(exitCodeOfSignal('SIGKILL')).toBe(137);
  expect(exitCodeOfSignal(9)).toBe(137);
});
