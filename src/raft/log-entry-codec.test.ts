import { describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import {
  decodeLogEntry,
  encodeLogCommand,
  raftConfigType,
  raftNoopType,
} from './log-entry-codec.ts';

describe('log entry codec', () => {
  test('round-trips an application command and surfaces Raft entries under reserved tags', () => {
    // Proves every entry kind maps to a LogEntry, so consumers see consecutive indices.
    const data = encodeLogCommand('job.registered', { job: 'web', version: 3 });
    expect(decodeLogEntry({ index: 4, term: 2, kind: 'normal', data })).toEqual({
      index: 4,
      term: 2,
      type: 'job.registered',
      data: { job: 'web', version: 3 },
    });
    expect(decodeLogEntry({ index: 1, term: 1, kind: 'noop', data: '' })).toEqual({
      index: 1,
      term: 1,
      type: raftNoopType,
      data: null,
    });
    const cc = JSON.stringify({ op: 'add_learner', node: 4 });
    expect(decodeLogEntry({ index: 2, term: 1, kind: 'config', data: cc }).type).toBe(
      raftConfigType,
    );
  });

  test('rejects a normal entry that is not a {type, data} envelope with log_entry_invalid', () => {
    // Proves the log is parsed as a trust boundary and failures carry a stable code.
    for (const data of ['not json', '{"data":1}', '[1,2]']) {
      let caught: unknown;
      try {
        decodeLogEntry({ index: 7, term: 1, kind: 'normal', data });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(BerthError);
      expect((caught as BerthError).code).toBe('log_entry_invalid');
    }
  });
});
