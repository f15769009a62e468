// `npm run bench`: Switchboard and its peers side by side, in one run, on one load generator.
//
//   node bench/run.js                 full run (5 rounds, longer measurements)
//   node bench/run.js --quick         3 rounds, short measurements (under 3 minutes)
//   node bench/run.js --smoke         a handful of connections, one round: keeps the harness honest
//   --scenario NAME[,NAME]            only these scenarios (and the figures their targets need)
//   --rounds N   --out DIR   --profile (Switchboard's measured blocks profiled to DIR/profiles)
//   --compare-dist DIR                every Switchboard stack also runs from this other build
//                                     (e.g. a copy of dist/ before a change): before/after in one run
//
// Each server runs alone in a child process pinned to core 0; the load generators run in their
// own processes pinned to core 1. Stacks alternate within a round (A B C A B C) so drift in the
// machine hits every stack alike; medians and ranges over the rounds are reported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFilesLimit, pinningAvailable, startChild } from './lib/control.js';
import { startRedis } from './lib/redis.js';
import { NOT_MEASURABLE, SCENARIOS, SESSION_ORDER, STACKS, TARGETS, profileFor } from './scenarios.js';
import { buildReport, formatRate, writeReports } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const SERVER_CPU = 0;
const LOADGEN_CPU = 1;
const TOPIC = 't';

