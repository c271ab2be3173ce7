/**
 * Reads an NDJSON response body line by line until the server closes it, a handler
 * throws (an error line), or Ctrl-C aborts. Shared by `berth events` and `berth logs -f`.
 */
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Output } from './output.ts';

export async function readNdjson(
  body: ReadableStream<Uint8Array>,
  out: Output,
  onLine: (line: string) => void,
  what: { name: string; resumeHint?: () => string },
): Promise<void> {
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  out.signal?.addEventListener('abort', stop, { once: true });
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        onLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
      }
      if (buffer.length > limits.cliEventLineBytesMax) {
        throw new BerthError(
          'bad_response',
          `a ${what.name} line is over ${limits.cliEventLineBytesMax} bytes`,
        );
      }
    }
  } catch (error) {
    if (out.signal?.aborted) return;
    if (error instanceof BerthError) throw error;
    throw new BerthError(
      'stream_ended',
      `the ${what.name} stream broke: ${(error as Error).message}${what.resumeHint?.() ?? ''}`,
    );
  } finally {
    out.signal?.removeEventListener('abort', stop);
  }
}
