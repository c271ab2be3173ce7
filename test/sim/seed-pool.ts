/**
 * Runs a seed sweep on worker threads (one per core, at most `seedWorkersMax`), so the
 * 2,000-seed test uses the machine's two cores. Each worker takes every k-th seed; the
 * results are summed here. A seed's outcome does not depend on which worker ran it.
 */
import type { RaftSimOptions } from '../../src/sim/raft-sim.ts';
import type { SweepRequest, SweepSummary } from './seed-worker.ts';

/** More workers than this would only add memory; the sweep is CPU-bound. */
const seedWorkersMax = 4;

export async function runSeedsInWorkers(
  first: number,
  last: number,
  options: RaftSimOptions,
): Promise<SweepSummary> {
  const workers = Math.max(1, Math.min(seedWorkersMax, navigator.hardwareConcurrency || 1));
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, k) =>
      runWorker({ first: first + k, last, stride: workers, options }),
    ),
  );
  return parts.reduce((sum, p) => ({
    ran: sum.ran + p.ran,
    failures: [...sum.failures, ...p.failures],
    seedsWithAcks: sum.seedsWithAcks + p.seedsWithAcks,
    seedsWithConfChanges: sum.seedsWithConfChanges + p.seedsWithConfChanges,
    seedsWithCrashes: sum.seedsWithCrashes + p.seedsWithCrashes,
  }));
}

function runWorker(request: SweepRequest): Promise<SweepSummary> {
  const worker = new Worker(new URL('./seed-worker.ts', import.meta.url).href);
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<SweepSummary>) => {
      resolve(event.data);
      worker.terminate();
    };
    worker.onerror = (event) => {
      reject(new Error(`seed worker failed: ${event.message}`));
      worker.terminate();
    };
    worker.postMessage(request);
  });
}
