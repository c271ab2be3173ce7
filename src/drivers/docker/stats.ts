import type { DockerStats } from './schemas.ts';

/**
 * CPU use between Docker's two samples, the way `docker stats` computes it: the
 * container's share of the host's CPU time, times the online CPUs, so 100 = one core.
 */
export function cpuPercentOf(stats: DockerStats): number {
  const pre = stats.precpu_stats;
  const cpuDelta = stats.cpu_stats.cpu_usage.total_usage - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (stats.cpu_stats.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  if (!pre?.system_cpu_usage || systemDelta <= 0 || cpuDelta < 0) return 0;
  const cpus = stats.cpu_stats.online_cpus ?? 1;
  return (cpuDelta / systemDelta) * cpus * 100;
}

/** Memory in use minus reclaimable page cache (cgroup v2 `inactive_file`, v1 `cache`). */
export function memoryBytesOf(stats: DockerStats): number {
  const usage = stats.memory_stats.usage ?? 0;
  const inner = stats.memory_stats.stats ?? {};
  const cache = inner.inactive_file ?? inner.total_inactive_file ?? inner.cache ?? 0;
  return Math.max(0, usage - cache);
}
