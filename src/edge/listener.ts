import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket, AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EdgeSettings, HostPort, Limits } from '../config/index.js';
import {
  ConnectionRecord,
  MessageIdGenerator,
  OutboundFrame,
  newConnectionId,
  type ConnectionProtocol,
  type ConnectionRegistry,
} from '../connections/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import { retryAfterSeconds, type AuthFailureThrottle } from '../ratelimit/index.js';
import { BackendFailure, forwardableHeaders, type BackendResponse, type RouteMatch, type RouteTable } from '../routing/index.js';
import { formatRfc3339, type Clock } from '../time/index.js';
import { CloseCode } from './close-codes.js';
import type { EdgeContext, RealtimeIdentity, RealtimeProtocol } from './context.js';
import { backendHeaders, withDisconnect } from './backend-headers.js';
import { normalizeAddress, sourceAddress } from './identity.js';
import { ClientSession, isTextual } from './session.js';
import { FrameJoiner } from './frames.js';
import { parseRequestTarget, repeatedIdentityParameter, type RequestTarget } from './request-target.js';
import { HandshakeGuard, type Refusal } from './handshake-guard.js';

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

const kSession = Symbol('switchboard.session');
const kConnectionId = Symbol('switchboard.connectionId');
type SessionSocket = Socket & { [kSession]?: ClientSession };
type TaggedWebSocket = WebSocket & { [kSession]?: ClientSession };
type TaggedRequest = IncomingMessage & { [kConnectionId]?: string };

/** A connection whose handshake is still running (connect integration, auth). */
interface PendingConnection {
  id: string;
  gatewayId: string;
  sourceIp: string;
  userAgent: string;
  connectedAt: number;
  protocol: ConnectionProtocol;
  tenantId: string | undefined;
  userId: string | undefined;
  /** The realtime protocol's proof of the identity, for its `opened`. */
  proof?: unknown;
}

const CONNECTION_ID_HEADER = 'X-Yc-Apigateway-Websocket-Connection-Id';
/** How long a hard stop waits for disconnect calls already under way. */
const STOP_GRACE_MS = 500;
/**
 * How long a connection refused after the upgrade (1008, 1013) may take to answer the close
 * frame before its socket is dropped. ws would wait 30 s, holding a file descriptor no limit
 * counts; a client that means to answer does so in one round trip.
 */
const REFUSED_CLOSE_GRACE_MS = 500;

/**
 * The client listener: upgrades, the connect integration, limits, heartbeats and the
 * lifecycle of every session. One per node.
 */
export class ClientEdge implements EdgeContext {
  readonly limits: Limits;
  readonly clock: Clock;
  readonly log: Logger;
  readonly traffic;
  readonly messageIds = new MessageIdGenerator();
  readonly realtime: RealtimeProtocol | undefined;
  readonly queuedSessions: ClientSession[] = [];
  private readonly frameJoiner = new FrameJoiner();
  readonly flushQueued = (): void => {
    const sessions = this.queuedSessions;
    const now = this.clock.now();
    const joiner = this.frameJoiner;
    for (let i = 0; i < sessions.length; i++) sessions[i]!.flush(now, joiner);
    sessions.length = 0;
    joiner.clear();
  };

