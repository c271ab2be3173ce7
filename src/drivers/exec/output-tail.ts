import { closeSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { limits } from '../../core/limits.ts';

/** Bytes one poll reads from one output file, so a chatty task cannot stall the agent. */
const readChunkBytesMax = 1024 * 1024;

/**
 * Follows one output file of an exec task. The task writes the file directly (its stdout
 * or stderr is the file, opened for append), so its output survives an agent restart and
 * the task never gets SIGPIPE from a dead reader. The driver polls the file and turns new
 * bytes into lines. To bound the disk, a file that has grown past execLogFileBytesMax is
 * truncated once fully read; lines written between that read and the truncation are lost,
 * which is the price of rotation without the task's cooperation.
 */
export class OutputTail {
  #path: string;
  #offset: number;
  #partial = '';
  #decoder = new TextDecoder();

  /** `fromStart` false skips what the file already holds. */
  constructor(path: string, fromStart: boolean) {
    this.#path = path;
    this.#offset = fromStart ? 0 : fileSize(path);
  }

  /** Reads what was appended since the last call; returns complete lines. */
  poll(): string[] {
    let fd: number;
    try {
      fd = openSync(this.#path, 'r+');
    } catch {
      return [];
    }
    try {
      return this.#readNew(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Returns the unfinished last line, if any (call once the task has exited). */
  flush(): string[] {
    const rest = this.#partial;
    this.#partial = '';
    return rest === '' ? [] : [rest.slice(0, limits.driverLogLineBytesMax)];
  }

  #readNew(fd: number): string[] {
    const size = fstatSync(fd).size;
    if (size < this.#offset) this.#offset = 0;
    const length = Math.min(size - this.#offset, readChunkBytesMax);
    if (length <= 0) return [];
    const buffer = new Uint8Array(length);
    const read = readSync(fd, buffer, 0, length, this.#offset);
    this.#offset += read;
    const text = this.#partial + this.#decoder.decode(buffer.subarray(0, read), { stream: true });
    const lines = text.split('\n');
    this.#partial = (lines.pop() ?? '').slice(0, limits.driverLogLineBytesMax);
    if (this.#offset === size && size > limits.execLogFileBytesMax) {
      ftruncateSync(fd, 0);
      this.#offset = 0;
    }
    return lines.map((line) => line.slice(0, limits.driverLogLineBytesMax));
  }
}

function fileSize(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}
