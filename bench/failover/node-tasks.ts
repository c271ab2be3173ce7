/**
 * Kills the tasks a node runs, so a node kill in the bench is a machine dying and not
 * only its agent: agents leave their tasks running on purpose (a restarted agent adopts
 * them), so `kill -9` of the agent alone would leave its replicas serving, and routers
 * elsewhere would never meet a dead upstream.
 *
 * Exec tasks are found by the exec driver's state files (pid and /proc start time, so a
 * reused pid is never signalled) and killed by process group; Docker containers by their
 * `berth.node` label and the bench's own image, on the one Docker Engine every bench node
 * shares. The image matters: node ids are 1, 2, 3… in every cluster, so other Berth
 * clusters on this machine (tests) label their containers `berth.node=1` too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isSameLiveProcess } from '../../src/drivers/exec/proc.ts';
import { listRecordNames, readRecord } from '../../src/drivers/exec/state-file.ts';

/** Tasks one node may hold that the kill looks at (a bound; the bench runs two). */
const nodeTasksMax = 100;
/** Bound of one Docker API call, ms. */
const dockerCallTimeoutMs = 10_000;
const dockerSocket = '/var/run/docker.sock';

/** SIGKILLs every live exec task recorded under `dataDir`; returns the tasks' names. */
export function killExecTasks(dataDir: string): string[] {
  const dir = join(dataDir, 'exec');
  if (!existsSync(dir)) return [];
  const killed: string[] = [];
  for (const name of listRecordNames(dir, nodeTasksMax)) {
    const record = readRecord(dir, name);
    if (!record || record.exitCode !== undefined) continue;
    if (!isSameLiveProcess(record.pid, record.startTicks)) continue;
    try {
      // The task leads its own process group: the whole group dies, as with the machine.
      process.kill(-record.pid, 'SIGKILL');
      killed.push(name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  return killed;
}

async function dockerCall(method: string, path: string): Promise<Response> {
  return fetch(`http://docker${path}`, {
    method,
    unix: dockerSocket,
    signal: AbortSignal.timeout(dockerCallTimeoutMs),
  } as RequestInit);
}

interface ContainerRow {
  Id: string;
  Names?: string[];
}

/** Containers of `image`, running or not, optionally only those labelled `berth.node=<nodeId>`. */
async function containersOf(
  image: string,
  nodeId?: string,
  running = false,
): Promise<ContainerRow[]> {
  const filters = JSON.stringify({
    ancestor: [image],
    ...(nodeId === undefined ? {} : { label: [`berth.node=${nodeId}`] }),
    ...(running ? { status: ['running'] } : {}),
  });
  const res = await dockerCall(
    'GET',
    `/containers/json?all=${!running}&filters=${encodeURIComponent(filters)}`,
  );
  if (!res.ok) throw new Error(`docker list of ${image}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as ContainerRow[]).slice(0, nodeTasksMax);
}

/** SIGKILLs node `nodeId`'s running containers of `image`; returns their names. */
export async function killDockerTasks(nodeId: string, image: string): Promise<string[]> {
  const rows = await containersOf(image, nodeId, true);
  const killed: string[] = [];
  for (const row of rows) {
    const kill = await dockerCall('POST', `/containers/${row.Id}/kill?signal=SIGKILL`);
    await kill.text();
    // 409: it stopped on its own meanwhile; anything else is a broken bench.
    if (!kill.ok && kill.status !== 409) throw new Error(`docker kill ${row.Id}: ${kill.status}`);
    if (kill.ok) killed.push(row.Names?.[0]?.replace(/^\//, '') ?? row.Id.slice(0, 12));
  }
  return killed;
}

/** Force-removes every container of `image` (the bench's own, whatever node ran it). */
export async function removeContainersOf(image: string): Promise<number> {
  const rows = await containersOf(image);
  for (const row of rows)
    await (await dockerCall('DELETE', `/containers/${row.Id}?force=true`)).text();
  return rows.length;
}