  private readonly options: ClientEdgeOptions;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly trusted: ReadonlySet<string>;
  private readonly guard: HandshakeGuard;
  private readonly handshakes = new Set<Socket>();
  /** Handshakes still running per source address: they count against maxConnectionsPerIp. */
  private readonly handshakesPerIp = new Map<string, number>();
  private readonly handshakesPerTenant = new Map<string, number>();
  /** Connections refused after the upgrade whose socket is not gone yet, and their count per address. */
  private readonly refusing = new Set<WebSocket>();
  private readonly refusingPerIp = new Map<string, number>();
  private readonly disconnects = new Set<Promise<void>>();
  private readonly sessions = new Set<ClientSession>();
  private heartbeat: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(options: ClientEdgeOptions) {
    this.options = options;
    this.limits = options.limits;
    this.clock = options.clock;
    this.log = options.log;
    this.traffic = options.metrics.traffic;
    this.realtime = options.realtime;
    this.trusted = new Set(options.trustedProxies.map(normalizeAddress));
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss.on('headers', (headers: string[], req: TaggedRequest) => {
      const id = req[kConnectionId];
      if (id !== undefined) headers.push(`${CONNECTION_ID_HEADER}: ${id}`);
    });
    this.guard = new HandshakeGuard(options.limits, options.edge);
    this.server = createClientServer(options.limits, options.tls);
    this.server.on('request', (req, res) => this.plainRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      try {
        this.upgrade(req, socket, head);
      } catch (err) {
        this.upgradeFailed(socket, err);
      }
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.heartbeat = setInterval(() => this.sweep(), this.limits.heartbeatSeconds * 1000);
    this.heartbeat.unref();
    return this.server.address() as AddressInfo;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /**
   * Graceful drain: stop accepting, close every client with 1001, wait for the disconnect
   * integrations (bounded), then drop whatever is left.
   */
  async drain(boundMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.handshakes) socket.destroy();
    for (const ws of this.refusing) ws.terminate();
    for (const session of [...this.sessions]) session.close(CloseCode.GOING_AWAY, 'server shutting down');
    const deadline = sleep(boundMs);
    await Promise.race([deadline.promise, this.allClosed().then(() => Promise.all([...this.disconnects]))]);
    for (const session of [...this.sessions]) session.terminate('drain deadline');
    await Promise.race([closed, sleep(1000).promise]);
    deadline.cancel();
    this.stopHeartbeat();
  }

  /**
   * Hard stop for tests and failures: sockets dropped at once; disconnect calls get a short
   * grace, never the backends' read timeouts (the node aborts what is left when it closes its pools).
   */
  async close(): Promise<void> {
    this.draining = true;
    this.stopHeartbeat();
    for (const socket of this.handshakes) socket.destroy();
    for (const ws of this.refusing) ws.terminate();
    for (const session of [...this.sessions]) session.terminate('server closed');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    const grace = sleep(STOP_GRACE_MS);
    await Promise.race([Promise.allSettled([...this.disconnects]), grace.promise]);
    grace.cancel();
  }

  // ---- EdgeContext ----

  forget(session: ClientSession): void {
    if (this.options.registry.remove(session.record)) this.options.onConnectionGone?.(session.record);
  }

  connectionClosed(session: ClientSession, code: number, reason: string): void {
    this.sessions.delete(session);
    if (session.route.realtime !== undefined) this.realtime?.closed(session);
    this.traffic.connectionsClosed++;
    this.options.metrics.closes.inc({ code: String(code) });
    const backend = session.route.disconnect;
    if (backend === undefined) return;
    const started = performance.now();
    const call = session
      .settled()
      .then(() =>
        backend.call({ eventType: 'DISCONNECT', headers: session.disconnectHeaders(code, reason), pathParams: session.pathParams }),
      )
      .then(
        (response) => {
          if (response.status >= 300) this.log.warn({ connectionId: session.record.id, status: response.status }, 'disconnect backend answered with an error status');
        },
        (err: unknown) => this.log.warn({ connectionId: session.record.id, err: (err as Error).message }, 'disconnect backend call failed'),
      )
      .finally(() => {
        if (backend.remote) this.observeBackend('DISCONNECT', performance.now() - started);
        this.disconnects.delete(call);
      });
    this.disconnects.add(call);
  }

  observeBackend(event: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', ms: number): void {
    this.options.metrics.backendLatency.observe({ event, outcome: 'done' }, ms / 1000);
  }

  // ---- handshake ----

  private plainRequest(req: IncomingMessage, res: ServerResponse): void {
    const tooLong = this.guard.targetTooLong(req.url);
    if (tooLong !== undefined) {
      res.writeHead(tooLong.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`${tooLong.message}\n`);
      return;
    }
    const pathname = pathOf(req.url);
    const known = pathname !== undefined && this.options.routes.match(pathname) !== undefined;
    const status = known ? 426 : 404;
    const body = known ? 'this path takes WebSocket connections only\n' : 'not found\n';
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...(known ? { upgrade: 'websocket', connection: 'Upgrade' } : {}) });
    res.end(body);
  }

  private upgradeFailed(socket: Socket, err: unknown): void {
    this.log.error({ err }, 'upgrade failed');
    rejectHandshake(socket, 500, 'internal error');
  }

  /**
   * The checks every handshake passes, in this call. A handshake with nothing to wait for (no
   * realtime authentication, no connect integration or a dummy one) completes here too; the
   * others continue in awaitHandshake.
   */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // Node drops its own error listener from a socket handed to 'upgrade': without one, a client
    // that resets while the connect integration runs would crash the process.
    socket.on('error', swallowSocketError);
    if (this.draining) return rejectHandshake(socket, 503, 'server shutting down');
    const sourceIp = sourceAddress(req, this.trusted);
    const early = this.guard.beforeRouting(req.url, sourceIp) ?? this.pendingRefusal(sourceIp);
    if (early !== undefined) return this.refuse(socket, early);
    const url = parseRequestTarget(req.url);
    if (url === undefined) return rejectHandshake(socket, 400, 'bad request target');
    const repeated = repeatedIdentityParameter(url);
    if (repeated !== undefined) {
      this.options.metrics.connectRejections.inc({ reason: 'bad_request' });
      return rejectHandshake(socket, 400, `query parameter "${repeated}" appears more than once`);
    }
    const match = this.options.routes.match(url.pathname);
    if (match === undefined) {
      this.options.metrics.connectRejections.inc({ reason: 'no_route' });
      return rejectHandshake(socket, 404, 'no WebSocket path here');
    }
    // ws checks these too, but only after the connect integration ran: a malformed upgrade
    // must not tell a backend about a connection that can never open.
    const problem = upgradeProblem(req);
    if (problem !== undefined) return rejectHandshake(socket, problem.status, problem.message, undefined, problem.headers);
    const refused = this.guard.afterRouting(req, match.route);
    if (refused !== undefined) return this.refuse(socket, refused);
    const userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : '';
    const limited = this.limitReason(sourceIp);
    if (limited !== undefined) {
      this.options.metrics.connectRejections.inc({ reason: 'limit' });
      return this.acceptThenClose(req, socket, head, sourceIp, CloseCode.TRY_AGAIN_LATER, limited);
    }
    const record: PendingConnection = {
      id: newConnectionId(this.options.nodeId),
      gatewayId: match.route.gatewayId,
      sourceIp,
      userAgent,
      connectedAt: this.clock.now(),
      protocol: match.route.realtime ? 'realtime' : 'raw',
      tenantId: undefined,
      userId: undefined,
    };
    const authenticates = match.route.realtime !== undefined && this.realtime !== undefined;
    const connect = match.route.connect;
    // A fixed answer (dummy) is known now: no promise, no deadline timer per handshake.
    const fixed = connect?.fixedAnswer?.();
    if (!authenticates && (connect === undefined || fixed !== undefined)) {
      let welcome: BackendResponse | undefined;
      if (fixed !== undefined) {
        const answer = connectOutcome(fixed);
        if ('reject' in answer) return this.backendRefused(socket, answer);
        welcome = answer.accept;
      }
      return this.complete(req, socket, head, match, record, welcome);
    }
    this.awaitHandshake(req, socket, head, url, match, record, authenticates, fixed).catch((err: unknown) => this.upgradeFailed(socket, err));
  }

  /** A handshake that waits for authentication or the connect integration; counted as pending meanwhile. */
  private async awaitHandshake(
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    url: RequestTarget,
    match: RouteMatch,
    record: PendingConnection,
    authenticates: boolean,
    fixed: BackendResponse | undefined,
  ): Promise<void> {
    const sourceIp = record.sourceIp;
    this.handshakes.add(socket);
    this.handshakesPerIp.set(sourceIp, (this.handshakesPerIp.get(sourceIp) ?? 0) + 1);
    let countedTenant: string | undefined;
    try {
      if (authenticates) {
        const blockedMs = this.options.authFailureThrottle?.blockedForMs(sourceIp) ?? 0;
        if (blockedMs > 0) {
          this.options.metrics.connectRejections.inc({ reason: 'auth_throttled' });
          return rejectHandshake(socket, 429, 'too many failed authentications from this address', undefined, { 'Retry-After': String(retryAfterSeconds(blockedMs)) });
        }
        let identity: RealtimeIdentity;
        try {
          identity = await this.realtime!.authenticate(url.searchParams);
        } catch (err) {
          return this.authenticationFailed(req, socket, head, sourceIp, err as Error);
        }
        const tenantId = identity.tenantId;
        record.tenantId = tenantId;
        record.userId = identity.userId;
        record.proof = identity.proof;
        const pendingForTenant = this.handshakesPerTenant.get(tenantId) ?? 0;
        if (this.options.registry.connectionsOfTenant(tenantId) + pendingForTenant >= this.limits.maxConnectionsPerTenant) {
          this.options.metrics.connectRejections.inc({ reason: 'limit' });
          return this.acceptThenClose(req, socket, head, sourceIp, CloseCode.TRY_AGAIN_LATER, 'tenant connection limit reached');
        }
        this.handshakesPerTenant.set(tenantId, pendingForTenant + 1);
        countedTenant = tenantId;
      }
      let welcome: BackendResponse | undefined;
      const connect = match.route.connect;
      if (connect !== undefined) {
        const answer = fixed !== undefined ? connectOutcome(fixed) : await this.callConnect(req, url, match, record);
        if ('accept' in answer && (socket.destroyed || this.draining)) {
          // The backend accepted a connection that never opened: it still hears it end.
          this.abandoned(match, record);
          socket.destroy();
          return;
        }
        if (socket.destroyed) return;
        if ('reject' in answer) return this.backendRefused(socket, answer);
        welcome = answer.accept;
      }
      this.complete(req, socket, head, match, record, welcome);
    } finally {
      this.handshakes.delete(socket);
      decrement(this.handshakesPerIp, sourceIp);
      if (countedTenant !== undefined) decrement(this.handshakesPerTenant, countedTenant);
    }
  }

  /**
   * The one place a realtime handshake is decided unauthenticated (a missing, malformed,
   * expired or mismatched token): counted, and the client closed with 1008 and the reason.
   */
  /** The one place a realtime handshake is decided unauthenticated: counted, throttled per address, closed 1008. */
  private authenticationFailed(req: IncomingMessage, socket: Socket, head: Buffer, sourceIp: string, err: Error): void {
    this.options.metrics.connectRejections.inc({ reason: 'unauthenticated' });
    if ((err as { kind?: string }).kind === 'UNAUTHENTICATED') {
      this.options.authFailureThrottle?.recordFailure(sourceIp);
      this.options.metrics.countAuthFailure('realtime');
    }
    this.acceptThenClose(req, socket, head, sourceIp, CloseCode.POLICY_VIOLATION, err.message);
  }

  private backendRefused(socket: Socket, answer: { reject: ConnectRefusal }): void {
    this.options.metrics.connectRejections.inc({ reason: 'backend' });
    rejectHandshake(socket, answer.reject.status, answer.reject.body, answer.reject.contentType, answer.reject.headers);
  }

  /** Hands the socket to ws for the 101 and registers the connection once it is open. */
  private complete(req: IncomingMessage, socket: Socket, head: Buffer, match: RouteMatch, record: PendingConnection, welcome: BackendResponse | undefined): void {
    if (socket.destroyed || this.draining) {
      socket.destroy();
      return;
    }
    (req as TaggedRequest)[kConnectionId] = record.id;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.opened(ws, socket, match, record, welcome));
  }

  private abandoned(match: RouteMatch, record: PendingConnection): void {
    const backend = match.route.disconnect;
    if (backend === undefined) return;
    const headers = withDisconnect(
      backendHeaders(record, 'DISCONNECT', formatRfc3339(record.connectedAt), this.messageIds.next(this.clock.now())),
      1006,
      'client left during the handshake',
    );
    const call = backend
      .call({ eventType: 'DISCONNECT', headers, pathParams: match.params })
      .then(
        () => undefined,
        (err: unknown) => this.log.warn({ connectionId: record.id, err: (err as Error).message }, 'disconnect backend call failed'),
      )
      .finally(() => this.disconnects.delete(call));
    this.disconnects.add(call);
  }

  private refuse(socket: Socket, refusal: Refusal): void {
    this.options.metrics.connectRejections.inc({ reason: refusal.reason });
    const headers = refusal.retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(refusal.retryAfterSeconds) };
    rejectHandshake(socket, refusal.status, refusal.message, undefined, headers);
  }

  /**
   * Handshakes of one address not yet open or gone (waiting on authentication or the connect
   * integration, or refused and closing) past `limits.pendingHandshakesPerIp`: each holds a
   * socket, and a client that never finishes them must not hold every file descriptor.
   */
  private pendingRefusal(sourceIp: string): Refusal | undefined {
    const pending = (this.handshakesPerIp.get(sourceIp) ?? 0) + (this.refusingPerIp.get(sourceIp) ?? 0);
    if (pending < this.limits.pendingHandshakesPerIp) return undefined;
    return { status: 429, reason: 'pending_handshakes', message: 'too many unfinished handshakes from this address: retry later', retryAfterSeconds: 1 };
  }

  private limitReason(sourceIp: string): string | undefined {
    const registry = this.options.registry;
    if (registry.size + this.handshakes.size >= this.limits.maxConnections) return 'server connection limit reached';
    const fromIp = registry.connectionsFromIp(sourceIp) + (this.handshakesPerIp.get(sourceIp) ?? 0);
    if (fromIp >= this.limits.maxConnectionsPerIp) return 'too many connections from this address';
    return undefined;
  }

  private async callConnect(
    req: IncomingMessage,
    url: RequestTarget,
    match: RouteMatch,
    record: PendingConnection,
  ): Promise<ConnectOutcome> {
    const backend = match.route.connect!;
    const headers = backend.remote ? forwardableHeaders(req.headers) : {};
    if (backend.remote) {
      Object.assign(headers, backendHeaders(record, 'CONNECT', formatRfc3339(record.connectedAt), this.messageIds.next(this.clock.now())));
      // Behind a trusted proxy the backend sees the whole chain, as a proxy would pass it on.
      const forwardedFor = req.headers['x-forwarded-for'];
      const peer = normalizeAddress(req.socket.remoteAddress);
      if (typeof forwardedFor === 'string' && this.trusted.has(peer)) headers['x-forwarded-for'] = `${forwardedFor}, ${peer}`;
    }
    const started = performance.now();
    try {
      const timeoutMs = this.limits.handshakeTimeoutSeconds * 1000;
      const call = backend.call({ eventType: 'CONNECT', headers, pathParams: match.params, query: url.search.slice(1), timeoutMs });
      return connectOutcome(await withDeadline(call, timeoutMs));
    } catch (err) {
      const status = err instanceof BackendFailure ? err.status : 502;
      this.log.warn({ path: match.route.spec.path, err: (err as Error).message }, 'connect backend call failed');
      if (err instanceof BackendFailure && err.retryAfterMs !== undefined) {
        // The breaker is open: say so, and when to come back, rather than a bare 503.
        const headers = { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) };
        return { reject: { status, body: `connect ${err.message}`, headers } };
      }
      return { reject: { status, body: status === 504 ? 'connect backend timed out' : 'connect backend unavailable' } };
    } finally {
      if (backend.remote) this.observeBackend('CONNECT', performance.now() - started);
    }
  }

  private opened(ws: WebSocket, socket: Socket, match: RouteMatch, pending: PendingConnection, welcome: BackendResponse | undefined): void {
    const now = this.clock.now();
    const session = new ClientSession(this, ws, socket, match.route, match.params, now);
    const record = new ConnectionRecord(pending.id, pending.gatewayId, pending.sourceIp, pending.userAgent, pending.connectedAt, pending.protocol, session, pending.tenantId, pending.userId);
    session.record = record;
    (ws as TaggedWebSocket)[kSession] = session;
    (socket as SessionSocket)[kSession] = session;
    this.options.registry.add(record);
    this.sessions.add(session);
    this.traffic.connectionsOpened++;
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
    ws.on('pong', onWsPong);
    ws.on('ping', onWsPing);
    ws.on('error', onWsError);
    if (session.frameGuard !== undefined) socket.prependListener('data', onSocketData);
    socket.on('data', onSocketDataHandled);
    if (welcome !== undefined && welcome.body.length > 0) {
      session.write(new OutboundFrame(welcome.body, !isTextual(welcome.headers['content-type'])));
    }
    if (match.route.realtime !== undefined) this.realtime?.opened(session, pending.proof);
  }

  private acceptThenClose(req: IncomingMessage, socket: Socket, head: Buffer, sourceIp: string, code: number, reason: string): void {
    if (socket.destroyed) return;
    // Close codes only exist inside a WebSocket, so the handshake completes and closes at once.
    // Until its socket is gone the connection counts as a pending handshake of its address.
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', swallowSocketError);
      this.refusing.add(ws);
      this.refusingPerIp.set(sourceIp, (this.refusingPerIp.get(sourceIp) ?? 0) + 1);
      const deadline = setTimeout(() => ws.terminate(), REFUSED_CLOSE_GRACE_MS);
      ws.once('close', () => {
        clearTimeout(deadline);
        this.refusing.delete(ws);
        decrement(this.refusingPerIp, sourceIp);
      });
      ws.close(code, reason.slice(0, 123));
    });
  }

  // ---- heartbeat, idle timeout, lifetime ----

  private sweep(): void {
    const now = this.clock.now();
    const idleMs = this.limits.idleTimeoutSeconds * 1000;
    const lifetimeMs = this.limits.maxLifetimeSeconds * 1000;
    const sessions = [...this.sessions];
    // Pings go out in slices so a node with 100k sockets never stalls its loop for all of them.
    const SLICE = 5000;
    const runSlice = (start: number): void => {
      const end = Math.min(start + SLICE, sessions.length);
      for (let i = start; i < end; i++) {
        const session = sessions[i]!;
        if (!session.open) continue;
        const record = session.record;
        if (!record.isAlive) session.terminate('heartbeat lost');
        else if (now - session.lastDataAt >= idleMs) session.close(CloseCode.GOING_AWAY, 'idle timeout');
        else if (now - record.connectedAt >= lifetimeMs) session.close(CloseCode.GOING_AWAY, 'maximum connection lifetime reached');
        else {
          record.isAlive = false;
          session.ws.ping();
        }
      }
      if (end < sessions.length) setImmediate(runSlice, end);
    };
    runSlice(0);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async allClosed(): Promise<void> {
    while (this.sessions.size > 0) await sleep(20).promise;
  }
}

