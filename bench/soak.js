// `npm run soak`: holds N connections to one Switchboard node and churns them for a while,
// with subscriptions, management-API publishes and client messages throughout, then checks
// that nothing leaked and nothing was lost:
//
//   - memory (RSS and heap, at the same connection count) returns to within 10% of its value
//     before the churn: the heap after a full collection, RSS after a compacting one (V8's
//     default full GC leaves part-empty old-space pages it may reuse later; both RSS figures
//     are recorded, the compacted one is what tells live memory from held capacity);
//   - timers and listeners do not grow (timers from /metrics, listeners per connection and on
//     the process from the node's process);
//   - every publication the API acknowledged reached every live subscriber of its topic, once
//     and in offset order (each connection checks offsets as they arrive), and no connection
//     was dropped by the server.
//
// The node runs in its own process (bench/soak/server.js) with --expose-gc; the connections
// live in load-generator processes (bench/soak/loadgen.js), each far under the per-process
// open-files limit. Writes bench/results/soak-latest.json and exits 1 if a check failed.
//
// --cluster runs two nodes on a private redis-server (free ports, started and stopped here):
// the load generators split the connections between the nodes, publishes alternate between
// the two management APIs, so every topic's publications come from both nodes and reach
// subscribers on both; every memory, timer and listener check is made on each node. Default
// there: 10,000 connections (5,000 a node) and bench/results/soak-cluster-latest.json.
//
//   node bench/soak.js [--connections 20000] [--minutes 10] [--churn-percent 1]
//                      [--publish-rate 20] [--topics 100] [--history 100] [--chatter 1] [--sample-seconds 10]
//                      [--warmup-churn-seconds 60] [--quiet-seconds 30] [--loadgens N] [--out bench/results/soak-latest.json]
//                      [--smoke] [--cluster]
//
// The baseline is taken after a warm-up that already churns (--warmup-churn-seconds): V8
// sizes its young generation and the allocator its arenas to the churning workload in the
// first seconds; that one-off growth is reported (idle → warm-up) but is not what the 10%
// bound is about. A leak grows with the churn after the baseline, which is what is compared.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { openFilesLimit, startChild } from './lib/control.js';
import { startRedis } from './lib/redis.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

function parseFlags(argv) {
  const smoke = argv.includes('--smoke');
  const cluster = argv.includes('--cluster');
  const flags = {
    connections: smoke ? 300 : cluster ? 10_000 : 20_000,
    minutes: smoke ? 0.1 : 10,
    churnPercent: smoke ? 5 : 1,
    publishRate: smoke ? 40 : 20,
    topics: smoke ? 10 : 100,
    history: smoke ? 20 : 100,
    chatter: 1,
    sampleSeconds: smoke ? 2 : 10,
    warmupSeconds: smoke ? 1 : 10,
    warmupChurnSeconds: smoke ? 2 : 60,
    quietSeconds: smoke ? 0 : 30,
    loadgens: undefined,
    out: path.join(root, cluster ? 'bench/results/soak-cluster-latest.json' : 'bench/results/soak-latest.json'),
    smoke,
    cluster,
  };
  const names = {
    '--connections': 'connections',
    '--minutes': 'minutes',
    '--churn-percent': 'churnPercent',
    '--publish-rate': 'publishRate',
    '--topics': 'topics',
    '--history': 'history',
    '--chatter': 'chatter',
    '--sample-seconds': 'sampleSeconds',
    '--warmup-seconds': 'warmupSeconds',
    '--warmup-churn-seconds': 'warmupChurnSeconds',
    '--quiet-seconds': 'quietSeconds',
    '--loadgens': 'loadgens',
    '--out': 'out',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--smoke' || arg === '--cluster') continue;
    if (arg === '--help' || arg === '-h') {
      console.log(`usage: node bench/soak.js [${Object.keys(names).join(' N] [')} N] [--smoke] [--cluster]`);
      process.exit(0);
    }
    const [flag, inline] = arg.split('=', 2);
    const key = names[flag];
    if (key === undefined) throw new Error(`unknown flag ${arg}`);
    const value = inline ?? argv[++i];
    flags[key] = key === 'out' ? path.resolve(value) : Number(value);
    if (key !== 'out' && !Number.isFinite(flags[key])) throw new Error(`${flag} needs a number, got ${value}`);
  }
  return flags;
}