function parseArgs(argv) {
  const options = { mode: 'full', scenarios: [], rounds: undefined, out: undefined, profile: false, compareDist: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') options.mode = 'quick';
    else if (arg === '--smoke') options.mode = 'smoke';
    else if (arg === '--profile') options.profile = true;
    else if (arg.startsWith('--scenario')) options.scenarios.push(...value().split(',').filter(Boolean));
    else if (arg.startsWith('--rounds')) options.rounds = Number(value());
    else if (arg.startsWith('--out')) options.out = path.resolve(value());
    else if (arg.startsWith('--compare-dist')) options.compareDist = path.resolve(value());
    else if (arg === '--help' || arg === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).slice(0, 9).map((l) => l.slice(3)).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  for (const name of options.scenarios) {
    if (SCENARIOS[name] === undefined) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const openFiles = openFilesLimit();
const profile = profileFor(options.mode, openFiles);
if (options.rounds !== undefined) profile.rounds = options.rounds;
const outDir = options.out ?? path.join(here, 'results');
const baseName = options.mode === 'smoke' ? 'smoke' : 'latest';
const selected = options.scenarios.length > 0 ? options.scenarios : Object.keys(SCENARIOS);

/** With --compare-dist, the other build's twin of each single-node Switchboard stack. */
const COMPARED = '@compared';
if (options.compareDist !== undefined) {
  if (!fs.existsSync(path.join(options.compareDist, 'src/index.js'))) throw new Error(`--compare-dist ${options.compareDist}: no src/index.js there (a copy of a built dist/)`);
  for (const [name, def] of Object.entries(STACKS)) {
    if (!name.startsWith('switchboard') || def.cluster) continue;
    STACKS[name + COMPARED] = { ...def, label: `${def.label} [${path.basename(options.compareDist)}]`, args: [...def.args, '--dist', options.compareDist] };
  }
}

/** The session a scenario runs in: --quick takes the memory figure from the connect scenario's connections. */
function sessionOf(name) {
  return name === 'memory' && profile.memoryWithConnect ? 'large' : SCENARIOS[name].session;
}

/**
 * Which stacks each scenario runs: its own (in --quick, the peers the targets compare with and
 * the cheap references), plus those another selected scenario compares with.
 */
function plan() {
  const wanted = new Map();
  const want = (scenario, stack) => {
    if (!wanted.has(scenario)) wanted.set(scenario, new Set());
    wanted.get(scenario).add(stack);
  };
  for (const name of selected) {
    const def = SCENARIOS[name];
    for (const stack of options.mode === 'quick' ? (def.quickStacks ?? def.stacks) : def.stacks) want(name, stack);
    for (const [scenario, stack] of SCENARIOS[name].requires ?? []) want(scenario, stack);
  }
  for (const stacks of wanted.values()) {
    for (const stack of [...stacks]) if (STACKS[stack + COMPARED] !== undefined) stacks.add(stack + COMPARED);
    if (!uwsLoadsHere()) stacks.delete('uws');
  }
  return wanted;
}

/**
 * uWebSockets.js ships a binary per Node ABI; on a Node it has none for (24 and later, with
 * this package) it falls back to a slow stand-in that is not the peer we mean to measure, so
 * the stack is left out and said so once.
 */
function uwsLoadsHere() {
  if (uwsAvailable !== undefined) return uwsAvailable;
  const binary = path.join(here, '..', 'node_modules', '@trufflesuite', 'uws-js-unofficial', 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  uwsAvailable = fs.existsSync(binary);
  if (!uwsAvailable) console.log(`uWebSockets.js has no binary for this Node (${process.version}, ABI ${process.versions.modules}): its stack is left out`);
  return uwsAvailable;
}
let uwsAvailable;

// ---- children ----

const children = new Set();
async function spawnServer(stack, extraArgs = [], name = `server ${stack}`) {
  const def = STACKS[stack];
  const child = await startChild(name, path.join(here, def.file), { args: [...def.args, ...extraArgs], nodeArgs: ['--expose-gc', ...(process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)], cpu: SERVER_CPU });
  child.stack = stack;
  children.add(child);
  return child;
}
async function stopChild(child) {
  await child.stop();
  children.delete(child);
}
const loadgens = [];
async function loadgen(index) {
  while (loadgens.length <= index) {
    const child = await startChild(`loadgen ${loadgens.length}`, path.join(here, 'loadgen.js'), { cpu: LOADGEN_CPU, nodeArgs: process.env.LOADGEN_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/lgprof'] : [] });
    children.add(child);
    loadgens.push(child);
  }
  return loadgens[index];
}
function killAll() {
  for (const child of children) child.proc.kill('SIGKILL');
}
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

// ---- source addresses: 127.0.0.2 … 127.0.0.254, rotated so no address runs out of ports ----

let nextSource = 0;
function takeSources(count) {
  const n = Math.max(2, Math.ceil(count / 2500));
  const sources = [];
  for (let i = 0; i < n; i++) sources.push(`127.0.0.${2 + (nextSource++ % 253)}`);
  return sources;
}

async function connect(gen, server, count, { concurrency = 500, captureIds = false } = {}) {
  const info = server.info;
  const result = await gen.call(
    'connect',
    { host: '127.0.0.1', port: info.port, path: info.path, count, concurrency, sources: takeSources(count), socketio: info.socketio === true, captureIds },
    180_000,
  );
  if (result.opened !== count) {
    throw new Error(`${server.name}: only ${result.opened} of ${count} connections opened (${result.failed} failed${result.timedOut ? ', timed out' : ''}: ${result.firstError})`);
  }
  return result;
}

// ---- measurements ----

/**
 * Runs `measure` and adds how busy the server and the load generator(s) were meanwhile, as
 * a share of one core: a load generator near 1.0 means the figure is the load generator's.
 */
async function withCpu(server, gens, measure, scenario) {
  // A stack with an HTTP backend: its CPU share is read too (the last reading).
  const watched = server.backend === undefined ? [server, ...gens] : [server, ...gens, server.backend];
  const read = () => Promise.all(watched.map((child) => child.call('cpu')));
  // --profile: Switchboard's servers profile exactly the measured block.
  const profiling = options.profile && server.stack.startsWith('switchboard');
  if (profiling) await server.call('profileStart');
  const before = await read();
  const result = await measure();
  const after = await read();
  if (profiling) {
    const dir = path.join(outDir, 'profiles');
    fs.mkdirSync(dir, { recursive: true });
    const { file } = await server.call('profileStop', { file: path.join(dir, `${scenario}-r${server.round}-${server.stack}.cpuprofile`) });
    console.log(`profile: ${path.relative(process.cwd(), file)}`);
  }
  const share = (i) => (after[i].cpuMs - before[i].cpuMs) / (after[i].at - before[i].at);
  const backendCpu = server.backend === undefined ? {} : { backendCpu: share(gens.length + 1) };
  return { ...result, serverCpu: share(0), loadgenCpu: Math.max(...gens.map((_, i) => share(i + 1))), ...backendCpu };
}

/** Publishes `count` messages and waits until every subscriber has every one. */
async function fanoutBlock(gen, server, subscribers, count, batch) {
  const expected = count * subscribers;
  await gen.call('reset');
  const arrived = gen.call('await', { frames: expected, timeoutMs: 60_000 }, 70_000);
  const published = await server.call('publish', { topic: TOPIC, count, batch, size: profile.messageSize }, 70_000);
  const got = await arrived;
  const ms = got.at - published.t0;
  return {
    published: published.published,
    expected,
    delivered: got.frames,
    serverDelivered: published.delivered,
    lost: Math.max(0, expected - got.frames) + (published.delivered !== undefined ? Math.max(0, expected - published.delivered) : 0),
    ms,
    value: (got.frames / ms) * 1000,
    backlogWaits: published.waits,
  };
}

async function measureFanout(gen, server, subscribers, scenario) {
  const batch = profile.messagesPerTurn;
  // Warm up in blocks of ~100 ms, sized from the rate seen so far; then one measured block.
  let rate;
  let count = batch;
  const warmUntil = Date.now() + profile.warmMs;
  do {
    const block = await fanoutBlock(gen, server, subscribers, count, batch);
    if (block.lost > 0) throw new Error(`${server.name}: lost ${block.lost} deliveries while warming up`);
    rate = block.value;
    count = Math.max(batch, Math.ceil((rate * 0.1) / subscribers));
  } while (Date.now() < warmUntil);
  const measuredCount = Math.max(batch, Math.ceil((rate * profile.fanoutMs) / 1000 / subscribers));
  return withCpu(server, [gen], () => fanoutBlock(gen, server, subscribers, measuredCount, batch), scenario);
}

async function measureEcho(gen, server) {
  const socketio = server.info.socketio === true;
  await gen.call('echo', { durationMs: profile.echoWarmMs, size: profile.messageSize, socketio }, 60_000);
  const r = await withCpu(server, [gen], () => gen.call('echo', { durationMs: profile.echoMs, size: profile.messageSize, socketio }, 60_000), 'echo');
  return { serverCpu: r.serverCpu, loadgenCpu: r.loadgenCpu, value: r.rate, lost: r.lost + r.unexpected, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, sent: r.sent, received: r.received, ms: r.ms };
}

async function measureHttp(gen, server, kind, ids, subscribers) {
  const args = { kind, port: server.info.managementPort, concurrency: profile.mgmtConcurrency, ids, topic: TOPIC, size: profile.messageSize, subscribers };
  await gen.call('http', { ...args, durationMs: profile.mgmtWarmMs }, 60_000);
  const r = await withCpu(server, [gen], () => gen.call('http', { ...args, durationMs: profile.mgmtMs }, 60_000), `mgmt-${kind}`);
  if (r.errors > 0) throw new Error(`${server.name}: ${r.errors} management requests failed (${JSON.stringify(r.statuses)}): ${r.firstError}`);
  const base = { serverCpu: r.serverCpu, loadgenCpu: r.loadgenCpu, lost: r.lost, requestRate: r.rate, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, requests: r.ok, delivered: r.delivered, expected: r.expected, ms: r.ms };
  if (kind === 'send') return { ...base, value: r.rate };
  const reportedShort = Math.max(0, r.expected - r.reportedDeliveries);
  return { ...base, value: r.deliveryRate, lost: r.lost + reportedShort };
}

// ---- phases: what runs on one server process. A full or quick run gives each session its
// own fresh process (memory and connect figures must not inherit another scenario's heap);
// the smoke run chains every phase of a stack on one process, so it starts each server once.
// Phases top connections up to what they need, so they work fresh or chained.

async function connectionsOf(server) {
  return (await server.call('stats')).connections;
}

async function topUp(gen, server, target, options) {
  const have = await connectionsOf(server);
  return have < target ? connect(gen, server, target - have, options) : { ids: [] };
}

async function subscribeAll(server, expected) {
  const prepared = await server.call('prepare', { topic: TOPIC });
  if (prepared.subscribed !== expected) throw new Error(`${server.name}: ${prepared.subscribed} of ${expected} subscribed`);
}

async function phaseSmall(server, scenarios, stack) {
  const gen = await loadgen(0);
  const out = {};
  const subscribers = profile.smallSubscribers;
  const opened = await topUp(gen, server, subscribers, { captureIds: scenarios.has('mgmt-send') });
  await subscribeAll(server, subscribers);
  if (scenarios.has('fanout-1k')) {
    out['fanout-1k'] = await measureFanout(gen, server, subscribers, 'fanout-1k');
    // With the cluster figure, the same latency measurement on one node (Switchboard: what the
    // cluster adds; uWS: what this machine and load generator allow at all).
    if (selected.includes('cluster') && (stack === 'switchboard' || stack === 'uws')) {
      const messagesPerSecond = Math.max(10, Math.floor((out['fanout-1k'].value / subscribers) * profile.clusterLatencyLoad));
      const latency = await stampedLatency(gen, [server], subscribers, messagesPerSecond, profile.messagesPerTurn);
      Object.assign(out['fanout-1k'], { latencyP50: latency.p50, latencyP99: latency.p99, latencyRate: messagesPerSecond });
      out['fanout-1k'].lost += latency.lost;
    }
  }
  if (scenarios.has('echo')) out.echo = await measureEcho(gen, server);
  if (scenarios.has('mgmt-send')) out['mgmt-send'] = await measureHttp(gen, server, 'send', opened.ids, subscribers);
  if (scenarios.has('mgmt-publish')) out['mgmt-publish'] = await measureHttp(gen, server, 'publish', undefined, subscribers);
  return out;
}

/**
 * The large session: the connect-rate figure opens the connections that fan-out 10k then
 * publishes to. Warm-up connections are opened and closed first, so the measured ones meet a
 * warmed-up server with no other connection on it. With `memory` here (--quick), the RSS
 * delta over those same connections is the memory figure.
 */
async function phaseLarge(server, scenarios, stack) {
  const gen = await loadgen(0);
  const out = {};
  const connectScenario = stack === 'switchboard-connect' ? 'connect-integration' : 'connect';
  const withMemory = scenarios.has('memory');
  if (scenarios.has(connectScenario) || withMemory) {
    const measured = await measureConnect(gen, server, connectScenario, withMemory);
    if (scenarios.has(connectScenario)) out[connectScenario] = measured.connect;
    if (withMemory) out.memory = measured.memory;
  }
  if (scenarios.has('fanout-10k')) {
    const subscribers = profile.largeConnections;
    await topUp(gen, server, subscribers);
    await subscribeAll(server, subscribers);
    out['fanout-10k'] = await measureFanout(gen, server, subscribers, 'fanout-10k');
  }
  return out;
}

async function measureConnect(gen, server, scenario, withMemory) {
  await connect(gen, server, profile.connectWarm, { concurrency: profile.connectConcurrency });
  await gen.call('close');
  await untilConnections(server, 0);
  const before = withMemory ? await server.call('memory') : undefined;
  const count = profile.largeConnections;
  const info = server.info;
  const r = await withCpu(
    server,
    [gen],
    () =>
      gen.call(
        'connect',
        { host: '127.0.0.1', port: info.port, path: info.path, count, concurrency: profile.connectConcurrency, sources: takeSources(count), socketio: info.socketio === true },
        180_000,
      ),
    scenario,
  );
  const result = {
    connect: { serverCpu: r.serverCpu, loadgenCpu: r.loadgenCpu, value: r.rate, lost: count - r.opened, failed: r.failed, firstError: r.firstError, ms: r.ms, connections: count },
  };
  if (withMemory) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    result.memory = memoryFigure(before, await server.call('memory'), count);
  }
  return result;
}

/** Waits until the server has seen its connections go (closes are asynchronous). */
async function untilConnections(server, n, boundMs = 15_000) {
  const until = Date.now() + boundMs;
  while ((await connectionsOf(server)) !== n) {
    if (Date.now() > until) throw new Error(`${server.name}: still ${await connectionsOf(server)} connections, expected ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The HTTP session: every message and every handshake asks the stack's node:http backend.
 * First the closed loop of many clients (http-echo), then one client alone through the
 * server and, on the same backend, one client calling it directly over keep-alive HTTP (the
 * difference is the added latency), then the handshake rate with one backend call each.
 */
async function phaseHttp(server, scenarios) {
  const gen = await loadgen(0);
  const out = {};
  const text = profile.httpMessage;
  if (scenarios.has('http-echo')) {
    await topUp(gen, server, profile.httpClients, { concurrency: Math.min(100, profile.httpClients) });
    await gen.call('echo', { durationMs: profile.httpWarmMs, text }, 60_000);
    const r = await withCpu(server, [gen], () => gen.call('echo', { durationMs: profile.httpMs, text }, 60_000), 'http-echo');
    await gen.call('close');
    await untilConnections(server, 0);
    await connect(gen, server, 1);
    await gen.call('echo', { durationMs: profile.singleWarmMs, text }, 60_000);
    const single = await gen.call('echo', { durationMs: profile.singleMs, text }, 60_000);
    const direct = await directCall(gen, server.backend, text);
    await gen.call('close');
    await untilConnections(server, 0);
    out['http-echo'] = {
      serverCpu: r.serverCpu,
      loadgenCpu: r.loadgenCpu,
      backendCpu: r.backendCpu,
      value: r.rate,
      lost: r.lost + r.unexpected + single.lost + single.unexpected,
      p50: r.latency.p50,
      p99: r.latency.p99,
      max: r.latency.max,
      sent: r.sent,
      received: r.received,
      ms: r.ms,
      // Server CPU per message: steadier than the rate when other work shares the machine.
      serverUsPerMessage: (r.serverCpu * 1e6) / r.rate,
      singleP50: single.latency.p50,
      singleP99: single.latency.p99,
      directP50: direct.latency.p50,
      directP99: direct.latency.p99,
      addedP50: single.latency.p50 - direct.latency.p50,
    };
  }
  if (scenarios.has('http-connect')) {
    await connect(gen, server, Math.min(profile.connectWarm, profile.httpConnections), { concurrency: profile.httpConnectConcurrency });
    await gen.call('close');
    await untilConnections(server, 0);
    const count = profile.httpConnections;
    const info = server.info;
    const r = await withCpu(
      server,
      [gen],
      () => gen.call('connect', { host: '127.0.0.1', port: info.port, path: info.path, count, concurrency: profile.httpConnectConcurrency, sources: takeSources(count) }, 180_000),
      'http-connect',
    );
    out['http-connect'] = { serverCpu: r.serverCpu, loadgenCpu: r.loadgenCpu, backendCpu: r.backendCpu, serverUsPerConnection: (r.serverCpu * 1e6) / r.rate, value: r.rate, lost: count - r.opened, failed: r.failed, firstError: r.firstError, ms: r.ms, connections: count };
  }
  return out;
}

/** One client calling the backend directly (undici keep-alive Pool) with the message the clients send. */
async function directCall(gen, backend, text) {
  const args = { url: backend.info.url, path: '/message', text };
  await gen.call('direct', { ...args, durationMs: profile.singleWarmMs }, 60_000);
  const r = await gen.call('direct', { ...args, durationMs: profile.singleMs }, 60_000);
  if (r.errors > 0) throw new Error(`backend: ${r.errors} direct calls failed: ${r.firstError}`);
  return r;
}

async function phaseMemory(server) {
  const gens = [await loadgen(0), await loadgen(1)];
  // A few connections first, so code loaded and compiled for the first one is in the baseline.
  await connect(gens[0], server, profile.memoryWarmConnections);
  const before = await server.call('memory');
  const total = profile.memoryConnections;
  const half = Math.ceil(total / 2);
  // 250 handshakes in flight per load generator: the figure is memory, not speed.
  await Promise.all([connect(gens[0], server, half, { concurrency: 250 }), connect(gens[1], server, total - half, { concurrency: 250 })]);
  await new Promise((resolve) => setTimeout(resolve, options.mode === 'smoke' ? 20 : 300));
  return { memory: memoryFigure(before, await server.call('memory'), total) };
}

function memoryFigure(before, after, total) {
  return {
    value: (after.rss - before.rss) / total,
    heapPerConnection: (after.heapUsed - before.heapUsed) / total,
    externalPerConnection: (after.external - before.external) / total,
    connections: total,
    serverConnections: after.connections,
    rssBefore: before.rss,
    rssAfter: after.rss,
    // Every connection the load generators opened must still be held by the server.
    lost: Math.max(0, before.connections + total - after.connections),
  };
}

/**
 * The cluster session: two nodes (both on the server core, so the cluster gets the CPU one
 * node had) on a private redis-server, half the subscribers on each; publishes enter at
 * node A. First the rate as fast as the pacing allows, then stamped publishes at a share of
 * it for the publish-to-delivery latency.
 */
async function phaseCluster([nodeA, nodeB], scenarios) {
  if (!scenarios.has('cluster')) return {};
  const gen = await loadgen(0);
  const subscribers = profile.smallSubscribers;
  const onA = Math.ceil(subscribers / 2);
  await topUp(gen, nodeA, onA);
  await topUp(gen, nodeB, subscribers - onA);
  const preparedA = await nodeA.call('prepare', { topic: TOPIC });
  const preparedB = await nodeB.call('prepare', { topic: TOPIC });
  if (preparedA.subscribed + preparedB.subscribed !== subscribers) {
    throw new Error(`cluster: ${preparedA.subscribed} + ${preparedB.subscribed} of ${subscribers} subscribed`);
  }
  // --profile: node B's share of the measured block too (measureFanout profiles node A).
  if (options.profile) await nodeB.call('profileStart');
  const rate = await measureFanout(gen, nodeA, subscribers, 'cluster');
  if (options.profile) {
    const file = path.join(outDir, 'profiles', `cluster-r${nodeA.round}-node-b.cpuprofile`);
    await nodeB.call('profileStop', { file });
    console.log(`profile: ${path.relative(process.cwd(), file)}`);
  }
  const messagesPerSecond = Math.max(10, Math.floor((rate.value / subscribers) * profile.clusterLatencyLoad));
  // The target's figure keeps the load shape of the rate run (messagesPerTurn messages per
  // turn), so that half the rate is half the work. A steady stream of single messages at the
  // same rate costs a socket write per message per subscriber instead of one per turn, which
  // on one shared core is more than the cluster can do (see the CPU figures it records).
  const batched = await stampedLatency(gen, [nodeA, nodeB], subscribers, messagesPerSecond, profile.messagesPerTurn);
  const steady = await stampedLatency(gen, [nodeA, nodeB], subscribers, messagesPerSecond, 1);
  return {
    cluster: {
      ...rate,
      lost: rate.lost + batched.lost + steady.lost,
      p50: batched.p50,
      p99: batched.p99,
      max: batched.max,
      latencySamples: batched.count,
      latencyRate: messagesPerSecond,
      latencyCpu: batched.cpu,
      steadyP50: steady.p50,
      steadyP99: steady.p99,
      steadyCpu: steady.cpu,
    },
  };
}

/**
 * Node A publishes stamped messages at `messagesPerSecond`, `batch` at a time; the load
 * generator reads the stamp of every delivery. Also returns how busy both nodes were
 * together (share of one core: they share the server core).
 */
async function stampedLatency(gen, nodes, subscribers, messagesPerSecond, batch) {
  const [nodeA] = nodes;
  await gen.call('reset');
  const before = await Promise.all(nodes.map((node) => node.call('cpu')));
  await gen.call('stampsStart');
  const published = await nodeA.call('publishStamped', { topic: TOPIC, rate: messagesPerSecond, durationMs: profile.latencyMs, size: profile.messageSize, batch }, 60_000);
  const expected = published.published * subscribers;
  const got = await gen.call('await', { frames: expected, timeoutMs: 15_000 }, 20_000);
  const after = await Promise.all(nodes.map((node) => node.call('cpu')));
  const latency = await gen.call('stampsStop');
  const cpu = nodes.reduce((sum, _, i) => sum + (after[i].cpuMs - before[i].cpuMs) / (after[i].at - before[i].at), 0);
  return {
    lost: Math.max(0, expected - got.frames) + Math.max(0, expected - published.delivered),
    p50: latency.p50,
    p99: latency.p99,
    max: latency.max,
    count: latency.count,
    cpu,
  };
}

const PHASES = { small: phaseSmall, large: phaseLarge, http: phaseHttp, memory: phaseMemory };

/** Both nodes of the cluster stack and their Redis, the cluster phase on them, everything stopped. */
async function runOnCluster(stack, round, phases) {
  const redis = await startRedis();
  const nodes = [];
  try {
    for (const id of ['a', 'b']) {
      const node = await spawnServer(stack, ['--backplane', redis.url, '--node-id', `bench-${id}`], `server ${stack} ${id}`);
      node.round = round;
      nodes.push(node);
    }
    const out = {};
    for (const [, scenarios] of phases) Object.assign(out, await phaseCluster(nodes, scenarios));
    const counters = await (await loadgen(0)).call('counters');
    if (counters.unexpectedCloses > 0) throw new Error(`cluster: ${counters.unexpectedCloses} connections closed by a server`);
    return out;
  } finally {
    await Promise.all(loadgens.map((gen) => gen.call('close').catch(() => undefined)));
    await Promise.all(nodes.map((node) => stopChild(node)));
    await redis.stop();
  }
}

/** One server process for `stack`, the given phases run on it in order, then everything closed. */
async function runOnServer(stack, round, phases) {
  if (STACKS[stack].cluster) return runOnCluster(stack, round, phases);
  // The backend shares the load generator's core: the server under test keeps its own.
  const backend = STACKS[stack].backend ? await startChild(`backend of ${stack}`, path.join(here, 'servers/http-backend.js'), { cpu: LOADGEN_CPU }) : undefined;
  if (backend !== undefined) children.add(backend);
  const server = await spawnServer(stack, backend === undefined ? [] : ['--backend-url', backend.info.url]).catch(async (err) => {
    if (backend !== undefined) await stopChild(backend);
    throw err;
  });
  server.round = round;
  server.backend = backend;
  const out = {};
  try {
    // A --compare-dist twin runs the phases of the stack it twins.
    for (const [phase, scenarios] of phases) Object.assign(out, await PHASES[phase](server, scenarios, stack.split('@')[0]));
    for (const gen of loadgens) {
      const counters = await gen.call('counters');
      if (counters.unexpectedCloses > 0) throw new Error(`${server.name}: ${counters.unexpectedCloses} connections closed by the server`);
    }
  } finally {
    await Promise.all(loadgens.map((gen) => gen.call('close').catch(() => undefined)));
    await stopChild(server);
    if (backend !== undefined) await stopChild(backend);
  }
  return out;
}

// ---- the run ----

/** Busy and total jiffies of all cores, from /proc/stat; undefined where there is none. */
function cpuTimes() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Waits (up to 3 s) until the machine is quiet: the previous stack's thousands of sockets are
 * still being torn down by the kernel for a moment after its processes exit, and the next
 * stack would pay for it.
 */
async function settle() {
  const until = Date.now() + 3000;
  let before = cpuTimes();
  while (before !== undefined && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const after = cpuTimes();
    const busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    if (busy < 0.1) return;
    before = after;
  }
}

function describe(scenario, m) {
  const unit = SCENARIOS[scenario].unit;
  const value = unit === 'bytes/connection' ? `${(m.value / 1024).toFixed(2)} KiB/connection` : `${formatRate(m.value)} ${unit}`;
  const p99 = m.p99 !== undefined ? `, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms` : '';
  const cpu = m.serverCpu !== undefined ? ` [cpu: server ${m.serverCpu.toFixed(2)}, load generator ${m.loadgenCpu.toFixed(2)}]` : '';
  return `${value}${p99}${m.lost > 0 ? `, LOST ${m.lost}` : ''}${cpu}`;
}

async function main() {
  const started = Date.now();
  const loadAverageAtStart = os.loadavg()[0];
  const wanted = plan();
  const rounds = profile.rounds;
  console.log(
    `switchboard bench: ${options.mode} mode, ${rounds} round(s), scenarios ${[...wanted.keys()].join(', ')}; ` +
      `pinning ${pinningAvailable() ? `server on core ${SERVER_CPU}, load generator on core ${LOADGEN_CPU}` : 'unavailable'}; open files ${openFiles}`,
  );
  // measurements[scenario][stack] = [per round]
  const measurements = {};
  const errors = [];
  const record = (results, stack) => {
    for (const [scenario, m] of Object.entries(results)) {
      if (!wanted.get(scenario)?.has(stack)) continue;
      ((measurements[scenario] ??= {})[stack] ??= []).push(m);
    }
  };
  // Units of work: (tag, stack, [[phase, scenarios]]), in the order they run.
  const units = [];
  const phasesOf = (session, stack) => {
    const names = [...wanted.keys()].filter((name) => sessionOf(name) === session && wanted.get(name).has(stack));
    return names.length === 0 ? [] : [[session, new Set(names)]];
  };
  const stacksOf = (sessions) => [...new Set([...wanted.entries()].filter(([name]) => sessions.includes(sessionOf(name))).flatMap(([, s]) => [...s]))];
  for (let round = 1; round <= rounds; round++) {
    if (options.mode === 'smoke') {
      for (const stack of stacksOf(SESSION_ORDER)) units.push({ tag: `all-r${round}`, label: `[all ${round}/${rounds}] ${stack}`, stack, round, phases: SESSION_ORDER.flatMap((session) => phasesOf(session, stack)) });
    }
  }
  if (options.mode !== 'smoke') {
    for (const session of SESSION_ORDER) {
      for (let round = 1; round <= rounds; round++) {
        for (const stack of stacksOf([session])) units.push({ tag: `${session}-r${round}`, label: `[${session} ${round}/${rounds}] ${stack}`, stack, round, phases: phasesOf(session, stack) });
      }
    }
  }
  for (const unit of units) {
    if (options.mode !== 'smoke') await settle();
    const unitStarted = Date.now();
    try {
      const results = await runOnServer(unit.stack, unit.round, unit.phases);
      record(results, unit.stack);
      const took = `(${((Date.now() - unitStarted) / 1000).toFixed(1)} s)`;
      for (const [scenario, m] of Object.entries(results)) console.log(`${unit.label} ${scenario}: ${describe(scenario, m)} ${took}`);
    } catch (err) {
      errors.push({ unit: unit.tag, stack: unit.stack, round: unit.round, error: err.message });
      console.error(`${unit.label} FAILED: ${err.message}`);
    }
  }
  await Promise.all(loadgens.map((gen) => gen.stop()));

  const report = buildReport({
    mode: options.mode,
    profile,
    rounds,
    pinning: pinningAvailable() ? { server: SERVER_CPU, loadGenerator: LOADGEN_CPU } : null,
    openFiles,
    measurements,
    scenarios: Object.fromEntries(Object.entries(SCENARIOS).map(([name, def]) => [name, { ...def, title: def.title(profile) }])),
    stacks: STACKS,
    targets: TARGETS,
    notMeasurable: NOT_MEASURABLE,
    errors,
    loadAverageAtStart,
    root,
    seconds: (Date.now() - started) / 1000,
  });
  const files = writeReports(report, outDir, baseName);
  console.log(`\n${report.markdownTables}`);
  console.log(`wrote ${files.join(', ')} in ${report.durationSeconds.toFixed(0)} s`);
  const lost = report.lossCheck.lost;
  if (errors.length > 0 || lost > 0) {
    console.error(`bench: ${errors.length} session(s) failed, ${lost} message(s)/connection(s) lost`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