// Shared listeners: `this` is the emitter, the session hangs off it, no closure per socket.
function onWsMessage(this: TaggedWebSocket, data: Buffer, isBinary: boolean): void {
  this[kSession]?.message(data, isBinary);
}
function onWsClose(this: TaggedWebSocket, code: number, reason: Buffer): void {
  this[kSession]?.closed(code, reason.toString('utf8'));
}
function onWsPong(this: TaggedWebSocket): void {
  const session = this[kSession];
  if (session === undefined) return;
  const record = session.record;
  record.isAlive = true;
  session.touch();
  record.lastPing = record.lastActiveAt;
}
function onWsPing(this: TaggedWebSocket): void {
  this[kSession]?.touch();
}
function onWsError(this: TaggedWebSocket, err: Error & { code?: string }): void {
  // ws closes the socket itself (1002/1007/1009 …); the close event fires the disconnect.
  this[kSession]?.ctx.log.debug({ connectionId: this[kSession]?.record.id, err: err.message, code: err.code }, 'client protocol error');
}
function onSocketData(this: SessionSocket, chunk: Buffer): void {
  this[kSession]?.rawData(chunk);
}
/**
 * After ws has parsed a chunk (its listener comes first): what the messages of that chunk
 * answered synchronously (a dummy integration, realtime replies) goes out in one write now,
 * as uWS uncorks at the end of a read, rather than at the end of the turn. Held back, every
 * reply of a turn would leave together after all reads, and the clients' next requests
 * would arrive in one burst while the server sat idle in between.
 */
