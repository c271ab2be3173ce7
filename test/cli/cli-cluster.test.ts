import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type CliHarness, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
  h.service.record('node.registered', {
    id: 'n1',
    name: 'alpha',
    address: '10.0.0.1:4647',
    status: 'ready',
    voter: true,
  });
  h.service.record('node.registered', {
    id: 'n2',
    name: 'beta',
    address: '10.0.0.2:4647',
    status: 'down',
    voter: false,
  });
});

afterAll(async () => {
  await h.close();
});

describe('berth status', () => {
  test('prints role, leader, term, commit index and the peer table', async () => {
    // Proves the human view shows what an operator looks at first, read-only token enough.
    const r = await h.run(['status'], { token: h.tokens.read });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('node:          node-1 (leader)');
    expect(r.stdout).toContain('leader:        node-1');
    expect(r.stdout).toContain('term:          1');
    expect(r.stdout).toContain(`commit index:  ${h.service.events.commitIndex()}`);
    expect(r.stdout).toMatch(/PEER\s+ADDRESS\s+VOTER\s+LEADER\s+LAG/);
    expect(r.stdout).toMatch(/1\s+127\.0\.0\.1\s+yes\s+\*/);
  });

  test('--json parses and carries the status and peers', async () => {
    // Proves scripts get the raw fields, with lag null when the server does not report it.
    const r = await h.run(['status', '--json']);
    const body = JSON.parse(r.stdout);
    expect(body).toMatchObject({ nodeId: 'node-1', role: 'leader', leaderId: 'node-1', term: 1 });
    expect(body.commitIndex).toBe(h.service.events.commitIndex());
    expect(body.peers).toEqual([
      { id: 1, address: '127.0.0.1', voter: true, leader: true, lag: null },
    ]);
  });

  test('shows each peer’s lag when the server reports it', async () => {
    // Proves lag comes from the server's lagEntries, or from matchIndex vs the commit index.
    const original = h.service.raftPeers;
    const commit = h.service.events.commitIndex();
    h.service.raftPeers = () => [
      { id: 1, address: '10.0.0.1', voter: true, leader: true },
      { id: 2, address: '10.0.0.2', voter: true, leader: false, lagEntries: 5 } as never,
      { id: 3, address: '10.0.0.3', voter: false, leader: false, matchIndex: commit - 2 } as never,
    ];
    try {
      const r = await h.run(['status']);
      expect(r.stdout).toMatch(/2\s+10\.0\.0\.2\s+yes\s+5/);
      expect(r.stdout).toMatch(/3\s+10\.0\.0\.3\s+no\s+2/);
      const json = JSON.parse((await h.run(['status', '--json'])).stdout);
      expect(json.peers.map((p: { lag: number | null }) => p.lag)).toEqual([null, 5, 2]);
      const peers = await h.run(['raft', 'peers']);
      expect(peers.stdout).toMatch(/2\s+10\.0\.0\.2\s+yes\s+5/);
    } finally {
      h.service.raftPeers = original;
    }
  });

  test('shows no leader during an election', async () => {
    // Proves status still answers while leaderless (it is this node's own view).
    h.service.setLeaderless(true);
    try {
      const r = await h.run(['status']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('(candidate)');
      expect(r.stdout).toContain('leader:        none');
    } finally {
      h.service.setLeaderless(false);
    }
  });
});

describe('berth node', () => {
  test('ls prints a table of nodes, and --json the list', async () => {
    // Proves node ls shows each registered node with its status and voter flag.
    const human = await h.run(['node', 'ls']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/n1\s+alpha\s+10\.0\.0\.1:4647\s+ready\s+yes/);
    expect(human.stdout).toMatch(/n2\s+beta\s+10\.0\.0\.2:4647\s+down\s+no/);
    const json = JSON.parse((await h.run(['node', 'list', '--json'])).stdout);
    expect(json.map((n: { id: string }) => n.id)).toEqual(['n1', 'n2']);
  });

  test('remove calls the Raft remove-peer route and reports its refusal', async () => {
    // Proves remove goes to remove-peer: removing the only voter is a conflict (exit 1).
    const r = await h.run(['node', 'remove', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[conflict]');
    const unknown = await h.run(['node', 'remove', '7']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[peer_not_found]');
    expect(unknown.stderr).toContain('berth raft peers');
  });

  test('remove, when the cluster accepts it, prints the peer and the log index', async () => {
    // Proves the happy path sends the numeric peer id; the one-node test service can only
    // refuse, so this test stands in a two-voter answer for removePeer.
    const calls: number[] = [];
    const original = h.service.removePeer;
    h.service.removePeer = async (id: number) => {
      calls.push(id);
      return { index: 42 };
    };
    try {
      const r = await h.run(['node', 'remove', '2']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('removed peer 2 from the Raft configuration (log index 42)');
      const json = await h.run(['node', 'remove', '3', '--json']);
      expect(JSON.parse(json.stdout)).toEqual({ index: 42, removed: 3 });
      expect(calls).toEqual([2, 3]);
    } finally {
      h.service.removePeer = original;
    }
  });

  test('remove refuses a non-numeric id before calling the API', async () => {
    // Proves a node name where a peer id is expected is a usage error (exit 2).
    const r = await h.run(['node', 'remove', 'alpha']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Raft peer id');
  });

  test('remove needs an admin token', async () => {
    // Proves a deploy token cannot change membership (exit 4).
    const r = await h.run(['node', 'remove', '7'], { token: h.tokens.deploy });
    expect(r.code).toBe(4);
  });

  test('help for remove says it uses the Raft remove-peer route', async () => {
    // Proves the temporary mapping is documented where users look.
    const r = await h.run(['node', 'remove', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('remove-peer');
  });

  test('drain refuses a bad node id, and a server without draining says so; nothing changes', async () => {
    // Proves drain validates its argument and does not pretend: exit 1, stable codes, no log entry.
    const before = h.service.events.commitIndex();
    const bad = await h.run(['node', 'drain', 'n1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('[invalid_query]');
    const r = await h.run(['node', 'drain', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[not_implemented]');
    expect(h.service.events.commitIndex()).toBe(before);
  });
});

describe('berth raft', () => {
  test('peers lists the peers; --json parses', async () => {
    // Proves raft peers renders the operator route.
    const r = await h.run(['raft', 'peers']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ID\s+ADDRESS\s+VOTER\s+LEADER/);
    const json = JSON.parse((await h.run(['raft', 'peers', '--json'])).stdout);
    expect(json).toEqual([{ id: 1, address: '127.0.0.1', voter: true, leader: true }]);
  });

  test('transfer-leader, when accepted, says the transfer started', async () => {
    // Proves the happy path posts `to`; the one-node service stands in a second voter.
    const calls: number[] = [];
    const original = h.service.transferLeadership;
    h.service.transferLeadership = async (to: number) => {
      calls.push(to);
    };
    try {
      const r = await h.run(['raft', 'transfer-leader', '2']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('leadership transfer to peer 2 started');
      expect(calls).toEqual([2]);
    } finally {
      h.service.transferLeadership = original;
    }
  });

  test('transfer-leader reports the server refusals with their codes', async () => {
    // Proves transfer-leader posts the target and maps already_leader / peer_not_found.
    const self = await h.run(['raft', 'transfer-leader', '1']);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('[already_leader]');
    const other = await h.run(['raft', 'transfer-leader', '3']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('[peer_not_found]');
    const bad = await h.run(['raft', 'transfer-leader', '-1']);
    expect(bad.code).toBe(2);
  });
});
