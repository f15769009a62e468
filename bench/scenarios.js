// What the benchmark measures: the stacks (servers under test), the scenarios, the run
// profiles (--smoke, --quick, full) and the targets Switchboard is held to.

export const STACKS = {
  switchboard: { label: 'Switchboard', file: 'servers/switchboard.js', args: [] },
  'switchboard-connect': { label: 'Switchboard + connect integration', file: 'servers/switchboard.js', args: ['--connect-integration'] },
  uws: { label: 'uWebSockets.js', file: 'servers/uws.js', args: [] },
  ws: { label: 'ws (plain send loop)', file: 'servers/ws.js', args: [] },
  'ws-cork': { label: 'ws (cork + one frame)', file: 'servers/ws.js', args: ['--cork'] },
  socketio: { label: 'socket.io 4', file: 'servers/socketio.js', args: [] },
  // Behind both, a node:http backend answering `ok` (servers/http-backend.js, one per server
  // process, pinned with the load generator); `backend` makes the run start it and pass its URL.
  'switchboard-http': { label: 'Switchboard, http integrations', file: 'servers/switchboard.js', args: ['--connect-integration'], backend: true },
  'relay-http': { label: 'ws + undici relay (hand-written)', file: 'servers/relay.js', args: [], backend: true },
  // Two Switchboard nodes on one private redis-server (the run starts both and the Redis).
  'switchboard-cluster': { label: 'Switchboard, 2 nodes + Redis', file: 'servers/switchboard.js', args: [], cluster: true },
};

const n = (v) => v.toLocaleString('en-US');

/**
 * Scenarios sharing a `session` run on the same server process and connections, one after
 * the other; `requires` names figures a target of this scenario is compared with;
 * `quickStacks` is what --quick measures (the peers the targets compare with, cheap references).
 */
export const SCENARIOS = {
  'fanout-1k': {
    session: 'small',
    title: (p) => `Fan-out, ${n(p.smallSubscribers)} subscribers of one topic, ${p.messageSize}-byte messages`,
    unit: 'deliveries/s',
    better: 'higher',
    stacks: ['switchboard', 'uws', 'ws', 'ws-cork', 'socketio'],
    quickStacks: ['switchboard', 'uws', 'ws', 'ws-cork'],
  },
  echo: {
    session: 'small',
    title: (p) => `Echo round trip through a dummy message integration, ${n(p.smallSubscribers)} clients`,
    unit: 'messages/s',
    better: 'higher',
    stacks: ['switchboard', 'uws', 'ws', 'socketio'],
    quickStacks: ['switchboard', 'uws', 'ws'],
  },
  'mgmt-send': {
    session: 'small',
    title: (p) => `Management :send to random connections, ${n(p.smallSubscribers)} connected, ${p.mgmtConcurrency} requests in flight`,
    unit: 'requests/s',
    better: 'higher',
    stacks: ['switchboard'],
  },
  'mgmt-publish': {
    session: 'small',
    title: (p) => `Topic publish through the management API, ${n(p.smallSubscribers)} subscribers`,
    unit: 'deliveries/s',
    better: 'higher',
    stacks: ['switchboard'],
    requires: [['fanout-1k', 'switchboard']],
  },
  'fanout-10k': {
    session: 'large',
    title: (p) => `Fan-out, ${n(p.largeConnections)} subscribers of one topic, ${p.messageSize}-byte messages`,
    unit: 'deliveries/s',
    better: 'higher',
    stacks: ['switchboard', 'uws', 'ws', 'ws-cork', 'socketio'],
    quickStacks: ['switchboard', 'uws', 'ws'],
  },
  cluster: {
    session: 'cluster',
    title: (p) => `Cluster: 2 nodes + Redis, publish on node A to ${n(p.smallSubscribers)} subscribers spread on both; latency at half the measured rate`,
    unit: 'deliveries/s',
    better: 'higher',
    stacks: ['switchboard-cluster'],
    requires: [
      ['fanout-1k', 'switchboard'],
      ['fanout-1k', 'uws'],
    ],
  },
  memory: {
    session: 'memory',
    title: (p) => `Idle memory per connection, RSS delta over ${n(p.memoryConnections)} connections${p.memoryWithConnect ? ' (those the connect scenario opened)' : ''}`,
    unit: 'bytes/connection',
    better: 'lower',
    stacks: ['switchboard', 'uws', 'ws', 'socketio'],
  },
  connect: {
    session: 'large',
    title: (p) => `Connect rate, ${n(p.largeConnections)} connections, ${p.connectConcurrency} in flight, no connect integration`,
    unit: 'connections/s',
    better: 'higher',
    stacks: ['switchboard', 'uws', 'ws', 'socketio'],
  },
  'connect-integration': {
    session: 'large',
    title: (p) => `Connect rate, ${n(p.largeConnections)} connections, ${p.connectConcurrency} in flight, Switchboard with a dummy connect integration`,
    unit: 'connections/s',
    better: 'higher',
    stacks: ['switchboard-connect'],
    requires: [['connect', 'ws']],
  },
  'http-echo': {
    session: 'http',
    title: (p) =>
      `Messages through an HTTP backend: ${n(p.httpClients)} clients in a closed loop, ${p.httpMessage.length}-byte messages, each POSTed to a node:http backend whose \`ok\` goes back; single-client p50 against calling the backend directly`,
    unit: 'messages/s',
    better: 'higher',
    stacks: ['switchboard-http', 'relay-http'],
  },
  'http-connect': {
    session: 'http',
    title: (p) => `Handshakes that ask an HTTP backend first: ${n(p.httpConnections)} connections, ${p.httpConnectConcurrency} in flight, one POST /connect each`,
    unit: 'connections/s',
    better: 'higher',
    stacks: ['switchboard-http', 'relay-http'],
  },
};