function onSocketDataHandled(this: SessionSocket): void {
  this[kSession]?.flushIfQueued();
}
function swallowSocketError(): void {}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}

function rejectHandshake(
  socket: Socket,
  status: number,
  body: string | Buffer,
  contentType = 'text/plain; charset=utf-8',
  headers?: Record<string, string>,
): void {
  if (socket.destroyed) return;
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  let extra = '';
  for (const name in headers) extra += `${name}: ${headers[name]!.replace(/[\r\n]/g, '')}\r\n`;
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Connection: close\r\nContent-Type: ${contentType.replace(/[\r\n]/g, '')}\r\nContent-Length: ${payload.length}\r\n${extra}\r\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
}

/**
 * The HTTP(S) server under the client listener. Node checks request timeouts every 30 s by
 * default, which would let a client that never finishes its request head hold a socket for
 * up to 40 s at a 10 s handshake timeout: the check runs at least every second here. With TLS,
 * the TLS handshake gets the same bound (Node's default is 120 s).
 */
function createClientServer(limits: Limits, tls: { certPem: string; keyPem: string } | undefined): Server {
  const timeoutMs = limits.handshakeTimeoutSeconds * 1000;
  const http = {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4))),
  };
  if (tls === undefined) return createServer(http);
  const server = createHttpsServer({ ...http, cert: tls.certPem, key: tls.keyPem, handshakeTimeout: timeoutMs });
  // https hands TLS failures (a handshake timeout among them) to 'clientError', whose HTTP 400
  // would sit unsent on a socket that never became secure: such a socket is dropped instead.
  server.removeAllListeners('tlsClientError');
  server.on('tlsClientError', dropSocket);
  // Node's HTTP layer learns of a TLS connection only once it is secure, so closeAllConnections()
  // would leave sockets still in their TLS handshake, and a hard stop would wait out their
  // handshake timeout: the raw sockets are tracked here and dropped with the rest.
  const raw = new Set<Socket>();
  const forget = function (this: Socket): void {
    raw.delete(this);
  };
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.on('close', forget);
  });
  const closeAllConnections = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAllConnections();
    for (const socket of raw) socket.destroy();
  };
  return server as unknown as Server;
}

