/**
 * What this machine offers to allocations, as the scheduler counts it (Nomad's model):
 * CPU in MHz summed over cores, memory in MB. A configured override wins; otherwise the
 * machine is measured at init/join and the figures are registered with the node.
 */
import { cpus, totalmem } from 'node:os';

/** MHz assumed per core when the kernel reports 0 (common in VMs and containers). */
export const fallbackCoreMhz = 2_000;

export function detectResources(): { cpuMhz: number; memoryMb: number } {
  const cores = cpus();
  const cpuMhz = cores.reduce((sum, c) => sum + (c.speed > 0 ? c.speed : fallbackCoreMhz), 0);
  return { cpuMhz: Math.round(cpuMhz), memoryMb: Math.floor(totalmem() / (1024 * 1024)) };
}
