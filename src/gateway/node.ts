import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AccessKeyRateLimiter, ApiKeyRateLimiter, AuthFailureGate, createManagementApi } from '../api/index.js';
import { registerConsole } from '../console/index.js';
import { GrpcConnectionServer } from '../grpc/index.js';
import { createHub, type EnvelopeFramer, type NodeHub } from '../cluster/index.js';
import { demoGatewaySpec, formatHostPort, loadGatewaySpec, NODE_ID_PATTERN, type GatewaySpec, type SettingSources, type Settings } from '../config/index.js';
import { ConnectionRegistry } from '../connections/index.js';
import { ClientEdge, type RealtimeProtocol } from '../edge/index.js';
import { chooseLogFormat, createLogger, Metrics, type Logger } from '../observability/index.js';
import { AuthFailureThrottle } from '../ratelimit/index.js';
import { createRealtime, type Realtime } from '../realtime/index.js';
import { BackendPools, RouteTable } from '../routing/index.js';
import { systemClock, type Clock } from '../time/index.js';
import { backplaneFailure, listenFailure, unprotectedListener } from './startup-errors.js';
import { ConfigError } from '../errors/index.js';

export interface NodeOptions {
  /** Gateway specs already loaded; default: the files of `settings.specs`, or the demo. */
  specs?: GatewaySpec[];
  clock?: Clock;
  log?: Logger;
  /** Where the listeners and the backplane were set (flag, variable, file), so start-up errors name it. */
  sources?: SettingSources;
}

/**
 * The composition root: builds one node from its settings. Nothing here is global, so a
 * test can run several nodes in one process.
 */
export class SwitchboardNode {
  private stopped = false;
  /** The gRPC ConnectionService, when `settings.grpc` asks for it. */
  private grpc: GrpcConnectionServer | undefined;

  private constructor(
    private readonly state: { ready: boolean },
    readonly settings: Settings,
    readonly nodeId: string,
    readonly log: Logger,
    readonly metrics: Metrics,
    readonly registry: ConnectionRegistry,
    readonly hub: NodeHub,
    readonly edge: ClientEdge,
    readonly api: FastifyInstance,
    private readonly pools: BackendPools,
    readonly specs: GatewaySpec[],
  ) {}

  static async start(settings: Settings, options: NodeOptions = {}): Promise<SwitchboardNode> {
    const log = options.log ?? createLogger(settings.log.level, undefined, chooseLogFormat(settings.log.format, process.stdout.isTTY === true));
    const base: StartBase = {
      settings,
      log,
      sources: options.sources,
      clock: options.clock ?? systemClock,
      nodeId: settings.nodeId ?? deriveNodeId(settings.listen.port),
    };
    const specs = options.specs ?? (settings.specs.length === 0 ? [demoGatewaySpec()] : settings.specs.map((file) => loadGatewaySpec(file)));
    checkUnprotectedListeners(base);
    const core = buildCore(base, specs);
    const hub = await startHub(base, core);
    core.realtime.attach(hub);
    if (hub.backplaneStatus() !== undefined) core.metrics.watchBackplane(() => hub.backplaneStatus()!);
    const edge = buildEdge(base, core, hub);
    const state = { ready: false };
    const management = buildManagement(base, core, hub, state);
    const node = new SwitchboardNode(state, settings, base.nodeId, log, core.metrics, core.registry, hub, edge, management.api, core.pools, specs);
    await node.openListeners(base, management);
    state.ready = true;
    node.logStarted();
    return node;
  }

  /** Management API, gRPC, then the client listener: a failure closes what was opened before it. */
  private async openListeners(base: StartBase, management: Management): Promise<void> {
    const { settings, sources } = base;
    const mgmt = settings.management;
    try {
      await this.api.listen({ host: mgmt.listen.host, port: mgmt.listen.port }).catch(async (err: unknown) => {
        throw await listenFailure('management.listen', mgmt.listen, err, sources);
      });
      if (settings.grpc) this.grpc = await startGrpc(base, settings.grpc, this.hub, management);
      await this.edge.listen().catch(async (err: unknown) => {
        throw await listenFailure('listen', settings.listen, err, sources);
      });
    } catch (err) {
      await this.api.close();
      await this.grpc?.close();
      await this.edge.close().catch(() => undefined);
      await this.hub.close();
      await this.pools.close();
      throw err;
    }
  }

