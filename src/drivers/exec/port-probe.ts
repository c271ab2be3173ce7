/**
 * Whether `port` on `address` can be bound right now. An exec task binds its host port
 * itself, so the driver checks first and answers port_in_use instead of starting a task
 * that would fail to bind. A free answer can go stale at once (another process may bind in
 * between); the check catches the common case of a stuck or duplicate task.
 */
export async function probeHostPort(address: string, port: number): Promise<boolean> {
  try {
    const listener = Bun.listen({
      hostname: address,
      port,
      socket: { data() {} },
    });
    listener.stop(true);
    return true;
  } catch {
    return false;
  }
}
