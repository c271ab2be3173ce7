/**
 * Docker Engine access for the e2e tests, over /var/run/docker.sock: whether Docker is
 * there, a derived test image, and the last-resort removal of a job's containers.
 *
 * The derived image exists because a job spec cannot give a Docker task a command (`image`
 * and `command` are exclusive, and the driver runs the image's own CMD), while
 * `berth-test/busybox:1` only runs `/bin/sh`. The test therefore commits a copy of it
 * whose CMD serves /www with busybox httpd — locally, without any registry.
 */
/** The Docker socket; BERTH_E2E_DOCKER_SOCKET overrides it (to check the skip/fail path). */
const socketPath = process.env.BERTH_E2E_DOCKER_SOCKET ?? '/var/run/docker.sock';
/** One Docker API call, in ms. */
const dockerCallTimeoutMs = 10_000;
/** Containers of one job the cleanup removes. */
const leftoverContainersMax = 100;

/** The base image the tests derive from (already present on the machine). */
export const baseImage = 'berth-test/busybox:1';

async function dockerCall(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`http://docker${path}`, {
    method,
    unix: socketPath,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(dockerCallTimeoutMs),
  } as RequestInit);
}

/** Why Docker cannot be used here, or undefined when it answers and has the base image. */
export async function dockerUnavailableReason(): Promise<string | undefined> {
  try {
    const ping = await dockerCall('GET', '/_ping');
    if (!ping.ok) return `Docker at ${socketPath} answered ${ping.status} to /_ping`;
    const image = await dockerCall('GET', `/images/${baseImage}/json`);
    if (!image.ok) return `Docker has no image ${baseImage} (answered ${image.status})`;
    return undefined;
  } catch (error) {
    return `no Docker Engine at ${socketPath}: ${String(error)}`;
  }
}

/**
 * Commits `repo:tag` from the base image with `cmd` as its CMD. The temporary container is
 * created, never started, and removed again.
 */
export async function commitImage(repo: string, tag: string, cmd: string[]): Promise<string> {
  const created = await dockerCall('POST', '/containers/create', { Image: baseImage });
  if (!created.ok) throw new Error(`docker create: ${created.status} ${await created.text()}`);
  const { Id: id } = (await created.json()) as { Id: string };
  try {
    const query = new URLSearchParams({
      container: id,
      repo,
      tag,
      changes: `CMD ${JSON.stringify(cmd)}`,
    });
    const committed = await dockerCall('POST', `/commit?${query}`);
    if (!committed.ok)
      throw new Error(`docker commit: ${committed.status} ${await committed.text()}`);
  } finally {
    await dockerCall('DELETE', `/containers/${id}?force=true`);
  }
  return `${repo}:${tag}`;
}

/** Removes an image; errors are ignored (cleanup). */
export async function removeImage(image: string): Promise<void> {
  try {
    await dockerCall('DELETE', `/images/${image}?force=true`);
  } catch {
    // Cleanup only: a leftover image is harmless.
  }
}

/** Force-removes every container labelled `berth.job=<job>`; returns their ids. */
export async function removeJobContainers(job: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`berth.job=${job}`] });
  const res = await dockerCall(
    'GET',
    `/containers/json?all=true&filters=${encodeURIComponent(filters)}`,
  );
  if (!res.ok) return [];
  const rows = ((await res.json()) as { Id: string }[]).slice(0, leftoverContainersMax);
  for (const row of rows) await dockerCall('DELETE', `/containers/${row.Id}?force=true`);
  return rows.map((r) => r.Id);
}
