/**
 * Bytes a socket did not take at once wait in a queue, in order, until its `drain`. One
 * loop for every writer in the router (client answers, upstream requests, tunnels), so a
 * partial write is handled the same way everywhere. Strings in a queue are ASCII (their
 * length is their byte count).
 */

/** What a queue holds: ASCII text or bytes. */
export type QueuedPiece = string | Uint8Array;

/** The part of a socket this needs: Bun's `write` answers bytes taken, or -1 when closed. */
export interface WritableSocket {
  write(data: QueuedPiece): number;
}

/**
 * Writes `queue` from its head while the socket takes whole pieces; a piece taken in part
 * stays at the head with its rest. Returns the bytes written, or -1 when the socket is
 * closed. The queue is empty afterwards exactly when everything was written.
 */
export function flushQueue(socket: WritableSocket, queue: QueuedPiece[]): number {
  let total = 0;
  while (queue.length > 0) {
    const piece = queue[0]!;
    const written = socket.write(piece);
    if (written < 0) return -1;
    total += written;
    const size = typeof piece === 'string' ? piece.length : piece.byteLength;
    if (written < size) {
      queue[0] = typeof piece === 'string' ? piece.slice(written) : piece.subarray(written);
      return total;
    }
    queue.shift();
  }
  return total;
}