function dropSocket(_err: Error, socket: Socket): void {
  socket.destroy();
}

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

interface UpgradeProblem {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** What ws's handleUpgrade would refuse (RFC 6455 §4.2.1), checked before any backend is called. */
function upgradeProblem(req: IncomingMessage): UpgradeProblem | undefined {
  if (req.method !== 'GET') return { status: 400, message: 'a WebSocket upgrade must be a GET request' };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, message: 'invalid Upgrade header' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !WEBSOCKET_KEY.test(key)) return { status: 400, message: 'missing or invalid Sec-WebSocket-Key header' };
  const version = req.headers['sec-websocket-version'];
  // RFC 6455 §4.4: a version the server does not speak gets 426 and the version it does.
  // Version 8 (the last draft, framed the same way) is still let in, as ws lets it in.
  if (version !== '13' && version !== '8') {
    return { status: 426, message: 'unsupported Sec-WebSocket-Version: this server speaks 13', headers: { 'Sec-WebSocket-Version': '13' } };
  }
  return undefined;
}

function pathOf(target: string | undefined): string | undefined {
  return parseRequestTarget(target)?.pathname;
}

interface ConnectRefusal {
  status: number;
  body: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}
type ConnectOutcome = { accept: BackendResponse } | { reject: ConnectRefusal };

/** A connect integration's answer: 2xx lets the client in, anything else is its refusal. */
function connectOutcome(response: BackendResponse): ConnectOutcome {
  if (response.status >= 200 && response.status < 300) return { accept: response };
  const contentType = response.headers['content-type'];
  return { reject: { status: response.status, body: response.body, ...(contentType ? { contentType } : {}) } };
}

/** The handshake timeout bounds the connect integration too, whatever the backend's own read timeout. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BackendFailure(504, `connect integration did not answer within the handshake timeout (${ms} ms)`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
