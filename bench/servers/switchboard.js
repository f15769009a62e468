// Switchboard under test: one node from the built dist/, a raw path whose message integration
// is a dummy answering "pong" (and, with --connect-integration, a dummy connect integration).
// With --backend-url URL both are `http` integrations instead: every message is POSTed to
// URL/message and its answer relayed back, every handshake (with --connect-integration) asks
// URL/connect first. Fan-out goes through the Hub (`hub.publish`), as the management API and realtime do.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../lib/child.js';
import { memoryReport, pacedPublish, payloadOf, stampedPublish } from './common.js';

/** `--dist DIR`: another build (the run's --compare-dist), for before/after figures in one run. */
const distArg = process.argv.indexOf('--dist');
const dist = distArg === -1 ? new URL('../../dist/src/', import.meta.url) : pathToFileURL(`${path.resolve(process.argv[distArg + 1])}/src/`);
const { SwitchboardNode, defaultSettings, parseGatewaySpec } = await import(new URL('index.js', dist).href);
const { createLogger } = await import(new URL('observability/index.js', dist).href);

const withConnect = process.argv.includes('--connect-integration');
/** `--backplane URL --node-id ID`: one node of a cluster (the cluster scenario starts two). */
function argValue(name) {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}
const backplane = argValue('--backplane');
const nodeId = argValue('--node-id');
const backendUrl = argValue('--backend-url');
const connectIntegration = backendUrl === undefined ? `{type: dummy, http_code: 200, content: ''}` : `{type: http, method: POST, url: '${backendUrl}/connect'}`;
const connectOperation = withConnect
  ? `    x-yc-apigateway-websocket-connect:
      x-yc-apigateway-integration: ${connectIntegration}
`
  : '';
const messageIntegration =
  backendUrl === undefined
    ? `        type: dummy
        http_code: 200
        content: pong
        http_headers: {Content-Type: text/plain}
`
    : `        type: http
        method: POST
        url: '${backendUrl}/message'
`;
const specYaml = `openapi: 3.0.0
info: {title: bench, version: 1.0.0}
x-switchboard: {gatewayId: bench}
paths:
  /bench:
${connectOperation}    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
${messageIntegration}`;

const settings = defaultSettings();
settings.listen = { host: '127.0.0.1', port: 0 };
settings.management.listen = { host: '127.0.0.1', port: 0 };
settings.log = { level: 'silent' };
settings.limits = {
  ...settings.limits,
  maxConnections: 100_000,
  maxConnectionsPerIp: 100_000,
  maxConnectionsPerTenant: 100_000,
  messagesPerSecond: 1e9,
  outboundBufferBytes: 256 * 1024 * 1024,
  // The load generator does not answer pings; no peer pings either.
  heartbeatSeconds: 3600,
  idleTimeoutSeconds: 3600,
  // The connect scenario measures the accept rate itself: no accept budget in its way.
  acceptsPerSecond: 1e9,
  // Every load-generator connection comes from one address: no per-address budgets either.
  acceptsPerSecondPerIp: 0,
  pendingHandshakesPerIp: 100_000,
};

if (backplane !== undefined) settings.backplane = backplane;
if (nodeId !== undefined) settings.nodeId = nodeId;

const node = await SwitchboardNode.start(settings, { specs: [parseGatewaySpec(specYaml, 'bench')], log: createLogger('silent') });

/** The slowest socket of a topic is its last subscriber: every publish writes to it last. */
function lastSubscriberSocket(topic) {
  let last;
  for (const record of node.registry.subscribersOf(topic) ?? []) last = record;
  // ClientSession keeps its net.Socket public (read-only): the bench reads its queue length.
  return last?.transport?.socket;
}

serve(
  {
    async prepare({ topic }) {
      const ids = [...node.registry.all()].map((record) => record.id);
      for (const id of ids) await node.hub.subscribe(id, topic);
      return { subscribed: node.registry.subscribersOf(topic)?.size ?? 0 };
    },
    async publish({ topic, count, batch, size }) {
      const payload = { data: payloadOf(size), binary: false };
      const socket = lastSubscriberSocket(topic);
      const run = await pacedPublish({
        count,
        batch,
        publishOne: () => node.hub.publish(topic, payload),
        backlog: () => (socket === undefined ? 0 : socket.writableLength),
      });
      const delivered = run.results.reduce((sum, result) => sum + result.delivered, 0);
      return { published: run.published, delivered, t0: run.t0, t1: run.t1, waits: run.waits };
    },
    /** Publishes `rate` stamped messages per second for `durationMs`: the latency figure. */
    async publishStamped({ topic, rate, durationMs, size, batch }) {
      const run = await stampedPublish({ rate, durationMs, size, batch, publishOne: (data) => node.hub.publish(topic, { data, binary: false }) });
      const results = await Promise.all(run.pending);
      const delivered = results.reduce((sum, result) => sum + result.delivered, 0);
      return { published: run.published, delivered, t0: run.t0, t1: run.t1 };
    },
    async stats() {
      return { connections: node.registry.size };
    },
    async memory() {
      return { ...(await memoryReport()), connections: node.registry.size };
    },
  },
  { port: node.clientAddress.port, managementPort: node.managementAddress.port, path: '/bench' },
);
