import { expect, test } from 'bun:test';
import { isSameLiveProcess, parseProcStat, processGroupMembers, readProcStat } from './proc.ts';

test('parses stat fields after a command name holding spaces and parentheses', () => {
  // Proves the split after the last ')' (a name like "a) b" would break a naive split).
  const fields = ['S', '1', '4242', '0', '0', '-1', '0', '0', '0', '0', '0', '17', '5'];
  const rest = ['0', '0', '20', '0', '1', '0', '987654', '1000', '321'];
  const stat = parseProcStat(`123 (a) b (c)) ${[...fields, ...rest].join(' ')}`);
  expect(stat).toEqual({
    state: 'S',
    pgrp: 4242,
    utimeTicks: 17,
    stimeTicks: 5,
    startTicks: 987654,
    rssPages: 321,
  });
  expect(parseProcStat('garbage')).toBeUndefined();
});

test('identifies this live process by pid and start time, and not with another start time', () => {
  // Proves the pid-reuse guard against the real /proc.
  const self = readProcStat(process.pid);
  expect(self).toBeDefined();
  expect(isSameLiveProcess(process.pid, self!.startTicks)).toBe(true);
  expect(isSameLiveProcess(process.pid, self!.startTicks + 1)).toBe(false);
  expect(processGroupMembers(self!.pgrp, 10_000).length).toBeGreaterThanOrEqual(1);
});
