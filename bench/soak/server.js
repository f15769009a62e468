// The node under soak: one Switchboard node from the built dist/, a realtime path `/soak`
// (tenant and user from the query, no JWT: the soak measures the node, not the verifier),
// history on every topic, real heartbeats; with SOAK_BACKPLANE and SOAK_NODE_ID, one node of a
// cluster (`npm run soak -- --cluster`). It answers the orchestrator's IPC with memory
// after a full collection and with listener counts: the figures /metrics cannot give.
import v8 from 'node:v8';
import { serve } from '../lib/child.js';

// /metrics counts timers through process.getActiveResourcesInfo(), which leaves out unref'd
// ones (the heartbeat sweep, for one). Every timer made through the global functions is
// counted here too, unref'd or not, until it fires or is cleared: ws's closing timers and the
// node's own are among them.
const liveTimers = new Set();
const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout, setInterval: realSetInterval, clearInterval: realClearInterval } = globalThis;
globalThis.setTimeout = function setTimeout(callback, ms, ...args) {
  const timer = realSetTimeout(function fired(...callArgs) {
    liveTimers.delete(timer);
    return callback.apply(this, callArgs);
  }, ms, ...args);
  liveTimers.add(timer);
  return timer;
};
globalThis.setInterval = function setInterval(callback, ms, ...args) {
  const timer = realSetInterval(callback, ms, ...args);
  liveTimers.add(timer);
  return timer;
};
const forget = (timer) => {
  if (timer === undefined || timer === null) return;
  if (!liveTimers.delete(timer)) {
    for (const t of liveTimers) if (t[Symbol.toPrimitive]?.() === timer) liveTimers.delete(t);
  }
};
globalThis.clearTimeout = function clearTimeout(timer) {
  forget(timer);
  return realClearTimeout(timer);
};
globalThis.clearInterval = function clearInterval(timer) {
  forget(timer);
  return realClearInterval(timer);
};

const dist = new URL('../../dist/src/', import.meta.url);
const { SwitchboardNode, defaultSettings, parseGatewaySpec } = await import(new URL('index.js', dist).href);
const { createLogger } = await import(new URL('observability/index.js', dist).href);

const specYaml = `openapi: 3.0.0
info: {title: soak, version: 1.0.0}
x-switchboard: {gatewayId: soak}
paths:
  /soak:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
`;

const historySize = Number(process.env.SOAK_HISTORY ?? 200);
const settings = defaultSettings();
settings.listen = { host: '127.0.0.1', port: 0 };
settings.management.listen = { host: '127.0.0.1', port: 0 };
settings.log = { level: 'error' };
settings.topics = [{ pattern: '*', historySize, historyTtlSeconds: 600, presence: false, joinLeave: false }];
settings.limits = {
  ...settings.limits,
  maxConnections: 100_000,
  maxConnectionsPerIp: 100_000,
  maxConnectionsPerTenant: 100_000,
  messagesPerSecond: 1000,
  ...(process.env.SOAK_HEARTBEAT_SECONDS ? { heartbeatSeconds: Number(process.env.SOAK_HEARTBEAT_SECONDS) } : {}),
};
// The soak opens its connections as fast as it can on purpose: the accept-rate limit (a
// defence against reconnect storms) is lifted so it measures holding, not admission.
settings.limits.acceptsPerSecond = 1_000_000;
if (process.env.SOAK_BACKPLANE) settings.backplane = process.env.SOAK_BACKPLANE;
if (process.env.SOAK_NODE_ID) settings.nodeId = process.env.SOAK_NODE_ID;
// Its connections all come from one address: the per-address budgets are lifted too.
settings.limits.acceptsPerSecondPerIp = 0;
settings.limits.pendingHandshakesPerIp = 100_000;

const node = await SwitchboardNode.start(settings, { specs: [parseGatewaySpec(specYaml, 'soak')], log: createLogger('error') });

async function collect() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A full collection that compacts every page: V8 compacts only pages its heuristics pick, so
 * after churn old space may hold many part-empty pages (capacity, not live data) that the
 * default collection keeps. Compacting tells the two apart; the flag is set only around it.
 */
async function collectCompacting() {
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    await collect();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

function heapSpaces() {
  return Object.fromEntries(v8.getHeapSpaceStatistics().map((space) => [space.space_name, { size: space.space_size, used: space.space_used_size }]));
}

function listenerTotal(emitter) {
  let total = 0;
  for (const name of emitter.eventNames()) total += emitter.listenerCount(name);
  return total;
}

/** Listeners on what lives as long as the process, and per connection (socket + WebSocket). */
function listeners() {
  let perConnection = 0;
  let connections = 0;
  for (const record of node.registry.all()) {
    const transport = record.transport;
    if (transport?.socket === undefined || transport.ws === undefined) continue;
    perConnection += listenerTotal(transport.socket) + listenerTotal(transport.ws);
    connections++;
  }
  return {
    process: listenerTotal(process),
    connections,
    perConnectionTotal: perConnection,
    perConnection: connections === 0 ? 0 : perConnection / connections,
  };
}

function resources() {
  const counts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

serve(
  {
    async memory() {
      await collect();
      const usage = process.memoryUsage();
      const spaces = heapSpaces();
      await collectCompacting();
      const compacted = process.memoryUsage();
      return {
        compacted: { rss: compacted.rss, heapUsed: compacted.heapUsed, heapTotal: compacted.heapTotal, heapSpaces: heapSpaces() },
        rss: usage.rss,
        heapUsed: usage.heapUsed,
        heapTotal: usage.heapTotal,
        external: usage.external,
        arrayBuffers: usage.arrayBuffers,
        gc: globalThis.gc !== undefined,
        connections: node.registry.size,
        listeners: listeners(),
        resources: resources(),
        globalTimers: liveTimers.size,
        heapSpaces: spaces,
      };
    },
    async connections() {
      return { connections: node.registry.size };
    },
  },
  { port: node.clientAddress.port, managementPort: node.managementAddress.port, path: '/soak' },
);