  private logStarted(): void {
    const grpc = this.grpc ? { grpc: formatAddress(this.grpc.address()) } : {};
    this.log.info(
      { nodeId: this.nodeId, client: formatAddress(this.edge.address()), management: formatAddress(this.managementAddress), ...grpc, gateways: this.specs.map((s) => s.gatewayId) },
      'switchboard node started',
    );
  }

  get clientAddress(): AddressInfo {
    return this.edge.address();
  }

  get managementAddress(): AddressInfo {
    return this.api.server.address() as AddressInfo;
  }

  /** The gRPC ConnectionService listener; undefined when `settings.grpc` is absent. */
  get grpcAddress(): AddressInfo | undefined {
    return this.grpc?.address();
  }

  /** SIGTERM: stop accepting, close clients with 1001, deliver disconnects, then stop. */
  async drain(): Promise<void> {
    if (this.stopped) return;
    this.state.ready = false;
    this.log.info({ connections: this.registry.size }, 'draining');
    await this.edge.drain(this.settings.drainSeconds * 1000);
    await this.shutdown();
  }

  /** Immediate stop: sockets dropped, nothing awaited but our own resources. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.state.ready = false;
    await this.edge.close();
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    await this.api.close();
    await this.grpc?.close();
    await this.hub.close();
    await this.pools.close();
  }
}

/** What every start-up step reads. */
interface StartBase {
  settings: Settings;
  log: Logger;
  sources: SettingSources | undefined;
  clock: Clock;
  nodeId: string;
}

/** The node's parts that exist before the hub: the registry, metrics, backend pools, routes, realtime. */
interface Core {
  registry: ConnectionRegistry;
  metrics: Metrics;
  pools: BackendPools;
  routes: RouteTable;
  realtime: Realtime;
  /** One throttle of API-key failures across REST and gRPC. */
  apiKeyFailures: AuthFailureThrottle;
  /** One throttle of client-token failures: the realtime handshake and `refresh`. */
  tokenFailures: AuthFailureThrottle;
}

/** The management API and what the gRPC surface shares with it. */
interface Management {
  api: FastifyInstance;
  /** One budget per key across REST and gRPC. */
  rateLimiter: ApiKeyRateLimiter;
  apiKeyFailures: AuthFailureThrottle;
  metrics: Metrics;
}

/** Without API keys the management and gRPC listeners must stay on loopback. */
function checkUnprotectedListeners({ settings, log, sources }: StartBase): void {
  const mgmt = settings.management;
  if (mgmt.apiKeys.length > 0) return;
  if (!isLoopback(mgmt.listen.host)) throw unprotectedListener('management.listen', mgmt.listen, sources);
  if (settings.grpc && !isLoopback(settings.grpc.listen.host)) throw unprotectedListener('grpc.listen', settings.grpc.listen, sources);
  log.warn({ listen: `${mgmt.listen.host}:${mgmt.listen.port}` }, 'management API has no API key: every local process can use it');
}

function buildCore({ settings, log, clock }: StartBase, specs: GatewaySpec[]): Core {
  const registry = new ConnectionRegistry();
  const metrics = new Metrics(() => registry.size);
  const pools = new BackendPools({
    circuitBreaker: settings.backends.circuitBreaker,
    onCircuitChange: (origin, state, failures) => {
      if (state === 'open') log.warn({ origin, failures, cooldownSeconds: settings.backends.circuitBreaker.cooldownSeconds }, 'backend circuit breaker opened: calls fail fast');
      else log.info({ origin, state }, `backend circuit breaker ${state}`);
    },
  });
  metrics.watchCircuits(() => pools.circuits());
  const routes = new RouteTable(specs, pools, settings.limits.maxMessageBytes);
  // One throttle per secret space: the API keys (REST and gRPC alike), SigV4 secrets, client tokens.
  const apiKeyFailures = new AuthFailureThrottle(settings.auth.failureThrottle);
  const tokenFailures = new AuthFailureThrottle(settings.auth.failureThrottle);
  const realtime = createRealtime({
    jwt: settings.auth.jwt,
    clock,
    log,
    topics: settings.topics,
    pools,
    maxAnswerBytes: settings.limits.outboundBufferBytes,
    tokenFailures: { throttle: tokenFailures, counted: () => metrics.countAuthFailure('realtime') },
  });
  return { registry, metrics, pools, routes, realtime, apiKeyFailures, tokenFailures };
}

async function startHub({ settings, log, clock, nodeId, sources }: StartBase, core: Core): Promise<NodeHub> {
  const backplane = settings.backplane;
  const framer: EnvelopeFramer = core.realtime.framer;
  return createHub({
    nodeId,
    registry: core.registry,
    clock,
    topics: settings.topics,
    framer,
    log,
    maxSubscriptionsPerConnection: settings.limits.maxSubscriptionsPerConnection,
    listen: formatHostPort(settings.listen),
    metricsText: () => core.metrics.registry.metrics(),
    ...(backplane === undefined ? {} : { backplane }),
  }).catch(async (err: unknown) => {
    await core.pools.close();
    // A refusal the backplane explained (a node id held by another node) stands as it is.
    if (backplane === undefined || err instanceof ConfigError) throw err;
    throw await backplaneFailure(backplane, sources);
  });
}

function buildEdge({ settings, log, clock, nodeId }: StartBase, core: Core, hub: NodeHub): ClientEdge {
  return new ClientEdge({
    nodeId,
    listen: settings.listen,
    limits: settings.limits,
    trustedProxies: settings.trustedProxies,
    routes: core.routes,
    registry: core.registry,
    clock,
    log,
    metrics: core.metrics,
    realtime: core.realtime.protocol satisfies RealtimeProtocol,
    onConnectionGone: (record) => hub.connectionGone(record),
    edge: settings.edge,
    authFailureThrottle: core.tokenFailures,
    ...(settings.tls ? { tls: settings.tls } : {}),
  });
}

function buildManagement({ settings, log }: StartBase, core: Core, hub: NodeHub, state: { ready: boolean }): Management {
  const mgmt = settings.management;
  const { metrics, apiKeyFailures } = core;
  const rateLimiter = new ApiKeyRateLimiter(mgmt.apiKeys, mgmt.rateLimit);
  const api = createManagementApi({
    hub,
    apiKeys: mgmt.apiKeys,
    awsAccessKeys: mgmt.awsAccessKeys,
    metrics,
    log,
    ready: () => state.ready,
    rateLimiter,
    accessKeyRateLimiter: new AccessKeyRateLimiter(mgmt.awsAccessKeys, mgmt.rateLimit),
    allowedHosts: mgmt.allowedHosts,
    maxConnections: mgmt.maxConnections,
    timeouts: mgmt.timeouts,
    authFailures: new AuthFailureGate(apiKeyFailures, 'management', metrics),
    awsAuthFailures: new AuthFailureGate(new AuthFailureThrottle(settings.auth.failureThrottle), 'aws', metrics),
    ...(mgmt.tls ? { tls: mgmt.tls } : {}),
  });
  registerConsole(api);
  return { api, rateLimiter, apiKeyFailures, metrics };
}

/** The gRPC ConnectionService; without its own certificate it takes the management listener's (both carry the same keys). */
async function startGrpc({ settings, log, sources }: StartBase, grpc: NonNullable<Settings['grpc']>, hub: NodeHub, management: Management): Promise<GrpcConnectionServer> {
  const mgmt = settings.management;
  const tls = grpc.tls ?? mgmt.tls;
  return GrpcConnectionServer.start({
    listen: grpc.listen,
    hub,
    apiKeys: mgmt.apiKeys,
    log,
    rateLimiter: management.rateLimiter,
    allowedHosts: mgmt.allowedHosts,
    authFailures: new AuthFailureGate(management.apiKeyFailures, 'grpc', management.metrics),
    ...(grpc.maxConnections !== undefined ? { maxConnections: grpc.maxConnections } : {}),
    ...(grpc.idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds: grpc.idleTimeoutSeconds } : {}),
    ...(grpc.keepaliveSeconds !== undefined ? { keepaliveSeconds: grpc.keepaliveSeconds } : {}),
    ...(tls ? { tls } : {}),
  }).catch(async (err: unknown) => {
    throw await listenFailure('grpc.listen', grpc.listen, err, sources);
  });
}

function deriveNodeId(port: number): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '') || 'node';
  // Port 0 picks a free port at listen time: several such nodes on one host need distinct ids.
  const suffix = port === 0 ? `-${randomBytes(3).toString('hex')}` : `-${port}`;
  const id = `${host.slice(0, 20 - suffix.length)}${suffix}`.replace(/^-/, 'n');
  return NODE_ID_PATTERN.test(id) ? id : `node${suffix}`;
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}

function formatAddress(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
