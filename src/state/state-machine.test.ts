import { describe, expect, test } from 'bun:test';
import { limits } from '../core/limits.ts';
import {
  activeDeploymentOf,
  findJoinTokenByHash,
  findTokenByHash,
  getAllocation,
  getJob,
  getNode,
  getSealedSecret,
  getStatePosition,
  jobHistory,
  listAllocations,
  listDeployments,
  listEvaluations,
  listNodes,
  listRejectedEntries,
  listSecrets,
  listTokens,
} from './queries.ts';
import {
  fakeHash,
  jobRegistered,
  nodeRegistered,
  openTestState,
  placement,
  planCommitted,
  type TestState,
} from './testing.ts';

function rejections(state: TestState) {
  return listRejectedEntries(state.db).map((r) => ({ index: r.logIndex, code: r.code }));
}

/** Two nodes and job `web` v1 with allocations a1 (node n1) and a2 (node n2). */
function withPlacedJob(): TestState {
  const state = openTestState();
  state.submit('node_registered', nodeRegistered('n1'));
  state.submit('node_registered', nodeRegistered('n2'));
  state.submit('job_registered', jobRegistered('web'));
  state.submit(
    'plan_committed',
    planCommitted({
      place: [placement('a1', 'n1'), placement('a2', 'n2')],
      deployment: { id: 'd1' },
    }),
  );
  return state;
}

describe('nodes', () => {
  test('node_registered stores the node up and re-registration refreshes it', () => {
    // Proves registration creates an `up` node and a second one updates fields but keeps registeredAtMs.
    const state = openTestState();
    state.submit('node_registered', nodeRegistered('n1', { labels: { b: '2', a: '1' } }));
    state.submit('node_status', { id: 'n1', status: 'down', atMs: 1_500 });
    state.submit(
      'node_registered',
      nodeRegistered('n1', { address: '10.0.0.9:7000', atMs: 5_000, role: 'voter' }),
    );
    const node = getNode(state.db, 'n1');
    expect(node).toMatchObject({
      id: 'n1',
      address: '10.0.0.9:7000',
      role: 'voter',
      status: 'up',
      registeredAtMs: 1_000,
      statusChangedAtMs: 5_000,
      resources: { cpuMhz: 4000, memoryMb: 8192 },
      modifyIndex: 3,
    });
    expect(node?.labels).toEqual({ zone: 'a', disk: 'ssd' });
  });

  test('node_status changes the status, keeps the transition time on repeats, rejects unknown nodes', () => {
    // Proves status transitions, that a repeated status does not move statusChangedAtMs, and node_unknown.
    const state = openTestState();
    state.submit('node_registered', nodeRegistered('n1'));
    state.submit('node_status', { id: 'n1', status: 'draining', atMs: 2_000 });
    state.submit('node_status', { id: 'n1', status: 'draining', atMs: 3_000 });
    expect(getNode(state.db, 'n1')).toMatchObject({ status: 'draining', statusChangedAtMs: 2_000 });
    const entry = state.submit('node_status', { id: 'ghost', status: 'down', atMs: 4_000 });
    expect(rejections(state)).toEqual([{ index: entry.index, code: 'node_unknown' }]);
  });

  test('node_removed deletes the node and marks its live allocations lost', () => {
    // Proves removal takes the node out and turns its non-terminal allocations lost/stop, leaving others.
    const state = withPlacedJob();
    state.submit('allocation_status', { id: 'a2', status: 'running', detail: '', atMs: 3_100 });
    state.submit('node_removed', { id: 'n1', atMs: 4_000 });
    expect(listNodes(state.db).map((n) => n.id)).toEqual(['n2']);
    expect(getAllocation(state.db, 'a1')).toMatchObject({
      clientStatus: 'lost',
      desiredStatus: 'stop',
      modifiedAtMs: 4_000,
    });
    expect(getAllocation(state.db, 'a2')).toMatchObject({
      clientStatus: 'running',
      desiredStatus: 'run',
    });
    state.submit('node_removed', { id: 'n1', atMs: 5_000 });
    expect(rejections(state).map((r) => r.code)).toEqual(['node_unknown']);
  });
});

