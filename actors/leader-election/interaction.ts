/**
 * The scripted interaction runner (learned from etcd-io/raft's datadriven tests): a tiny
 * interpreter for commands like `campaign 1` or `stabilize` over an in-memory cluster,
 * printing a deterministic transcript. test/raft-script.test.ts runs the scripts in
 * test/data/raft/*.txt and compares each command's output with the golden text after
 * its `----` line.
 */
import { assert } from '../../src/core/assert.ts';
import type { RaftConfig } from './config.ts';
import {
  addNode,
  canTalk,
  createCluster,
  node,
  stabilizeRoundsMax,
  type TestCluster,
} from './test-cluster.ts';
import type { ConfChange, Entry, NodeId, RaftMessage, Ready } from './types.ts';

export interface Interaction {
  cluster: TestCluster | null;
}

export function createInteraction(): Interaction {
  return { cluster: null };
}

interface Command {
  name: string;
  positional: string[];
  options: Map<string, string>;
}

/** Parses `name a b key=value key=(1,2)` into positional arguments and options. */
export function parseCommand(line: string): Command {
  const tokens = line.trim().match(/[^\s=]+=\([^)]*\)|\([^)]*\)|\S+/g) ?? [];
  const [name = '', ...rest] = tokens;
  const positional: string[] = [];
  const options = new Map<string, string>();
  for (const t of rest) {
    const eq = t.indexOf('=');
    if (eq > 0 && !t.startsWith('(')) options.set(t.slice(0, eq), t.slice(eq + 1));
    else positional.push(t);
  }
  return { name, positional, options };
}

function ids(list: string | undefined): NodeId[] {
  if (!list) return [];
  return list
    .replace(/[()]/g, '')
    .split(',')
    .filter((x) => x.trim() !== '')
    .map((x) => Number(x.trim()));
}

function num(value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : Number(value);
}

type Handler = (c: TestCluster, cmd: Command, out: string[]) => void;

const nodeArg = (cmd: Command, i: number): NodeId => Number(cmd.positional[i]);
const nodesOr = (c: TestCluster, cmd: Command): NodeId[] =>
  cmd.positional.length > 0 ? cmd.positional.map(Number) : [...c.nodes.keys()];

/** The script commands other than add-nodes, each printing into `out`. */
const commands: Record<string, Handler> = {
  campaign: (c, cmd) => node(c, nodeArg(cmd, 0)).raft.campaign(),
  tick: (c, cmd) => {
    for (let i = 0; i < num(cmd.options.get('n'), 1); i++) node(c, nodeArg(cmd, 0)).raft.tick();
  },
  'tick-all': (c, cmd, out) => tickAllCommand(c, num(cmd.options.get('n'), 1), out),
  propose: (c, cmd, out) => {
    out.push(formatResult(node(c, nodeArg(cmd, 0)).raft.propose(cmd.positional[1] ?? '')));
  },
  'propose-conf-change': (c, cmd, out) => {
    const cc = { op: cmd.positional[1], node: nodeArg(cmd, 2) } as ConfChange;
    out.push(formatResult(node(c, nodeArg(cmd, 0)).raft.proposeConfChange(cc)));
  },
  'read-index': (c, cmd, out) => {
    out.push(formatResult(node(c, nodeArg(cmd, 0)).raft.readIndex(cmd.positional[1] ?? '')));
  },
  'transfer-leadership': (c, cmd) => {
    node(c, nodeArg(cmd, 0)).raft.transferLeadership(nodeArg(cmd, 1));
  },
  'process-ready': (c, cmd, out) => {
    for (const id of nodesOr(c, cmd)) processReadyLogged(c, id, out);
  },
  deliver: (c, cmd, out) => {
    deliverLogged(c, ids(cmd.options.get('drop')), out);
  },
  stabilize: (c, _cmd, out) => stabilizeLogged(c, out),
  partition: (c, cmd) => {
    c.partitions = cmd.positional.map(ids);
  },
  heal: (c) => {
    c.partitions = [];
  },
  crash: (c, cmd) => {
    const id = nodeArg(cmd, 0);
    node(c, id).down = true;
    c.queue = c.queue.filter((m) => m.to !== id);
  },
  recover: (c, cmd) => {
    node(c, nodeArg(cmd, 0)).down = false;
  },
  compact: (c, cmd, out) => compact(c, nodeArg(cmd, 0), out),
  status: (c, cmd, out) => {
    for (const id of nodesOr(c, cmd)) out.push(formatStatus(c, id));
  },
  'raft-log': (c, cmd, out) => raftLog(c, nodeArg(cmd, 0), out),
  applied: (c, cmd, out) => {
    const id = nodeArg(cmd, 0);
    out.push(`${id}: ${JSON.stringify(node(c, id).appliedData)}`);
  },
};

