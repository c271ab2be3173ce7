/**
 * Free TCP ports for tests that hand a port to another process (an agent, Pebble, a
 * container) which binds it later. Binding port 0 and closing it returns a port from the
 * kernel's ephemeral range, where any outgoing connection may take it as its source port
 * before the other process binds it: a five-node cluster test failed that way in CI (an
 * agent's peer port was taken between the pick and the listen). These ports come from
 * below that range, which outgoing connections never use, and are checked free by
 * binding them. A port is handed out once per process.
 */
import { readFileSync } from 'node:fs';

/** The lowest port picked: above the well-known and commonly configured ones. */
const portLow = 10_000;
/** Picks tried per port before giving up. */
const attemptsPerPort = 200;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > portLow + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

const portHigh = ephemeralLow();

/** `count` distinct ports free on 127.0.0.1 now, none handed out before by this process. */
export function freePorts(count: number): number[] {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt >= attemptsPerPort * count) {
      throw new Error(`no free port found in ${portLow}-${portHigh - 1} after ${attempt} tries`);
    }
    const port = portLow + Math.floor(Math.random() * (portHigh - portLow));
    if (handedOut.has(port)) continue;
    try {
      Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } }).stop(true);
    } catch {
      continue;
    }
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}

/** One port free on 127.0.0.1 now (see freePorts). */
export function freePort(): number {
  return freePorts(1)[0]!;
}
