import type { TaskSpec } from '../driver.ts';
import { taskLabelMap } from '../driver.ts';

/** Options that shape a container beyond the task itself. */
export interface ContainerSpecOptions {
  networkName: string;
  /**
   * The node's clock per core, in MHz. Berth sizes CPU in MHz like Nomad; Docker limits in
   * CPUs (`NanoCpus`, 1e9 per CPU), so NanoCpus = cpuMhz / cpuMhzPerCore × 1e9. With the
   * default of 1000, a task asking for 500 MHz gets half a core.
   */
  cpuMhzPerCore: number;
  /**
   * The cluster's identity, stamped as `berth.cluster` so that two clusters sharing one
   * Docker Engine (staging and production, or test clusters) never list, adopt or remove
   * each other's containers (node ids alone repeat across clusters).
   */
  cluster?: string;
}

/** The label that scopes containers to one cluster (see ContainerSpecOptions.cluster). */
export const clusterLabelKey = 'berth.cluster';

/** Docker refuses a NanoCpus below 0.01 CPU. */
const nanoCpusMin = 10_000_000;

/** NanoCpus for a task's MHz; 0 (no limit) when the task asks for none. */
export function nanoCpusOf(cpuMhz: number, cpuMhzPerCore: number): number {
  if (cpuMhz <= 0) return 0;
  return Math.max(nanoCpusMin, Math.round((cpuMhz / cpuMhzPerCore) * 1e9));
}

/**
 * The body of `POST /containers/create` for a task. Secrets travel as environment
 * variables only: never as labels, which any `docker ps` shows and Berth copies into its
 * own state. `Init` runs docker-init as PID 1 so SIGTERM reaches the task's process (PID 1
 * ignores signals it has no handler for) and zombies are reaped.
 */
function labelsOf(task: TaskSpec, cluster: string | undefined): Record<string, string> {
  const labels = taskLabelMap(task);
  if (cluster !== undefined) labels[clusterLabelKey] = cluster;
  return labels;
}

export function containerCreateBody(task: TaskSpec, options: ContainerSpecOptions) {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of Object.values(task.ports)) {
    const key = `${port.container}/tcp`;
    exposed[key] = {};
    bindings[key] = [
      ...(bindings[key] ?? []),
      { HostIp: task.hostAddress, HostPort: String(port.host) },
    ];
  }
  const env = { ...task.env, ...task.secretEnv };
  return {
    Image: task.image,
    ...(task.command.length > 0 ? { Cmd: task.command } : {}),
    ...(task.workdir ? { WorkingDir: task.workdir } : {}),
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: labelsOf(task, options.cluster),
    ExposedPorts: exposed,
    HostConfig: {
      Init: true,
      NetworkMode: options.networkName,
      PortBindings: bindings,
      NanoCpus: nanoCpusOf(task.resources.cpuMhz, options.cpuMhzPerCore),
      Memory: Math.max(0, Math.round(task.resources.memoryMb * 1024 * 1024)),
      Mounts: task.volumes.map((volume) => ({
        Type: 'volume',
        Source: volume.name,
        Target: volume.target,
        ReadOnly: volume.readOnly ?? false,
      })),
      RestartPolicy: { Name: 'no' },
    },
  };
}