/** Runs one command and returns its transcript (never empty: "ok" when silent). */
export function runCommand(it: Interaction, line: string): string {
  const cmd = parseCommand(line);
  const out: string[] = [];
  if (cmd.name === 'add-nodes') {
    addNodes(it, cmd, out);
    return finish(out);
  }
  assert(it.cluster, 'add-nodes must come first');
  const handler = commands[cmd.name];
  if (!handler) throw new Error(`unknown command: ${cmd.name}`);
  handler(it.cluster, cmd, out);
  return finish(out);
}

function finish(out: string[]): string {
  return out.length === 0 ? 'ok' : out.join('\n');
}

function addNodes(it: Interaction, cmd: Command, out: string[]): void {
  assert(it.cluster === null, 'add-nodes runs once per script');
  const count = Number(cmd.positional[0]);
  const all = Array.from({ length: count }, (_, i) => i + 1);
  const voters = cmd.options.has('voters') ? ids(cmd.options.get('voters')) : all;
  const learners = ids(cmd.options.get('learners'));
  const o = cmd.options;
  const tweak = (x: RaftConfig): RaftConfig => ({
    ...x,
    electionTicks: num(o.get('election'), x.electionTicks),
    heartbeatTicks: num(o.get('heartbeat'), x.heartbeatTicks),
    preVote: o.has('prevote') ? o.get('prevote') === 'true' : x.preVote,
    checkQuorum: o.has('checkquorum') ? o.get('checkquorum') === 'true' : x.checkQuorum,
    maxInflightMsgs: num(o.get('inflight'), x.maxInflightMsgs),
    maxEntriesPerMsg: num(o.get('batch'), x.maxEntriesPerMsg),
    maxUncommittedEntries: num(o.get('uncommitted'), x.maxUncommittedEntries),
    snapshotChunkBytes: num(o.get('chunk'), x.snapshotChunkBytes),
  });
  const members = new Set([...voters, ...learners]);
  const c = createCluster({ voters, learners, seed: num(o.get('seed'), 1), config: tweak });
  // Nodes beyond the initial membership join later with an empty configuration.
  for (const id of all) if (!members.has(id)) addNode(c, id, { voters: [], learners: [] });
  it.cluster = c;
  for (const id of c.nodes.keys()) out.push(formatStatus(c, id));
}

function tickAllCommand(c: TestCluster, ticks: number, out: string[]): void {
  for (let i = 0; i < ticks; i++) {
    for (const n of c.nodes.values()) if (!n.down) n.raft.tick();
    stabilizeLogged(c, out);
  }
}

function processReadyLogged(c: TestCluster, id: NodeId, out: string[]): boolean {
  const n = node(c, id);
  if (n.down || !n.raft.hasReady()) return false;
  const rd = n.raft.ready();
  out.push(`> ${id} handling Ready`);
  out.push(...formatReady(rd).map((l) => `  ${l}`));
  if (rd.snapshot) {
    n.storage.applySnapshot(rd.snapshot);
    n.snapshotsInstalled.push(rd.snapshot);
  }
  n.storage.append(rd.entries);
  if (rd.hardState) n.storage.setHardState(rd.hardState);
  c.queue.push(...rd.messages);
  for (const e of rd.committedEntries) {
    n.applied.push(e);
    if (e.kind === 'normal') n.appliedData.push(e.data);
  }
  n.readStates.push(...rd.readStates);
  n.raft.advance(rd);
  return true;
}

function deliverLogged(c: TestCluster, dropTo: NodeId[], out: string[]): number {
  const batch = c.queue;
  c.queue = [];
  let count = 0;
  for (const m of batch) {
    const target = c.nodes.get(m.to);
    let why = '';
    if (!target || target.down) why = 'down';
    else if (dropTo.includes(m.to)) why = 'dropped';
    else if (!canTalk(c, m.from, m.to)) why = 'partitioned';
    if (why !== '' || !target) {
      out.push(`${why}: ${formatMessage(m)}`);
      continue;
    }
    target.raft.step(m);
    count++;
  }
  return count;
}

function stabilizeLogged(c: TestCluster, out: string[]): void {
  for (let round = 0; round < stabilizeRoundsMax; round++) {
    let readied = false;
    for (const id of c.nodes.keys()) readied = processReadyLogged(c, id, out) || readied;
    const hadQueue = c.queue.length > 0;
    if (hadQueue) deliverLogged(c, [], out);
    if (!readied && !hadQueue) return;
  }
  assert(false, 'stabilize did not converge');
}

function compact(c: TestCluster, id: NodeId, out: string[]): void {
  const n = node(c, id);
  const st = n.raft.status();
  const data = new TextEncoder().encode(JSON.stringify(n.appliedData));
  n.storage.createSnapshot(st.applied, st.conf, data);
  n.storage.compact(st.applied);
  out.push(`${id}: snapshot at ${st.applied}, first index now ${n.storage.firstIndex()}`);
}