const flags = parseFlags(process.argv.slice(2));
const MB = 1024 * 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...args) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...args);

// ---- capacity: each node holds its connections plus its own descriptors in one process ----
const NODE_IDS = flags.cluster ? ['soak-a', 'soak-b'] : ['soak'];
const fdLimit = openFilesLimit();
const HEADROOM = 500;
const held = Math.min(flags.connections, (fdLimit - HEADROOM) * NODE_IDS.length);
const clampNote =
  held < flags.connections
    ? `asked for ${flags.connections} connections; each node's process may open ${fdLimit} files (hard limit), so ${held} are held (${HEADROOM} a node left for its own descriptors and churn in flight)`
    : undefined;
const PER_LOADGEN = 8000;
// Load generator i talks to node i mod nodes: a cluster needs one per node at least.
const loadgenCount = Math.max(flags.loadgens ?? Math.ceil(held / PER_LOADGEN), NODE_IDS.length);

// ---- metrics ----
function parseMetrics(text) {
  const read = (name, labels = '') => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return {
    rss: read('process_resident_memory_bytes'),
    heapUsed: read('nodejs_heap_size_used_bytes'),
    handles: read('nodejs_active_handles_total'),
    timers: read('nodejs_active_resources', '{type="Timeout"}') ?? 0,
    openFds: read('process_open_fds'),
    connections: read('switchboard_connections'),
    eventLoopLagP99: read('nodejs_eventloop_lag_p99_seconds'),
  };
}

async function main() {
  log(`holding ${held} connections${clampNote ? ` (${clampNote})` : ''} for ${flags.minutes} min across ${loadgenCount} load generator(s)${flags.cluster ? `, two nodes on a private redis-server` : ''}`);
  const redis = flags.cluster ? await startRedis() : undefined;
  const servers = [];
  const loadgens = [];
  const apis = [];
  try {
    for (const nodeId of NODE_IDS) {
      const env = { SOAK_HISTORY: String(flags.history), ...(redis === undefined ? {} : { SOAK_BACKPLANE: redis.url, SOAK_NODE_ID: nodeId }) };
      servers.push(await startChild(`server-${nodeId}`, path.join(here, 'soak/server.js'), { nodeArgs: ['--expose-gc'], env }));
    }
    const octetsEach = Math.floor(250 / loadgenCount);
    for (let i = 0; i < loadgenCount; i++) {
      const child = await startChild(`loadgen-${i}`, path.join(here, 'soak/loadgen.js'));
      const { port, path: wsPath } = servers[i % servers.length].info;
      await child.call('configure', { port, path: wsPath, topics: flags.topics, sources: [2 + i * octetsEach, 1 + (i + 1) * octetsEach] });
      loadgens.push(child);
    }
    for (const server of servers) apis.push(new Pool(`http://127.0.0.1:${server.info.managementPort}`, { connections: 8, pipelining: 1 }));
    return await soak(servers, loadgens, apis);
  } finally {
    await Promise.allSettled(apis.map((api) => api.close()));
    await Promise.allSettled([...loadgens.map((child) => child.stop()), ...servers.map((server) => server.stop())]);
    await redis?.stop();
  }
}

