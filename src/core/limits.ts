/**
 * Every queue, map, retry loop and in-flight window has a named limit here (STYLE.md
 * rule 10). Relations between limits are asserted at load, so a bad edit fails at once.
 */
import { assert } from './assert.ts';

export const limits = {
  /** Default capacity of an actor mailbox, in messages. */
  mailboxDepthMax: 1024,
  /** Upper bound any mailbox may be configured with. */
  mailboxDepthCeiling: 65_536,
  /** Restarts allowed within `restartPeriodMs` before a supervisor escalates. */
  restartIntensityMax: 3,
  /** The window for counting restarts, in ms. */
  restartPeriodMs: 5_000,
  /** Entries a log-backed mailbox reads from the log in one batch. */
  logReadBatchMax: 256,
  /** Batches a log consumer applies per wake-up before yielding to the event loop. */
  logConsumerBatchesPerWakeMax: 16,
  /** Subscribers one committed log accepts for commit notifications. */
  logCommitListenersMax: 64,
  /** Size of one local-log entry's JSON payload, in bytes. */
  localLogEntryBytesMax: 1_048_576,
  /** Longest `ask` timeout accepted, in ms (asks are for edges; nothing waits forever). */
  askTimeoutMsMax: 60_000,
  /** Events one simulation run may process before it is declared runaway. */
  simEventsMax: 5_000_000,
  /** Messages the simulated network may hold in flight at once. */
  simInFlightMax: 100_000,
  /** Messages one actor handles back to back before yielding to the event loop (fairness, I/O). */
  actorTurnMessagesMax: 64,
  /** Timers one actor incarnation may have pending through `ctx.setTimer`. */
  actorTimersMax: 1024,
  /** Children one supervisor may hold (actors and supervisors together). */
  supervisorChildrenMax: 4096,
  /** `ask` calls waiting for a reply at once, per actor system. */
  asksInFlightMax: 10_000,
  /** Event-loop rounds `ActorSystem.settle()` waits for quiescence before giving up. */
  settleRoundsMax: 100_000,
  /** Timers and world events the simulator may hold pending besides in-flight messages. */
  simQueuedTimersMax: 10_000,
  /** Simulated nodes in one simulation run. */
  simNodesMax: 64,
  /** Trace lines kept for printing after a failed simulation run. */
  simTraceLinesMax: 2_000,
  /** Ready batches a simulated Raft node handles per event before yielding to the next event. */
  simReadyRoundsMax: 64,
  /** Client proposals a Raft simulation keeps waiting for their commit. */
  simPendingProposalsMax: 1_000,
  /** Times a simulated client tries one command while no leader is known. */
  simProposalAttemptsMax: 5,
  /** Raft messages queued per (from → to) link in the in-process transport before drops. */
  raftTransportPeerQueueMax: 4096,
  /** Recent log entries the SQLite Raft storage keeps in memory so hot reads skip the disk. */
  raftEntryCacheMax: 8192,
  /** Proposals one Raft host may have waiting for commit at once; more are refused. */
  raftPendingProposalsMax: 16_384,
  /** Ready batches one Raft host processes in a row before yielding to the event loop. */
  raftReadyRoundsMax: 64,
  /** Raft: largest per-follower append pipelining window, in messages. */
  raftInflightMsgsMax: 1024,
  /** Raft: most entries one append message may carry. */
  raftEntriesPerMsgMax: 4096,
  /** Raft: most uncommitted entries a leader may be configured to hold. */
  raftUncommittedEntriesMax: 1_000_000,
  /** Raft: committed entries handed out in one Ready. */
  raftApplyBatchMax: 1024,
  /** Raft: ReadIndex requests a leader holds while waiting for confirmation. */
  raftReadIndexPendingMax: 4096,
  /** Read barriers one Raft host holds at once (queued, confirming, or waiting for apply). */
  raftHostPendingReadsMax: 4096,
  /** A learner is promoted only when its acknowledged log trails the leader's by at most this. */
  raftPromoteLagEntriesMax: 1024,
  /** Raft: largest InstallSnapshot chunk, in bytes. */
  raftSnapshotChunkBytesMax: 16 * 1024 * 1024,
  /** Raft: largest snapshot a follower reassembles in memory, in bytes. */
  raftSnapshotBytesMax: 1024 * 1024 * 1024,
  /** Raft: messages the core may queue between two Ready calls (a bug guard). */
  raftOutboxMax: 1_000_000,
  /** Longest validity of the cluster CA certificate, in days (20 years). */
  caValidityDaysMax: 7_300,
  /** Longest validity of a node certificate, in days (rotation renews long before). */
  nodeCertValidityDaysMax: 825,
  /** Largest PEM CSR accepted for signing, in bytes. */
  csrBytesMax: 16_384,
  /** DNS names, and separately IP addresses, one node certificate may list as SANs. */
  certSanEntriesMax: 32,
  /**
   * Largest peer-transport frame body, in bytes; a bigger length prefix closes the link.
   * It must hold one largest snapshot chunk in base64 with its JSON envelope.
   */
  peerFrameBytesMax: 32 * 1024 * 1024,
  /** Raft messages one peer-transport frame carries (one batch). */
  peerBatchMessagesMax: 512,
  /** Frames one flush writes to a peer before yielding to the event loop. */
  peerFlushFramesMax: 16,
  /** Raft messages queued per peer in the TLS transport; overflow drops the oldest. */
  peerSendQueueMax: 4096,
  /** Peer sockets (authenticated or still handshaking) one TLS transport holds at once. */
  peerConnectionsMax: 1024,
  /** First reconnect delay to a peer, in ms; doubles per failure up to the cap below. */
  peerReconnectBackoffBaseMs: 50,
  /** Cap on the reconnect delay to a peer, in ms (before jitter). */
  peerReconnectBackoffCapMs: 2_000,
  /** Time a new peer socket has to finish TLS and prove its identity, in ms. */
  peerHandshakeTimeoutMs: 5_000,
  /** An idle peer link sends an empty keepalive frame this often, in ms. */
  peerKeepaliveIntervalMs: 1_000,
  /** A peer link that received nothing for this long is closed and redialled, in ms. */
  peerIdleTimeoutMs: 5_000,
  /** Time `close()` waits for peer links to finish closing before cutting them, in ms. */
  peerCloseGraceMs: 1_000,
  /** Test-only fault injection (BERTH_TEST_FAULTS_FILE): how often the faults file is re-read, in ms. */
  testFaultsPollMs: 100,
  /** Test-only fault injection: largest faults file read, in bytes; bigger counts as malformed. */
  testFaultsFileBytesMax: 16_384,
  /** Test-only fault injection: peer ids one faults-file list may name. */
  testFaultsPeersMax: 1_024,
  /** HTTP API: largest request body, in bytes; bigger bodies get 413 `body_too_large`. */
  apiBodyBytesMax: 1_048_576,
  /** HTTP API: items one list response returns (`?limit=` may ask for fewer). */
  apiListItemsMax: 1_000,
  /** HTTP API: longest a write or read barrier is held while no leader is known, in ms. */
  apiLeaderHoldMsMax: 60_000,
  /** HTTP API: attempts one held request makes before giving up (backs the time bound). */
  apiLeaderHoldAttemptsMax: 256,
  /** HTTP API: first retry delay of a held request, in ms; doubles up to the cap below. */
  apiLeaderHoldBackoffBaseMs: 25,
  /** HTTP API: cap on the retry delay of a held request, in ms. */
  apiLeaderHoldBackoffCapMs: 500,
  /** HTTP API: largest secret value accepted, in bytes of UTF-8. */
  apiSecretValueBytesMax: 65_536,
  /** Event streams (NDJSON and WebSocket together) one API server holds open at once. */
  eventStreamsMax: 256,
  /** NDJSON event stream: lines queued for one client before it must read (back-pressure). */
  eventStreamQueueLinesMax: 256,
  /** WebSocket event stream: bytes Bun may buffer for one client before sends are refused. */
  eventSocketBufferedBytesMax: 1_048_576,
  /** Event streams: a client that accepts nothing for this long is dropped, in ms. */
  eventStreamStallMsMax: 30_000,
  /** Event streams: an idle stream sends a heartbeat line this often, in ms. */
  eventHeartbeatMs: 10_000,
  /** Topics one event-stream request may filter on. */
  eventTopicsMax: 32,
  /** Metrics: metric families one registry holds. */
  metricFamiliesMax: 512,
  /** Metrics: label sets (series) one metric family holds; new sets beyond it are dropped. */
  metricLabelSetsMax: 1_000,
  /** Metrics: buckets one histogram may declare (besides +Inf). */
  metricBucketsMax: 32,
  /** Metrics: callbacks run before each scrape to refresh gauges. */
  metricCollectorsMax: 64,
  /** State commands: longest id or name (node, job, allocation, secret, token), in chars. */
  stateIdLengthMax: 256,
  /** State commands: labels one node may carry. */
  stateNodeLabelsMax: 64,
  /** State commands: allocations one plan may place, stop or update, per bucket. */
  statePlanAllocationsMax: 10_000,
  /** State commands: longest free-text detail or reason, in chars. */
  stateDetailLengthMax: 4_096,
  /** State commands: longest maintenance message a job's routes answer with, in chars. */
  stateMaintenanceMessageLengthMax: 1_024,
  /** Longest certificate chain in PEM, in characters (a leaf plus two intermediates is ~6 KB). */
  stateCertificatePemLengthMax: 65_536,
  /** ACME HTTP-01 answers stored at once (a few per order in progress). */
  stateAcmeChallengesMax: 1_000,
  /** A certificate is renewed when this fraction of its lifetime is left (Let's Encrypt advises 1/3). */
  certRenewRemainingFraction: 1 / 3,
  /** State commands: largest sealed secret (base64 ciphertext), in chars. */
  stateSecretCiphertextLengthMax: 262_144,
  /** Versions of one job the state machine keeps; older versions are pruned at apply. */
  stateJobVersionsKeptMax: 20,
  /** Rejected (no-op) entries the state machine keeps for inspection; older ones are pruned. */
  stateRejectedEntriesKeptMax: 1_000,
  /** CLI: longest wait for one API answer (writes may be held through an election), in ms. */
  cliRequestTimeoutMsMax: 90_000,
  /** CLI: longest line `berth events` buffers from the stream, in bytes; longer ends the stream. */
  cliEventLineBytesMax: 4 * 1024 * 1024,
  /** CLI: longest `berth deploy|rollback --timeout` while following a rollout, in ms (24 h). */
  cliFollowTimeoutMsMax: 86_400_000,
  /** CLI: interval between two polls of a rollout's allocations, in ms. */
  cliFollowPollMs: 500,
  /** Lines one `.env` file may hold for `berth secret import`. */
  dotenvLinesMax: 10_000,
  /** Data keys one keyring may hold (the active one plus retired ones still decrypting). */
  keyringKeysMax: 64,
  /** Job spec: largest spec file accepted, in bytes (one screen is ~2 KB). */
  specBytesMax: 262_144,
  /** Job spec: errors one parse reports; the rest are summarised in one line. */
  specErrorsMax: 50,
  /** Job spec: accessories one job may declare (each becomes its own job). */
  specAccessoriesMax: 16,
  /** Job spec: items one list or map field may hold (env, ports, routes, constraints, …). */
  specListItemsMax: 256,
  /** Job spec: nesting depth the YAML position scanner follows before it stops recording. */
  specNestingDepthMax: 32,
  /** Scheduler: times the caller re-computes and re-submits one evaluation's plan after a partial commit. */
  planRetriesMax: 3,
  /** Scheduler: largest `count` one job may ask for (a plan's place bucket holds twice it, for canaries). */
  schedulerJobCountMax: 5_000,
  /** Scheduler: random draws for a free dynamic port on a node before scanning the range once. */
  schedulerPortDrawsMax: 32,
  /** Node monitor: nodes one monitor tracks (the cluster targets at most 500 servers). */
  nodesTrackedMax: 1_024,
  /** Node monitor: proposals of one node-status transition before the leader gives up on it. */
  nodeStatusProposalAttemptsMax: 5,
  /** Drivers: tasks one `list()` returns (Berth-labelled containers or exec state files). */
  driverListTasksMax: 4_096,
  /** Drivers: events or followed log lines queued for one slow reader before the oldest drop. */
  driverStreamQueueMax: 4_096,
  /** Drivers: longest log line kept, in bytes; longer lines are cut. */
  driverLogLineBytesMax: 65_536,
  /** Docker driver: largest multiplexed log frame accepted, in bytes; bigger means corruption. */
  dockerLogFrameBytesMax: 16 * 1024 * 1024,
  /** Docker driver: longest wait for one non-streaming Engine API call, in ms. */
  dockerRequestTimeoutMs: 30_000,
  /** Docker driver: longest wait for an image pull, in ms. */
  dockerPullTimeoutMs: 600_000,
  /** Drivers: longest stop timeout accepted before SIGKILL, in ms. */
  driverStopTimeoutMsMax: 600_000,
  /** Drivers: interval between checks while waiting for a task to exit, in ms. */
  driverExitPollMs: 50,
  /** Exec driver: output lines kept per task in its in-memory ring buffer. */
  execLogRingLinesMax: 2_000,
  /** Exec driver: size a task's output file may reach before the driver truncates it, in bytes. */
  execLogFileBytesMax: 8 * 1024 * 1024,
  /** Exec driver: interval at which output files and adopted processes are polled, in ms. */
  execPollIntervalMs: 100,
  /** Exec driver: processes summed into one task's stats (its process group). */
  execStatsProcessesMax: 4_096,
  /** Supervisor: allocations one node's supervisor tracks; more in one desired set are refused. */
  supervisorAllocationsMax: 1_024,
  /** Supervisor: consecutive failed probes that turn a healthy allocation unhealthy. */
  supervisorProbeFailuresMax: 3,
  /** Supervisor: restart and exit times kept per allocation (restart window, crash loop). */
  supervisorRestartHistoryMax: 1_024,
  /** Supervisor: starts refused for a stuck port or name before the allocation is failed. */
  supervisorStartWaitAttemptsMax: 1_000,
  /** Supervisor host: times one status proposal is tried before it is reported lost. */
  supervisorProposeAttemptsMax: 5,
  /** Supervisor host: effects queued per allocation lane before new ones are dropped. */
  supervisorLaneEffectsMax: 64,
  /** Supervisor host: output lines kept per allocation in its ring buffer. */
  supervisorLogLinesMax: 1_000,
  /** Logs API: lines one answer carries (`?tail=` may ask for fewer); the newest are kept. */
  apiLogLinesMax: 1_000,
  /** Logs API: allocations one job's logs are gathered from. */
  apiLogJobAllocationsMax: 256,
  /** Logs API: interval at which a followed log is polled for new lines, in ms. */
  apiLogFollowPollMs: 500,
  /** Logs API: longest one followed log stays open, in ms; the client then reconnects. */
  apiLogFollowMsMax: 3_600_000,
  /** Logs API: lines queued for one follow client before it must read (back-pressure). */
  apiLogStreamQueueLinesMax: 256,
  /** Router: routes (host × path prefix) one route table holds; the rest are reported dropped. */
  routerRoutesMax: 10_000,
  /** Router: upstreams one route keeps (sorted; the rest are reported dropped). */
  routerUpstreamsPerRouteMax: 1_000,
  /** Router: upstreams whose passive-health state the engine remembers (live and draining). */
  routerUpstreamsTrackedMax: 20_000,
  /** Router: largest request body proxied, in bytes; bigger gets 413 `body_too_large`. */
  routerBodyBytesMax: 64 * 1024 * 1024,
  /** Router: bodies up to this size are read before proxying so a refused connection can be retried, in bytes. */
  routerBodyBufferBytesMax: 1_048_576,
  /** Router: time one upstream has to answer with response headers, in ms (then 504 or a retry). */
  routerUpstreamTimeoutMs: 30_000,
  /** Router: time the whole request (all attempts) has to get response headers, in ms. */
  routerRequestTimeoutMs: 60_000,
  /** Router: extra attempts on other upstreams after a failed connection. */
  routerRetriesMax: 2,
  /** Router: first ejection of an upstream that refused a connection, in ms; doubles per failure. */
  routerEjectBaseMs: 500,
  /** Router: cap on the ejection period, in ms. */
  routerEjectCapMs: 30_000,
  /** Router: bytes one proxied WebSocket may buffer toward a slow side before it is closed. */
  routerWsBufferedBytesMax: 4 * 1024 * 1024,
  /** Router: proxied WebSockets open at once; more get 503 `too_many_websockets`. */
  routerWebSocketsMax: 10_000,
  /** Router: a client connection idle this long is closed, in seconds (Bun caps it at 255); streams are exempt. */
  routerClientIdleSeconds: 120,
  /** Router: messages from an upstream WebSocket queued until the client side has opened. */
  routerWsPendingMessagesMax: 256,
  /** Router: keep-alive connections open to one upstream at once; requests past it use fetch. */
  routerUpstreamConnsMax: 1_024,
  /** Router: idle keep-alive connections kept per upstream; more are closed when released. */
  routerUpstreamIdleConnsMax: 256,
  /** Router: an idle upstream connection is closed after this, in seconds (below common 5 s server timeouts). */
  routerUpstreamIdleSeconds: 4,
  /** Router: times one request is resent on a fresh connection after a reused one was found closed. */
  routerUpstreamStaleRetriesMax: 1,
  /** Router: largest upstream response head (status line and headers), in bytes; bigger is a bad gateway. */
  routerResponseHeadBytesMax: 65_536,
  /** Router: client connections the plain-HTTP listener holds at once; more are cut at accept. */
  routerClientConnsMax: 50_000,
  /** Router: largest client request head (request line and headers), in bytes; bigger gets 431. */
  routerRequestHeadBytesMax: 16_384,
  /** Router: header fields one client request may carry; more get 431 `too_many_headers`. */
  routerRequestHeadersMax: 100,
  /** Router: longest client request target, in bytes; longer gets 414 `target_too_long`. */
  routerRequestTargetBytesMax: 8_192,
  /** Router: empty lines skipped before a client request line (RFC 9112 §2.2 robustness). */
  routerRequestLeadingEmptyLinesMax: 4,
  /** Router: fixed-length response bodies up to this size are read whole before answering, in bytes. */
  routerResponseBufferBytesMax: 65_536,
  /** Router: response bytes queued toward a slow client before the upstream socket is paused. */
  routerResponseQueueBytesMax: 262_144,
  /** Router: longest chunk-size line (with extensions) in a chunked upstream response, in bytes. */
  routerChunkLineBytesMax: 4_096,
  /** Router: how often upstream deadlines and gone clients are checked, in ms (timeouts fire up to this late). */
  routerDeadlineSweepMs: 25,
  /** Router: requests the deadline sweep watches at once; past it a request keeps its own timer. */
  routerAttemptsSweptMax: 100_000,
  /** Router TLS: host names (SNI entries) one HTTPS listener serves; the rest are reported dropped. */
  routerTlsHostsMax: 10_000,
  /** Router TLS: replaced HTTPS listeners left draining at once; past it the oldest is cut. */
  routerTlsDrainingListenersMax: 8,
  /** Router: longest ACME HTTP-01 token answered, in chars (Let's Encrypt's are 43). */
  routerAcmeTokenCharsMax: 128,
  /** Router TLS on a worker: first retry of a failed key fetch from the leader, in ms; doubles. */
  routerTlsKeysRetryBaseMs: 1_000,
  /** Router TLS on a worker: cap on the delay between two key fetches, in ms. */
  routerTlsKeysRetryCapMs: 60_000,
  /** Router TLS: how far a signed key request's time may be from the leader's, in ms. */
  routerTlsKeysSkewMsMax: 60_000,
  /** Router TLS on a worker: time one key fetch from the leader may take, in ms. */
  routerTlsKeysFetchTimeoutMs: 10_000,
  /** Certificates: ACME orders the leader drives at once; further hosts wait for a slot. */
  acmeOrdersInFlightMax: 4,
  /** Certificates: delay after an order's first failure, in ms; doubles per failure up to the cap. */
  acmeBackoffBaseMs: 60_000,
  /** Certificates: cap on the delay between two failed orders of one host, in ms (6 h). */
  acmeBackoffCapMs: 21_600_000,
  /** Certificates: longest Retry-After a rate-limited order honours, in ms (7 days). */
  acmeRetryAfterMsMax: 604_800_000,
  /** Certificates: time one ACME HTTP request has to answer, in ms. */
  acmeRequestTimeoutMs: 30_000,
  /** Certificates: largest ACME response body read, in bytes (a chain is a few KB). */
  acmeResponseBytesMax: 1_048_576,
  /** Certificates: first wait before re-reading an order or authorization in progress, in ms. */
  acmePollBaseMs: 250,
  /** Certificates: cap on the wait between two reads of an order in progress, in ms. */
  acmePollCapMs: 5_000,
  /** Certificates: reads of one order or authorization in progress before the order is given up. */
  acmePollAttemptsMax: 60,
  /** Certificates: order status transitions one flow follows before it is given up (a bug guard). */
  acmeFlowStepsMax: 32,
  /** Certificates: authorizations one order may carry (Berth orders one name per order). */
  acmeAuthorizationsMax: 16,
  /** Certificates: wait after a challenge answer is committed, so every router has applied it, in ms. */
  acmeChallengeSettleMs: 500,
  /** Linearizability checker: search steps per key before the answer is "inconclusive". */
  linearizabilityStepsMax: 2_000_000,
  /** Linearizability checker: operations one key's history may hold (the search is exponential). */
  linearizabilityOpsPerKeyMax: 20_000,
} as const;