function raftLog(c: TestCluster, id: NodeId, out: string[]): void {
  const n = node(c, id);
  const first = n.storage.firstIndex();
  const entries = n.storage.entries(first, n.storage.lastIndex() + 1);
  if (entries.length === 0) out.push(`log is empty: first index=${first}`);
  for (const e of entries) out.push(formatEntry(e));
}

function formatStatus(c: TestCluster, id: NodeId): string {
  const n = node(c, id);
  const st = n.raft.status();
  const down = n.down ? ' (down)' : '';
  const learners = st.conf.learners.length > 0 ? ` learners=(${st.conf.learners.join(',')})` : '';
  const retired = st.conf.retired ? ` retired=(${st.conf.retired.join(',')})` : '';
  return (
    `${id}: ${st.role}${down} term=${st.term} lead=${st.leaderId} commit=${st.commit} ` +
    `applied=${st.applied} last=${st.lastIndex} voters=(${st.conf.voters.join(',')})${learners}${retired}`
  );
}

function formatResult(r: object): string {
  return Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function formatReady(rd: Ready): string[] {
  const lines: string[] = [];
  if (rd.softState) lines.push(`soft: ${rd.softState.role} lead=${rd.softState.leaderId}`);
  if (rd.hardState) {
    const hs = rd.hardState;
    lines.push(
      `hard: term=${hs.term} vote=${hs.vote} commit=${hs.commit}${rd.mustSync ? ' sync' : ''}`,
    );
  }
  if (rd.snapshot) {
    const m = rd.snapshot.meta;
    lines.push(`snapshot: index=${m.index} term=${m.term} bytes=${rd.snapshot.data.length}`);
  }
  for (const e of rd.entries) lines.push(`persist: ${formatEntry(e)}`);
  for (const m of rd.messages) lines.push(`send: ${formatMessage(m)}`);
  for (const e of rd.committedEntries) lines.push(`apply: ${formatEntry(e)}`);
  for (const r of rd.readStates) lines.push(`read: ${r.requestId} at ${r.index}`);
  return lines;
}

export function formatEntry(e: Entry): string {
  if (e.kind === 'noop') return `${e.index}/${e.term} noop`;
  if (e.kind === 'config') {
    const cc = JSON.parse(e.data) as ConfChange;
    return `${e.index}/${e.term} config ${cc.op} ${cc.node}`;
  }
  return `${e.index}/${e.term} ${e.data}`;
}

export function formatMessage(m: RaftMessage): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'vote':
      return `${head}${m.pre ? ' pre' : ''}${m.transfer ? ' transfer' : ''} last=${m.lastIndex}/${m.lastTerm}`;
    case 'vote_resp':
      return `${head}${m.pre ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append': {
      const entries = m.entries.map(formatEntry).join(', ');
      return `${head} prev=${m.prevIndex}/${m.prevTerm} commit=${m.commit} [${entries}]`;
    }
    case 'append_resp':
      return m.success
        ? `${head} index=${m.index}`
        : `${head} rejected index=${m.index} hint=${m.rejectHint}/${m.rejectHintTerm}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'heartbeat_resp':
      return `${head}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'snapshot':
      return `${head} index=${m.meta.index}/${m.meta.term} offset=${m.offset} chunk=${m.chunk.length}b64${m.done ? ' done' : ''}`;
    case 'snapshot_resp':
      return `${head} index=${m.index} offset=${m.offset} ${m.success ? 'ok' : 'failed'}`;
    case 'timeout_now':
      return head;
    case 'forward':
      return `${head} data=${m.data}`;
  }
}

/** One command of a script with the output recorded after its `----` line. */
export interface ScriptCase {
  /** Comment lines that precede the command, kept when goldens are rewritten. */
  comments: string[];
  command: string;
  expected: string;
}

/** Parses a script: `# comments`, a command, `----`, the expected output, a blank line. */
export function parseScript(text: string): ScriptCase[] {
  const lines = text.split('\n');
  const cases: ScriptCase[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    i++;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    assert(lines[i] === '----', `script: expected ---- after "${line}" (line ${i})`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && (lines[i] ?? '') !== '') expected.push(lines[i++] ?? '');
    cases.push({ comments, command: line, expected: expected.join('\n') });
    comments = [];
  }
  return cases;
}

/** Renders cases back into script text with the given outputs (for UPDATE=1). */
export function renderScript(cases: ScriptCase[], outputs: string[]): string {
  return `${cases
    .map((c, i) => [...c.comments, c.command, '----', outputs[i] ?? ''].join('\n'))
    .join('\n\n')}\n`;
}
