import type { Socket, AddressInfo } from 'node:net';
import type { WebSocket } from 'ws';
import type { EdgeSettings, HostPort, Limits } from '../config/index.js';
import { ConnectionRecord, OutboundFrame, type ConnectionRegistry } from '../connections/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import type { AuthFailureThrottle } from '../ratelimit/index.js';
import type { RealtimeProtocol } from '../realtime/index.js';
import { contentTypeOf, type BackendResponse, type RouteMatch, type RouteTable } from '../routing/index.js';
import type { Clock } from '../time/index.js';
import { ClientServer } from './client-server.js';
import { CloseCode, CloseReason } from './close-codes.js';
import { Handshake, type PendingConnection } from './handshake.js';
import { HandshakeGuard } from './handshake-guard.js';
import { Heartbeat } from './heartbeat.js';
import { normalizeAddress } from './identity.js';
import { IntegrationCalls } from './integration-calls.js';
import { OutboundFlusher } from './outbound.js';
import { ClientSession, isTextual } from './session.js';
import type { SessionLifecycle, SessionRoles } from './session-roles.js';

export interface ClientEdgeOptions {
  nodeId: string;
  listen: HostPort;
  limits: Limits;
  trustedProxies: string[];
  routes: RouteTable;
  registry: ConnectionRegistry;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  realtime?: RealtimeProtocol;
  /** Told when a registered connection goes (leave events, cluster presence). */
  onConnectionGone?: (record: ConnectionRecord) => void;
  /** Origin allow-list; absent: any origin. */
  edge?: EdgeSettings;
  /** PEM certificate and key: the listener speaks TLS (wss://). */
  tls?: { certPem: string; keyPem: string };
  /** Failed realtime token checks per source address; a blocked address gets 429 before the upgrade. */
  authFailureThrottle?: AuthFailureThrottle;
}

/** How long a hard stop waits for disconnect calls already under way. */
const STOP_GRACE_MS = 500;

/**
 * The client listener: puts the server, the handshake, the heartbeat, the outbound path and
 * the integration calls together, and keeps the node's open sessions from open to gone.
 * One per node.
 */
export class ClientEdge implements SessionLifecycle {
  private readonly options: ClientEdgeOptions;
  private readonly server: ClientServer;
  private readonly handshake: Handshake;
  private readonly heartbeat: Heartbeat;
  private readonly integrations: IntegrationCalls;
  private readonly roles: SessionRoles;
  private readonly sessions = new Set<ClientSession>();

  constructor(options: ClientEdgeOptions) {
    this.options = options;
    const { limits, clock, log, metrics, realtime } = options;
    const trusted = new Set(options.trustedProxies.map(normalizeAddress));
    this.integrations = new IntegrationCalls({ limits, clock, log, metrics, trusted });
    const flusher = new OutboundFlusher(clock, metrics.traffic, limits.outboundBufferBytes);
    this.roles = { limits, clock, log, traffic: metrics.traffic, realtime, lifecycle: this, flusher, integrations: this.integrations };
    const guard = new HandshakeGuard(limits, options.edge);
    this.handshake = new Handshake(
      { nodeId: options.nodeId, limits, clock, log, metrics, routes: options.routes, registry: options.registry, realtime, guard, integrations: this.integrations, trusted, authFailureThrottle: options.authFailureThrottle },
      (ws, socket, match, connection, welcome) => this.opened(ws, socket, match, connection, welcome),
    );
    this.server = new ClientServer({ limits, routes: options.routes, guard, tls: options.tls }, this.handshake.upgrade);
    this.heartbeat = new Heartbeat(limits, clock, this.sessions);
  }

  async listen(): Promise<AddressInfo> {
    const address = await this.server.listen(this.options.listen);
    this.heartbeat.start();
    return address;
  }

  address(): AddressInfo {
    return this.server.address();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /**
   * Graceful drain: stop accepting, close every client with 1001, wait for the disconnect
   * integrations (bounded), then drop whatever is left.
   */
  async drain(boundMs: number): Promise<void> {
    const closed = this.server.stopAccepting();
    this.handshake.stop();
    for (const session of [...this.sessions]) session.close(CloseCode.GOING_AWAY, CloseReason.SHUTTING_DOWN);
    const deadline = sleep(boundMs);
    await Promise.race([deadline.promise, this.allClosed().then(() => this.integrations.disconnectsDone())]);
    for (const session of [...this.sessions]) session.terminate(CloseReason.DRAIN_DEADLINE);
    await Promise.race([closed, sleep(1000).promise]);
    deadline.cancel();
    this.heartbeat.stop();
  }

  /**
   * Hard stop for tests and failures: sockets dropped at once; disconnect calls get a short
   * grace, never the backends' read timeouts (the node aborts what is left when it closes its pools).
   */
  async close(): Promise<void> {
    this.heartbeat.stop();
    this.handshake.stop();
    for (const session of [...this.sessions]) session.terminate(CloseReason.SERVER_CLOSED);
    this.server.dropConnections();
    await this.server.stopAccepting();
    const grace = sleep(STOP_GRACE_MS);
    await Promise.race([this.integrations.disconnectsDone(), grace.promise]);
    grace.cancel();
  }

  forget(session: ClientSession): void {
    if (this.options.registry.remove(session.record)) this.options.onConnectionGone?.(session.record);
  }

  ended(session: ClientSession, code: number, reason: string): void {
    this.sessions.delete(session);
    if (session.route.realtime !== undefined) this.options.realtime?.closed(session);
    this.options.metrics.traffic.connectionsClosed++;
    this.options.metrics.closes.inc({ code: String(code) });
    const backend = session.route.disconnect;
    if (backend !== undefined) this.integrations.disconnect(backend, session, code, reason, session.settled());
  }

  /** ws has written the 101: the connection becomes a session, registered and heard. */
  private opened(ws: WebSocket, socket: Socket, match: RouteMatch, connection: PendingConnection, welcome: BackendResponse | undefined): void {
    const pending = connection.record;
    const session = new ClientSession(this.roles, ws, socket, match.route, match.params, this.options.clock.now());
    const record = new ConnectionRecord(pending.id, pending.gatewayId, pending.sourceIp, pending.userAgent, pending.connectedAt, pending.protocol, session, pending.tenantId, pending.userId);
    session.record = record;
    this.options.registry.add(record);
    this.sessions.add(session);
    this.options.metrics.traffic.connectionsOpened++;
    session.listen();
    this.heartbeat.watch(ws);
    if (welcome !== undefined && welcome.body.length > 0) {
      session.write(new OutboundFrame(welcome.body, !isTextual(contentTypeOf(welcome))));
    }
    if (match.route.realtime !== undefined) this.options.realtime?.opened(session, pending.proof);
    // The socket is still corked behind the 101 (Handshake.complete): the first frames join it.
    session.flushIfQueued();
  }

  private async allClosed(): Promise<void> {
    while (this.sessions.size > 0) await sleep(20).promise;
  }
}

function sleep(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