assert(limits.mailboxDepthMax <= limits.mailboxDepthCeiling, 'mailbox default exceeds ceiling');
assert(limits.logReadBatchMax <= limits.mailboxDepthMax, 'a log batch must fit a mailbox');
assert(limits.restartIntensityMax >= 1, 'restart intensity must allow one restart');
assert(limits.actorTurnMessagesMax >= 1, 'an actor turn must handle at least one message');
assert(limits.actorTurnMessagesMax <= limits.mailboxDepthMax, 'a turn must not outlast a mailbox');
assert(limits.peerReconnectBackoffBaseMs <= limits.peerReconnectBackoffCapMs, 'backoff above cap');
assert(limits.peerBatchMessagesMax <= limits.peerSendQueueMax, 'a peer batch must fit the queue');
assert(
  limits.peerFrameBytesMax >= Math.ceil(limits.raftSnapshotChunkBytesMax / 3) * 4 + 64 * 1024,
  'a base64 snapshot chunk must fit one peer frame',
);
assert(limits.peerKeepaliveIntervalMs * 2 <= limits.peerIdleTimeoutMs, 'keepalive too slow');
assert(
  limits.raftHostPendingReadsMax <= limits.raftReadIndexPendingMax,
  'a host never has more read rounds in flight than the Raft core accepts',
);
assert(
  limits.raftEntryCacheMax >= limits.raftEntriesPerMsgMax,
  'the raft entry cache must hold one full append batch',
);
assert(
  limits.apiLeaderHoldMsMax / limits.apiLeaderHoldBackoffCapMs + 32 <=
    limits.apiLeaderHoldAttemptsMax,
  'a held request must be able to retry for the whole longest hold',
);
assert(
  limits.apiLeaderHoldBackoffBaseMs <= limits.apiLeaderHoldBackoffCapMs,
  'hold backoff above cap',
);
assert(
  limits.cliRequestTimeoutMsMax > limits.apiLeaderHoldMsMax,
  'the CLI must wait longer than the API may hold a request through an election',
);
assert(
  limits.cliEventLineBytesMax >= limits.localLogEntryBytesMax * 2,
  'one event line (an entry as JSON, escaped) must fit the CLI line buffer',
);
assert(
  limits.schedulerJobCountMax * 2 <= limits.statePlanAllocationsMax,
  'the placements and canaries of one job must fit one committed plan',
);
assert(
  limits.eventHeartbeatMs < limits.eventStreamStallMsMax,
  'heartbeats must beat the stall timer',
);
assert(
  limits.supervisorAllocationsMax <= limits.driverListTasksMax,
  "a node's supervised allocations must fit one driver list",
);
assert(
  limits.routerBodyBufferBytesMax <= limits.routerBodyBytesMax,
  'the retry buffer must not exceed the body limit',
);
assert(limits.routerEjectBaseMs <= limits.routerEjectCapMs, 'router ejection base above cap');
assert(
  limits.routerTlsKeysRetryBaseMs <= limits.routerTlsKeysRetryCapMs,
  'router TLS key fetch backoff base above cap',
);
assert(limits.acmeBackoffBaseMs <= limits.acmeBackoffCapMs, 'ACME backoff base above cap');
assert(limits.acmePollBaseMs <= limits.acmePollCapMs, 'ACME poll base above cap');
assert(
  limits.routerUpstreamTimeoutMs <= limits.routerRequestTimeoutMs,
  'one upstream attempt must fit the request timeout',
);
assert(
  limits.routerUpstreamIdleConnsMax <= limits.routerUpstreamConnsMax,
  'idle upstream connections are a subset of the open ones',
);
assert(
  limits.routerResponseBufferBytesMax <= limits.routerResponseQueueBytesMax,
  'a buffered response body must fit the response queue',
);
