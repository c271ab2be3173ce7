/**
 * What the failover trials need from a cluster, so Berth and etcd run the same kill
 * procedure and the same client-side measurement. Node indexes are 0-based.
 */
export interface FailoverTarget {
  /** For the report: `berth`, `etcd-default`, … */
  readonly name: string;
  readonly nodeCount: number;
  /** The index of the node every running node agrees is leader, or undefined. */
  leader(): Promise<number | undefined>;
  /** One write through node `i`; resolves true once it is committed, false on any failure. */
  write(i: number, key: string, value: string, timeoutMs: number): Promise<boolean>;
  kill9(i: number): Promise<void>;
  /** Starts node `i` again after `kill9` and resolves once it answers. */
  restart(i: number): Promise<void>;
  pid(i: number): number;
  /** Every node running and answering, one agreed leader, and the workload healthy. */
  healthy(): Promise<boolean>;
  /** Stops every process and removes temporary files. */
  destroy(): Promise<void>;
}