describe('jobs', () => {
  test('job_registered assigns version previous + 1 and keeps the history', () => {
    // Proves apply-assigned versions, the current spec, and jobHistory newest first.
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web', { spec: { image: 'v1' } }));
    state.submit('job_registered', jobRegistered('web', { spec: { image: 'v2' }, atMs: 9_000 }));
    expect(getJob(state.db, 'web')).toMatchObject({
      version: 2,
      status: 'running',
      spec: { image: 'v2' },
      submittedAtMs: 9_000,
    });
    expect(jobHistory(state.db, 'web').map((v) => [v.version, v.spec.image])).toEqual([
      [2, 'v2'],
      [1, 'v1'],
    ]);
  });

  test('expectedVersion is a check-and-set', () => {
    // Proves a stale expectedVersion is rejected as job_version_conflict and a matching one applies.
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web', { expectedVersion: 0 }));
    const stale = state.submit('job_registered', jobRegistered('web', { expectedVersion: 0 }));
    state.submit('job_registered', jobRegistered('web', { expectedVersion: 1 }));
    expect(getJob(state.db, 'web')?.version).toBe(2);
    expect(rejections(state)).toEqual([{ index: stale.index, code: 'job_version_conflict' }]);
  });

  test('job history is bounded', () => {
    // Proves only limits.stateJobVersionsKeptMax versions are kept while the version keeps counting.
    const state = openTestState();
    const total = limits.stateJobVersionsKeptMax + 3;
    for (let i = 1; i <= total; i++)
      state.submit('job_registered', jobRegistered('web', { spec: { i } }));
    const history = jobHistory(state.db, 'web');
    expect(history.length).toBe(limits.stateJobVersionsKeptMax);
    expect(history[0]?.version).toBe(total);
    expect(history.at(-1)?.version).toBe(total - limits.stateJobVersionsKeptMax + 1);
  });

  test('job_stopped stops a job, a new submission runs it again, unknown jobs are rejected', () => {
    // Proves the stopped status, the restart by resubmission, and job_unknown.
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web'));
    state.submit('job_stopped', { id: 'web', atMs: 3_000 });
    expect(getJob(state.db, 'web')?.status).toBe('stopped');
    state.submit('job_registered', jobRegistered('web'));
    expect(getJob(state.db, 'web')).toMatchObject({ status: 'running', version: 2 });
    state.submit('job_stopped', { id: 'nope', atMs: 3_000 });
    expect(rejections(state).map((r) => r.code)).toEqual(['job_unknown']);
  });
});