async function soak(servers, loadgens, apis) {
  const startedAt = new Date();
  const scrape = async (node) => {
    const response = await apis[node].request({ path: '/metrics', method: 'GET' });
    return parseMetrics(await response.body.text());
  };
  const all = (cmd, args, timeoutMs) => Promise.all(loadgens.map((child) => child.call(cmd, typeof args === 'function' ? args(child) : args, timeoutMs)));
  const sum = (rows, key) => rows.reduce((total, row) => total + (row[key] ?? 0), 0);

  // ---- publisher: management API publishes, acknowledged offsets per topic ----
  const acked = {};
  const publisher = { published: 0, acknowledged: 0, failed: 0, paused: false, stopped: false, inFlight: 0, seq: 0, failures: [] };
  const publishOne = async () => {
    const topic = `soak:t${publisher.seq % flags.topics}`;
    const seq = publisher.seq++;
    // Round robin over the nodes, offset per topic round, so each topic hears from every node.
    const api = apis[(seq + Math.floor(seq / flags.topics)) % apis.length];
    publisher.inFlight++;
    publisher.published++;
    try {
      const data = Buffer.from(JSON.stringify({ seq, at: Date.now(), pad: 'x'.repeat(64) })).toString('base64');
      const response = await api.request({
        path: `/apigateways/websocket/v1/topics/${topic}:publish`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data, type: 'TEXT' }),
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`${response.statusCode} ${text.slice(0, 200)}`);
      const { offset } = JSON.parse(text);
      acked[topic] = Math.max(acked[topic] ?? 0, offset);
      publisher.acknowledged++;
    } catch (err) {
      publisher.failed++;
      if (publisher.failures.length < 10) publisher.failures.push(String(err.message ?? err));
    } finally {
      publisher.inFlight--;
    }
  };
  const publishing = (async () => {
    let carry = 0;
    while (!publisher.stopped) {
      await sleep(100);
      if (publisher.paused) continue;
      carry += flags.publishRate / 10;
      const n = Math.floor(carry);
      carry -= n;
      for (let i = 0; i < n && publisher.inFlight < 64; i++) void publishOne();
    }
  })();
  const settle = flags.smoke ? 300 : 1000;
  const quiesce = async (quiet = 0) => {
    publisher.paused = true;
    while (publisher.inFlight > 0) await sleep(10);
    await sleep(settle + quiet * 1000);
  };

  const checkpointOf = async (name, node) => {
    const memory = await servers[node].call('memory', {}, 60_000);
    const metrics = await scrape(node);
    const point = { name, at: Date.now() - startedAt.getTime(), ...memory, metrics };
    log(`${name}${servers.length > 1 ? ` [${NODE_IDS[node]}]` : ''}: ${memory.connections} connections, RSS ${(memory.rss / MB).toFixed(1)} MiB (compacted ${(memory.compacted.rss / MB).toFixed(1)}), heap ${(memory.heapUsed / MB).toFixed(1)} MiB, timers ${memory.resources.Timeout ?? 0} (all, unref'd too: ${memory.globalTimers}), listeners/connection ${memory.listeners.perConnection.toFixed(2)}, process listeners ${memory.listeners.process}`);
    return point;
  };
  /** One checkpoint per node (in turn: each collects its garbage while the other waits). */
  const perNode = servers.map(() => ({}));
  const checkpoint = async (key, name) => {
    for (let node = 0; node < servers.length; node++) perNode[node][key] = await checkpointOf(name, node);
  };

  const samples = [];
  const churnRounds = { rounds: 0, closed: 0, opened: 0, failed: 0, maxMs: 0 };
  try {
    publisher.paused = true;
    await checkpoint('idleBefore', 'idle before');
    // Every topic's history is filled to its cap before anyone connects, so that history
    // growing during the run is not mistaken for a leak (nor a leak hidden by it).
    const prefill = Date.now();
    for (let done = 0; done < flags.history * flags.topics; ) {
      const batch = Math.min(32, flags.history * flags.topics - done);
      await Promise.all(Array.from({ length: batch }, publishOne));
      done += batch;
    }
    log(`filled ${flags.topics} topics' history (${flags.history} each) in ${((Date.now() - prefill) / 1000).toFixed(1)} s`);

    // ---- warm-up: open everything, subscribe, let publications flow ----
    const shares = loadgens.map((_, i) => Math.floor(held / loadgenCount) + (i < held % loadgenCount ? 1 : 0));
    const opening = Date.now();
    const opened = await Promise.all(loadgens.map((child, i) => child.call('open', { count: shares[i], concurrency: 200 }, 30 * 60_000)));
    log(`opened ${sum(opened, 'opened')} connections in ${((Date.now() - opening) / 1000).toFixed(1)} s (${sum(opened, 'failed')} failed after retries)`);
    publisher.paused = false;
    await all('chatter', { perMinute: flags.chatter });
    await sleep(flags.warmupSeconds * 1000);
    await quiesce();
    await checkpoint('beforeWarmupChurn', 'held, before any churn');
    publisher.paused = false;
    /** Each load generator replaces its share of connections; one round a second. */
    const churnRound = async () => {
      const roundStarted = Date.now();
      const results = await all('churn', (child) => ({ count: Math.max(1, Math.round((shares[loadgens.indexOf(child)] * flags.churnPercent) / 100)) }), 120_000);
      const ms = Date.now() - roundStarted;
      await sleep(Math.max(0, 1000 - ms));
      return { closed: sum(results, 'closed'), opened: sum(results, 'opened'), failed: sum(results, 'failed'), ms };
    };
    const warmupChurnEnds = Date.now() + flags.warmupChurnSeconds * 1000;
    let warmupChurned = 0;
    while (Date.now() < warmupChurnEnds) {
      const round = await churnRound();
      warmupChurned += round.closed;
      churnRounds.failed += round.failed;
    }
    // A quiet spell before both compared checkpoints: V8 gives pages back to the system only
    // once allocation slows down (its memory reducer), so both are measured in the same state.
    await all('chatter', { perMinute: 0 });
    await quiesce(flags.quietSeconds);
    await checkpoint('baseline', `baseline (after ${warmupChurned} warm-up churns)`);
    await all('chatter', { perMinute: flags.chatter });
    publisher.paused = false;

    // ---- churn ----
    const churnEnds = Date.now() + flags.minutes * 60_000;
    let nextSample = Date.now() + flags.sampleSeconds * 1000;
    while (Date.now() < churnEnds) {
      const round = await churnRound();
      churnRounds.rounds++;
      churnRounds.closed += round.closed;
      churnRounds.opened += round.opened;
      churnRounds.failed += round.failed;
      churnRounds.maxMs = Math.max(churnRounds.maxMs, round.ms);
      if (Date.now() >= nextSample) {
        nextSample += flags.sampleSeconds * 1000;
        const [nodes, stats] = await Promise.all([Promise.all(servers.map((_, node) => scrape(node))), all('stats', {})]);
        // One node: its metrics as they are; a cluster: summed, with each node's kept beside them.
        const metrics = nodes.length === 1 ? nodes[0] : { ...Object.fromEntries(Object.keys(nodes[0]).map((key) => [key, sum(nodes, key)])), eventLoopLagP99: Math.max(...nodes.map((n) => n.eventLoopLagP99 ?? 0)), nodes: Object.fromEntries(nodes.map((n, i) => [NODE_IDS[i], n])) };
        const sample = { at: Date.now() - startedAt.getTime(), ...metrics, live: sum(stats, 'live'), churned: churnRounds.closed, received: sum(stats, 'received'), gaps: sum(stats, 'gaps'), dropped: sum(stats, 'droppedByServer') };
        samples.push(sample);
        const rss = nodes.map((n) => (n.rss / MB).toFixed(1)).join(' + ');
        log(`t+${(sample.at / 1000).toFixed(0)} s: ${sample.connections} connections, churned ${sample.churned}, RSS ${rss} MiB, heap ${(sample.heapUsed / MB).toFixed(1)} MiB, handles ${sample.handles}, timers ${sample.timers}, delivered ${sample.received}, gaps ${sample.gaps}, dropped ${sample.dropped}, publishes ${publisher.acknowledged}`);
      }
    }
    await all('chatter', { perMinute: 0 });
    // Closing handshakes of the last round and heartbeats settle before the comparison.
    await quiesce(flags.quietSeconds);
    await sleep(settle * 2);
    await checkpoint('end', 'end of churn');

    // ---- loss check: publishing has stopped; every live subscriber has everything ----
    publisher.stopped = true;
    await publishing;
    await sleep(settle * 2);
    const finals = await all('final', { acked });
    const lossy = {
      gaps: sum(finals, 'gaps'),
      missingAtEnd: sum(finals, 'missing'),
      duplicates: sum(finals, 'duplicates'),
      droppedByServer: sum(finals, 'droppedByServer'),
      notSubscribed: sum(finals, 'notSubscribed'),
      openFailed: sum(finals, 'openFailed'),
      errorEnvelopes: sum(finals, 'errorEnvelopes'),
    };
    const delivered = sum(finals, 'received');
    const expectedDeliveries = sum(finals, 'expectedLive') + sum(finals, 'expectedOfClosed');
    const live = sum(finals, 'live');

    // ---- idle again ----
    await all('closeAll', {}, 120_000);
    const connectedNow = async () => sum(await Promise.all(servers.map((server) => server.call('connections'))), 'connections');
    for (let i = 0; i < 100 && (await connectedNow()) > 0; i++) await sleep(100);
    await sleep(settle);
    await checkpoint('idleAfter', 'idle after');

    // ---- verdict ----
    const within = (after, before, share) => after <= before * (1 + share);
    const percent = (after, before) => `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(1)}%`;
    const mib = (bytes) => `${(bytes / MB).toFixed(1)} MiB`;
    const endConnections = sum(perNode.map((points) => points.end), 'connections');
    const checks = [
      { name: 'connections held at the end equal the connections asked to hold', ok: endConnections === held && live === held, detail: `${servers.length > 1 ? 'nodes' : 'node'} ${perNode.map((points) => points.end.connections).join(' + ')}, load generators ${live}, asked ${held}` },
      ...perNode.flatMap((points, node) => nodeChecks(points, servers.length > 1 ? `${NODE_IDS[node]}: ` : '', { within, percent, mib })),
      { name: 'zero publications lost for live subscribers', ok: lossy.gaps === 0 && lossy.missingAtEnd === 0 && delivered === expectedDeliveries, detail: `expected ${expectedDeliveries} deliveries, delivered ${delivered}; gaps ${lossy.gaps}, missing at the end ${lossy.missingAtEnd}` },
      { name: 'no duplicate deliveries', ok: lossy.duplicates === 0, detail: String(lossy.duplicates) },
      { name: 'no connection dropped by the server', ok: lossy.droppedByServer === 0, detail: String(lossy.droppedByServer) },
      { name: 'every publish acknowledged', ok: publisher.failed === 0, detail: `${publisher.acknowledged} acknowledged, ${publisher.failed} failed${publisher.failures.length ? `: ${publisher.failures.join('; ')}` : ''}` },
      { name: 'every connection opened and subscribed', ok: lossy.openFailed === 0 && lossy.notSubscribed === 0 && churnRounds.failed === 0, detail: `open failures ${lossy.openFailed}, not subscribed ${lossy.notSubscribed}` },
    ];
    const report = {
      command: `node bench/soak.js ${process.argv.slice(2).join(' ')}`.trim(),
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      flags: { ...flags, out: path.relative(root, flags.out) },
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAverage: os.loadavg(), openFilesLimit: fdLimit, node: process.version },
      connections: { asked: flags.connections, held, clampNote, loadgens: loadgenCount, nodes: NODE_IDS.length },
      churn: { minutes: flags.minutes, ...churnRounds, warmupChurned, connectionsOpenedInTotal: held + warmupChurned + churnRounds.opened },
      publications: { published: publisher.published, acknowledged: publisher.acknowledged, failed: publisher.failed, topics: flags.topics, historyPerTopic: flags.history, prefilled: flags.history * flags.topics },
      deliveries: { expected: expectedDeliveries, delivered, lost: expectedDeliveries - delivered + lossy.missingAtEnd, ...lossy },
      clientMessages: sum(finals, 'clientMessages'),
      pongs: sum(finals, 'pongs'),
      heartbeatPingsAnswered: sum(finals, 'pingsAnswered'),
      checkpoints: servers.length === 1 ? perNode[0] : Object.fromEntries(perNode.map((points, node) => [NODE_IDS[node], points])),
      samples,
      checks,
      ok: checks.every((c) => c.ok),
    };
    mkdirSync(path.dirname(flags.out), { recursive: true });
    writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log('');
    console.log(`Soak${flags.cluster ? ` (cluster of ${servers.length} nodes on Redis)` : ''}: ${held} connections for ${flags.minutes} min, ${churnRounds.closed} churned (${report.churn.connectionsOpenedInTotal} opened in all), ${publisher.acknowledged} publishes, ${delivered} deliveries`);
    for (const check of checks) console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
    console.log(`  publications lost: ${report.deliveries.lost}`);
    console.log(`Results: ${path.relative(process.cwd(), flags.out)}`);
    return report.ok ? 0 : 1;
  } finally {
    publisher.stopped = true;
  }
}

