/**
 * `auto_promote`: when the deployment watcher promotes a deployment's canaries by itself
 * (Nomad's auto_promote). Pure: the watcher passes the spec, the deployment row, the
 * job's allocations and its own `nowMs`, and proposes `deployment_promoted` on true.
 * The types are structural so the normalised spec and the state rows fit as they are.
 */

export interface AutoPromoteSpec {
  count: number;
  update: { canary: number; autoPromote: boolean; minHealthyTimeMs: number };
}

export interface AutoPromoteDeployment {
  jobVersion: number;
  status: string;
  promoted: boolean;
}

export interface AutoPromoteAllocation {
  jobVersion: number;
  desiredStatus: string;
  clientStatus: string;
  /** When the allocation last changed; for a healthy one, when it became healthy. */
  modifiedAtMs: number;
}

/**
 * True when a running, unpromoted canary deployment of an `auto_promote` job has all its
 * canaries placed (min(canary, count) allocations of the deployment's version desired to
 * run) and every one of them healthy for at least `minHealthyTimeMs`. Any unhealthy or
 * failed canary keeps it unpromoted; the watcher's deadline judges that case.
 */
export function shouldAutoPromote(
  spec: AutoPromoteSpec,
  deployment: AutoPromoteDeployment,
  allocations: readonly AutoPromoteAllocation[],
  nowMs: number,
): boolean {
  if (!spec.update.autoPromote || spec.update.canary <= 0) return false;
  if (deployment.status !== 'running' || deployment.promoted) return false;
  const canaries = allocations.filter(
    (a) => a.jobVersion === deployment.jobVersion && a.desiredStatus === 'run',
  );
  const wanted = Math.min(spec.update.canary, spec.count);
  if (canaries.length < wanted || canaries.length === 0) return false;
  return canaries.every(
    (a) => a.clientStatus === 'healthy' && nowMs - a.modifiedAtMs >= spec.update.minHealthyTimeMs,
  );
}