describe('plans, allocations, deployments', () => {
  test('plan_committed places allocations and opens a deployment', () => {
    // Proves placed rows (pending/run, plan fields, ports) and the created deployment.
    const state = withPlacedJob();
    expect(listAllocations(state.db, { jobId: 'web' }).map((a) => a.id)).toEqual(['a1', 'a2']);
    expect(getAllocation(state.db, 'a1')).toMatchObject({
      evalId: 'e1',
      jobVersion: 1,
      nodeId: 'n1',
      groupName: 'web',
      deploymentId: 'd1',
      clientStatus: 'pending',
      desiredStatus: 'run',
      ports: { http: 8080 },
      resources: { cpuMhz: 500, memoryMb: 256 },
      createIndex: 4,
    });
    expect(listDeployments(state.db, { jobId: 'web' })).toMatchObject([
      { id: 'd1', jobVersion: 1, status: 'running' },
    ]);
    expect(listAllocations(state.db, { nodeId: 'n2' }).map((a) => a.id)).toEqual(['a2']);
  });

  test('plan_committed stops and updates in place', () => {
    // Proves the stop bucket sets desired stop with its reason and the update bucket moves the version.
    const state = withPlacedJob();
    state.submit('job_registered', jobRegistered('web'));
    state.submit(
      'plan_committed',
      planCommitted({
        evalId: 'e2',
        jobVersion: 2,
        stop: [{ id: 'a1', reason: 'replaced' }],
        update: [{ id: 'a2', jobVersion: 2 }],
        deployment: { id: 'd2' },
      }),
    );
    expect(getAllocation(state.db, 'a1')).toMatchObject({
      desiredStatus: 'stop',
      desiredReason: 'replaced',
    });
    expect(getAllocation(state.db, 'a2')).toMatchObject({
      jobVersion: 2,
      evalId: 'e2',
      deploymentId: 'd2',
    });
    expect(listAllocations(state.db, { desiredStatus: 'stop' }).map((a) => a.id)).toEqual(['a1']);
  });

  test('an inconsistent plan is rejected whole', () => {
    // Proves each decidePlan rejection reaches rejected_entries and leaves allocations untouched.
    const state = withPlacedJob();
    const before = listAllocations(state.db);
    state.submit('plan_committed', planCommitted({ jobId: 'nope' }));
    state.submit('plan_committed', planCommitted({ jobVersion: 5 }));
    state.submit(
      'plan_committed',
      planCommitted({ place: [placement('a3', 'n1'), placement('a1', 'n1')] }),
    );
    state.submit('plan_committed', planCommitted({ place: [placement('a3', 'ghost')] }));
    state.submit('plan_committed', planCommitted({ stop: [{ id: 'zz', reason: '' }] }));
    state.submit('plan_committed', planCommitted({ deployment: { id: 'd1' } }));
    state.submit('job_registered', jobRegistered('api'));
    state.submit(
      'plan_committed',
      planCommitted({ jobId: 'api', stop: [{ id: 'a1', reason: '' }] }),
    );
    expect(rejections(state).map((r) => r.code)).toEqual([
      'job_unknown',
      'job_version_unknown',
      'allocation_exists',
      'node_unknown',
      'allocation_unknown',
      'deployment_exists',
      'allocation_job_mismatch',
    ]);
    expect(listAllocations(state.db)).toEqual(before);
  });

  test('allocation_status follows the transition rules', () => {
    // Proves forward transitions apply with detail, and terminal, pending and unknown cases are rejected.
    const state = withPlacedJob();
    state.submit('allocation_status', {
      id: 'a1',
      status: 'running',
      detail: 'started',
      atMs: 4_000,
    });
    state.submit('allocation_status', {
      id: 'a1',
      status: 'healthy',
      detail: 'check ok',
      atMs: 4_100,
    });
    expect(getAllocation(state.db, 'a1')).toMatchObject({
      clientStatus: 'healthy',
      clientDetail: 'check ok',
      modifiedAtMs: 4_100,
    });
    state.submit('allocation_status', { id: 'a1', status: 'pending', detail: '', atMs: 4_200 });
    state.submit('allocation_status', {
      id: 'a2',
      status: 'failed',
      detail: 'exit 1',
      atMs: 4_300,
    });
    state.submit('allocation_status', { id: 'a2', status: 'running', detail: '', atMs: 4_400 });
    state.submit('allocation_status', { id: 'zz', status: 'running', detail: '', atMs: 4_500 });
    expect(rejections(state).map((r) => r.code)).toEqual([
      'allocation_transition_invalid',
      'allocation_terminal',
      'allocation_unknown',
    ]);
    expect(
      listAllocations(state.db, { clientStatus: ['failed', 'healthy'] }).map((a) => a.id),
    ).toEqual(['a1', 'a2']);
  });

  test('deployment_status moves to a terminal status that sticks', () => {
    // Proves running→paused→running→successful applies and later changes or unknown ids are rejected.
    const state = withPlacedJob();
    for (const status of ['paused', 'running', 'successful'] as const) {
      state.submit('deployment_status', { id: 'd1', status, detail: status, atMs: 5_000 });
    }
    state.submit('deployment_status', { id: 'd1', status: 'failed', detail: '', atMs: 6_000 });
    state.submit('deployment_status', { id: 'dx', status: 'failed', detail: '', atMs: 6_000 });
    expect(listDeployments(state.db)).toMatchObject([
      { id: 'd1', status: 'successful', detail: 'successful' },
    ]);
    expect(rejections(state).map((r) => r.code)).toEqual([
      'deployment_terminal',
      'deployment_unknown',
    ]);
  });

  test('deployment_promoted promotes an active deployment once; unknown or finished ones are rejected', () => {
    // Proves promoted starts false, becomes true (repeat harmless), and rejection codes.
    const state = withPlacedJob();
    expect(listDeployments(state.db)).toMatchObject([{ id: 'd1', promoted: false }]);
    state.submit('deployment_status', { id: 'd1', status: 'paused', detail: '', atMs: 4_000 });
    state.submit('deployment_promoted', { id: 'd1', atMs: 5_000 });
    state.submit('deployment_promoted', { id: 'd1', atMs: 5_500 });
    expect(listDeployments(state.db)).toMatchObject([
      { id: 'd1', promoted: true, status: 'paused', modifiedAtMs: 5_500 },
    ]);
    state.submit('deployment_promoted', { id: 'dx', atMs: 6_000 });
    state.submit(
      'plan_committed',
      planCommitted({ evalId: 'e2', jobVersion: 1, deployment: { id: 'd2' }, atMs: 6_000 }),
    );
    state.submit('deployment_status', { id: 'd2', status: 'failed', detail: '', atMs: 6_500 });
    state.submit('deployment_promoted', { id: 'd2', atMs: 7_000 });
    expect(listDeployments(state.db).find((d) => d.id === 'd2')).toMatchObject({
      promoted: false,
      status: 'failed',
    });
    expect(rejections(state).map((r) => r.code)).toEqual([
      'deployment_unknown',
      'deployment_terminal',
    ]);
  });
});