export const SESSION_ORDER = ['small', 'large', 'http', 'cluster', 'memory'];

/** Figures that exist in the table but cannot be measured yet. */
export const NOT_MEASURABLE = [];

/**
 * Run profiles. `memory` stays under the per-process open-files limit (the server holds every
 * connection); the load generator is split over two processes for it.
 */
export function profileFor(mode, openFiles) {
  // The server also holds stdio, IPC, epoll and listening descriptors: keep ~250 spare.
  const memoryWarmConnections = 200;
  const memoryConnections = Math.min(20_000, openFiles - 250) - memoryWarmConnections;
  const common = {
    smallSubscribers: 1000,
    // The connect figures open these connections; fan-out 10k then publishes to them.
    largeConnections: 10_000,
    memoryConnections,
    memoryWarmConnections,
    connectConcurrency: 500,
    connectWarm: 500,
    messageSize: 100,
    // The publisher hands the server this many messages per event-loop turn, at every fan-out width.
    messagesPerTurn: 20,
    // The cluster latency figure: stamped publishes at this share of the measured cluster rate.
    clusterLatencyLoad: 0.5,
    mgmtConcurrency: 32,
    // The HTTP scenarios: closed-loop clients and their message, handshakes in flight.
    httpClients: 200,
    httpMessage: 'hello',
    httpConnections: 5000,
    httpConnectConcurrency: 200,
  };
  if (mode === 'smoke') {
    return {
      ...common,
      rounds: 1,
      smallSubscribers: 20,
      largeConnections: 50,
      memoryConnections: 60,
      memoryWarmConnections: 10,
      connectConcurrency: 20,
      connectWarm: 10,
      warmMs: 0,
      fanoutMs: 100,
      echoWarmMs: 50,
      echoMs: 150,
      mgmtWarmMs: 50,
      mgmtMs: 150,
      mgmtConcurrency: 4,
      latencyMs: 200,
      httpClients: 10,
      httpConnections: 40,
      httpConnectConcurrency: 10,
      httpWarmMs: 50,
      httpMs: 150,
      singleWarmMs: 50,
      singleMs: 150,
    };
  }
  if (mode === 'quick') {
    // Echo and the management figures need about a second of warm-up: a fresh server's message
    // and HTTP paths are still being optimised by V8 before that (300 ms of warm-up gave
    // Switchboard 1.3–8 k :send/s where 1 s gives 9–12 k). Every stack gets the same warm-up.
    // The memory figure comes from the connect scenario's 10,000 connections (no session of its own).
    return { ...common, rounds: 3, memoryWithConnect: true, memoryConnections: common.largeConnections, warmMs: 250, fanoutMs: 500, echoWarmMs: 1000, echoMs: 600, mgmtWarmMs: 1000, mgmtMs: 1500, latencyMs: 1000, httpWarmMs: 1000, httpMs: 2000, singleWarmMs: 500, singleMs: 1000 };
  }
  return { ...common, rounds: 5, warmMs: 1000, fanoutMs: 2000, echoWarmMs: 1000, echoMs: 3000, mgmtWarmMs: 1000, mgmtMs: 3000, latencyMs: 3000, httpWarmMs: 2000, httpMs: 6000, singleWarmMs: 1000, singleMs: 2000 };
}

