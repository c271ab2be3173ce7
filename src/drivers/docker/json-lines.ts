import { BerthError } from '../../core/errors.ts';

/**
 * Reads a stream of newline-separated JSON values (Docker's events and pull progress).
 * A line longer than `lineBytesMax` means a broken stream and ends it with an error;
 * a line that is not JSON is skipped.
 */
export async function* readJsonLines(
  body: ReadableStream<Uint8Array>,
  lineBytesMax: number,
): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    if (buffered.length > lineBytesMax) {
      throw new BerthError('driver_error', 'Docker stream line too long', {
        bytes: buffered.length,
      });
    }
    for (const line of lines) {
      const value = parseLine(line);
      if (value !== undefined) yield value;
    }
  }
  const last = parseLine(buffered);
  if (last !== undefined) yield last;
}

function parseLine(line: string): unknown {
  if (line.trim() === '') return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