describe('activeDeploymentOf', () => {
  test('finds the running deployment of the current version only', () => {
    // Proves the promote lookup ignores older versions, finished deployments and unknown jobs.
    const state = withPlacedJob();
    expect(activeDeploymentOf(state.db, 'web')?.id).toBe('d1');
    expect(activeDeploymentOf(state.db, 'ghost')).toBeUndefined();
    state.submit('job_registered', jobRegistered('web', { atMs: 4_000 }));
    expect(activeDeploymentOf(state.db, 'web')).toBeUndefined();
    state.submit(
      'plan_committed',
      planCommitted({ evalId: 'e2', jobVersion: 2, deployment: { id: 'd2' }, atMs: 5_000 }),
    );
    expect(activeDeploymentOf(state.db, 'web')?.id).toBe('d2');
    state.submit('deployment_status', { id: 'd2', status: 'successful', detail: '', atMs: 6_000 });
    expect(activeDeploymentOf(state.db, 'web')).toBeUndefined();
  });
});

describe('evaluations', () => {
  test('evaluation_created and evaluation_updated follow their rules', () => {
    // Proves creation as pending, updates, duplicate ids, terminal stickiness and unknown ids.
    const state = openTestState();
    const created = {
      id: 'e1',
      jobId: 'web',
      triggeredBy: 'job-register',
      priority: 50,
      atMs: 1,
    } as const;
    state.submit('evaluation_created', created);
    state.submit('evaluation_created', created);
    state.submit('evaluation_updated', {
      id: 'e1',
      status: 'blocked',
      detail: 'no capacity',
      atMs: 2,
    });
    state.submit('evaluation_updated', { id: 'e1', status: 'complete', detail: '', atMs: 3 });
    state.submit('evaluation_updated', { id: 'e1', status: 'pending', detail: '', atMs: 4 });
    state.submit('evaluation_updated', { id: 'e9', status: 'complete', detail: '', atMs: 5 });
    expect(listEvaluations(state.db, { jobId: 'web' })).toMatchObject([
      {
        id: 'e1',
        status: 'complete',
        priority: 50,
        triggeredBy: 'job-register',
        createdAtMs: 1,
        modifiedAtMs: 3,
        nodeId: null,
      },
    ]);
    expect(listEvaluations(state.db, { status: 'pending' })).toEqual([]);
    expect(rejections(state).map((r) => r.code)).toEqual([
      'evaluation_exists',
      'evaluation_terminal',
      'evaluation_unknown',
    ]);
  });
});