/**
 * The targets. `ratio` compares medians of the same run; `absolute` compares a median
 * with a number. `metric` picks a secondary figure (p99) instead of the main value.
 */
export const TARGETS = [
  { scenario: 'fanout-1k', stack: 'switchboard', label: 'Fan-out 1k ≥ 0.6 × uWS', ref: { scenario: 'fanout-1k', stack: 'uws' }, op: '>=', factor: 0.6 },
  { scenario: 'fanout-1k', stack: 'switchboard', label: 'Fan-out 1k ≥ 10 × plain ws loop', ref: { scenario: 'fanout-1k', stack: 'ws' }, op: '>=', factor: 10 },
  { scenario: 'fanout-10k', stack: 'switchboard', label: 'Fan-out 10k ≥ 0.4 × uWS', ref: { scenario: 'fanout-10k', stack: 'uws' }, op: '>=', factor: 0.4 },
  { scenario: 'memory', stack: 'switchboard', label: 'Idle memory/connection ≤ 1.2 × plain ws', ref: { scenario: 'memory', stack: 'ws' }, op: '<=', factor: 1.2 },
  { scenario: 'memory', stack: 'switchboard', label: 'Idle memory/connection ≤ 0.5 × socket.io', ref: { scenario: 'memory', stack: 'socketio' }, op: '<=', factor: 0.5 },
  { scenario: 'connect', stack: 'switchboard', label: 'Connect rate ≥ 0.9 × plain ws', ref: { scenario: 'connect', stack: 'ws' }, op: '>=', factor: 0.9 },
  { scenario: 'connect-integration', stack: 'switchboard-connect', label: 'Connect rate with connect integration ≥ 0.8 × plain ws', ref: { scenario: 'connect', stack: 'ws' }, op: '>=', factor: 0.8 },
  { scenario: 'echo', stack: 'switchboard', label: 'Echo messages/s ≥ 0.8 × plain ws', ref: { scenario: 'echo', stack: 'ws' }, op: '>=', factor: 0.8 },
  { scenario: 'echo', stack: 'switchboard', metric: 'p99', label: 'Echo p99 ≤ 1.25 × plain ws p99 (0.8 × as fast)', ref: { scenario: 'echo', stack: 'ws' }, op: '<=', factor: 1.25 },
  { scenario: 'mgmt-send', stack: 'switchboard', label: 'Management :send ≥ 15,000 req/s', op: '>=', absolute: 15_000 },
  { scenario: 'mgmt-send', stack: 'switchboard', metric: 'p99', label: 'Management :send p99 < 10 ms', op: '<', absolute: 10 },
  { scenario: 'mgmt-publish', stack: 'switchboard', label: 'Management publish ≥ 0.5 × in-process fan-out', ref: { scenario: 'fanout-1k', stack: 'switchboard' }, op: '>=', factor: 0.5 },
  { scenario: 'http-echo', stack: 'switchboard-http', label: 'HTTP echo messages/s ≥ 1.1 × hand-written ws + undici relay', ref: { scenario: 'http-echo', stack: 'relay-http' }, op: '>=', factor: 1.1 },
  { scenario: 'http-echo', stack: 'switchboard-http', metric: 'p99', label: 'HTTP echo p99 ≤ 1.0 × the relay\'s p99', ref: { scenario: 'http-echo', stack: 'relay-http' }, op: '<=', factor: 1.0 },
  { scenario: 'http-echo', stack: 'switchboard-http', metric: 'addedP50', label: 'Added latency over calling the backend directly (single client, p50) < 0.2 ms', op: '<', absolute: 0.2 },
  { scenario: 'http-connect', stack: 'switchboard-http', label: 'Handshakes/s with an HTTP connect integration ≥ 0.9 × the relay', ref: { scenario: 'http-connect', stack: 'relay-http' }, op: '>=', factor: 0.9 },
  { scenario: 'cluster', stack: 'switchboard-cluster', label: 'Cluster fan-out ≥ 0.5 × single-node fan-out', ref: { scenario: 'fanout-1k', stack: 'switchboard' }, op: '>=', factor: 0.5 },
  { scenario: 'cluster', stack: 'switchboard-cluster', metric: 'p99', label: 'Cluster p99 publish-to-delivery < 20 ms at 50% of max rate', op: '<', absolute: 20 },
];