/** The checks each node must pass: memory back after churn, timers, handles and listeners flat. */
function nodeChecks(points, prefix, { within, percent, mib }) {
  const { baseline: base, end, idleBefore, idleAfter } = points;
  return [
    {
      name: `${prefix}RSS after churn within 10% of the baseline (same connection count, after a compacting GC)`,
      ok: within(end.compacted.rss, base.compacted.rss, 0.1),
      detail: `${(base.compacted.rss / MB).toFixed(1)} → ${(end.compacted.rss / MB).toFixed(1)} MiB (${percent(end.compacted.rss, base.compacted.rss)}); after V8's own full GC ${(base.rss / MB).toFixed(1)} → ${(end.rss / MB).toFixed(1)} MiB (${percent(end.rss, base.rss)}), old-space capacity ${mib(base.heapSpaces.old_space.size)} → ${mib(end.heapSpaces.old_space.size)} for ${mib(base.heapSpaces.old_space.used)} → ${mib(end.heapSpaces.old_space.used)} used`,
    },
    { name: `${prefix}heap after churn within 10% of the baseline (after GC, same connection count)`, ok: within(end.heapUsed, base.heapUsed, 0.1), detail: `${(base.heapUsed / MB).toFixed(1)} → ${(end.heapUsed / MB).toFixed(1)} MiB (${(((end.heapUsed - base.heapUsed) / base.heapUsed) * 100).toFixed(1)}%)` },
    {
      name: `${prefix}timers do not grow`,
      ok: (end.resources.Timeout ?? 0) <= (base.resources.Timeout ?? 0) + 5 && end.globalTimers <= base.globalTimers + 5 && idleAfter.globalTimers <= idleBefore.globalTimers + 5,
      detail: `/metrics ${base.resources.Timeout ?? 0} → ${end.resources.Timeout ?? 0}; all timers ${base.globalTimers} → ${end.globalTimers} (idle ${idleBefore.globalTimers} → ${idleAfter.globalTimers})`,
    },
    {
      // The orchestrator's keep-alive pool to the management API holds up to 8 sockets.
      name: `${prefix}handles besides client connections do not grow`,
      ok: end.metrics.handles - end.connections <= base.metrics.handles - base.connections + 8 && idleAfter.metrics.handles <= idleBefore.metrics.handles + 8,
      detail: `${base.metrics.handles - base.connections} → ${end.metrics.handles - end.connections} at load; ${idleBefore.metrics.handles} → ${idleAfter.metrics.handles} idle (management API keep-alive pool: up to 8)`,
    },
    { name: `${prefix}listeners per connection do not grow`, ok: Math.abs(end.listeners.perConnection - base.listeners.perConnection) < 0.01, detail: `${base.listeners.perConnection.toFixed(3)} → ${end.listeners.perConnection.toFixed(3)}` },
    { name: `${prefix}process listeners do not grow`, ok: end.listeners.process <= base.listeners.process && idleAfter.listeners.process <= idleBefore.listeners.process, detail: `${idleBefore.listeners.process} idle, ${base.listeners.process} → ${end.listeners.process} loaded, ${idleAfter.listeners.process} idle after` },
  ];
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