describe('secrets and tokens', () => {
  test('secret_set stores ciphertext with a version; secret_removed deletes it', () => {
    // Proves versioning on replace, that listSecrets omits ciphertext, removal and secret_unknown.
    const state = openTestState();
    const sealed = { ciphertext: 'AAAA', nonce: 'BBBBBBBBBBBBBBBB', keyId: 'k1' };
    state.submit('secret_set', { name: 'DB_URL', ...sealed, atMs: 1 });
    state.submit('secret_set', { name: 'DB_URL', ...sealed, ciphertext: 'CCCC', atMs: 2 });
    expect(listSecrets(state.db)).toEqual([
      { name: 'DB_URL', keyId: 'k1', version: 2, updatedAtMs: 2 },
    ]);
    expect(getSealedSecret(state.db, 'DB_URL')).toEqual({
      ...sealed,
      ciphertext: 'CCCC',
      version: 2,
    });
    state.submit('secret_removed', { name: 'DB_URL', atMs: 3 });
    state.submit('secret_removed', { name: 'DB_URL', atMs: 4 });
    expect(listSecrets(state.db)).toEqual([]);
    expect(rejections(state).map((r) => r.code)).toEqual(['secret_unknown']);
  });

  test('tokens are found by hash, unique, and revoked once', () => {
    // Proves findTokenByHash, token_exists on id or hash reuse, revocation time, token_revoked and token_unknown.
    const state = openTestState();
    state.submit('token_created', {
      id: 't1',
      name: 'ci',
      role: 'deploy',
      hash: fakeHash('a'),
      atMs: 1,
    });
    state.submit('token_created', {
      id: 't2',
      name: 'x',
      role: 'admin',
      hash: fakeHash('a'),
      atMs: 1,
    });
    state.submit('token_created', {
      id: 't1',
      name: 'y',
      role: 'admin',
      hash: fakeHash('b'),
      atMs: 1,
    });
    expect(findTokenByHash(state.db, fakeHash('a'))).toMatchObject({
      id: 't1',
      role: 'deploy',
      revokedAtMs: null,
      expiresAtMs: null,
    });
    state.submit('token_revoked', { id: 't1', atMs: 7 });
    state.submit('token_revoked', { id: 't1', atMs: 8 });
    state.submit('token_revoked', { id: 't9', atMs: 8 });
    expect(listTokens(state.db)).toMatchObject([{ id: 't1', revokedAtMs: 7 }]);
    expect(rejections(state).map((r) => r.code)).toEqual([
      'token_exists',
      'token_exists',
      'token_revoked',
      'token_unknown',
    ]);
  });

  test('a join token admits one node, once', () => {
    // Proves single use: the second join_token_used is rejected and the first user is kept.
    const state = openTestState();
    state.submit('join_token_created', {
      id: 'j1',
      hash: fakeHash('c'),
      role: 'worker',
      expiresAtMs: 10_000,
      atMs: 1,
    });
    state.submit('join_token_used', { id: 'j1', nodeId: 'n1', atMs: 100 });
    const second = state.submit('join_token_used', { id: 'j1', nodeId: 'n2', atMs: 200 });
    expect(findJoinTokenByHash(state.db, fakeHash('c'))).toMatchObject({
      usedAtMs: 100,
      usedByNodeId: 'n1',
    });
    expect(rejections(state)).toEqual([{ index: second.index, code: 'join_token_used' }]);
  });

  test('a join token expires at the time stamped in the entry', () => {
    // Proves expiry is judged by entry.atMs (exclusive bound), plus join_token_unknown and join_token_exists.
    const state = openTestState();
    const token = {
      id: 'j1',
      hash: fakeHash('d'),
      role: 'voter',
      expiresAtMs: 10_000,
      atMs: 1,
    } as const;
    state.submit('join_token_created', token);
    state.submit('join_token_created', { ...token, id: 'j2' });
    state.submit('join_token_used', { id: 'j1', nodeId: 'n1', atMs: 10_000 });
    state.submit('join_token_used', { id: 'jx', nodeId: 'n1', atMs: 1 });
    expect(findJoinTokenByHash(state.db, fakeHash('d'))).toMatchObject({ usedAtMs: null });
    state.submit('join_token_used', { id: 'j1', nodeId: 'n1', atMs: 9_999 });
    expect(findJoinTokenByHash(state.db, fakeHash('d'))).toMatchObject({ usedAtMs: 9_999 });
    expect(rejections(state).map((r) => r.code)).toEqual([
      'join_token_exists',
      'join_token_expired',
      'join_token_unknown',
    ]);
  });
});

describe('bookkeeping', () => {
  test('state_meta and the cursor follow the applied entries', () => {
    // Proves the position is written in apply's transaction, rejected entries included.
    const state = openTestState();
    expect(getStatePosition(state.db)).toEqual({
      appliedIndex: 0,
      lastCommandIndex: 0,
      lastCommandTerm: 0,
    });
    state.submit('node_registered', nodeRegistered('n1'));
    state.submit('node_status', { id: 'ghost', status: 'down', atMs: 1 });
    expect(getStatePosition(state.db)).toEqual({
      appliedIndex: 2,
      lastCommandIndex: 2,
      lastCommandTerm: 1,
    });
  });

  test('rejected entries are bounded', () => {
    // Proves rejected_entries keeps only the newest limits.stateRejectedEntriesKeptMax rows.
    const state = openTestState();
    const total = limits.stateRejectedEntriesKeptMax + 5;
    for (let i = 0; i < total; i++) state.log.append('job_stopped', { id: 'nope', atMs: i });
    while (state.consumer.drain().status === 'more') {}
    const rows = listRejectedEntries(state.db);
    expect(rows.length).toBe(limits.stateRejectedEntriesKeptMax);
    expect(rows[0]?.logIndex).toBe(6);
    expect(rows.at(-1)?.logIndex).toBe(total);
  });
});
