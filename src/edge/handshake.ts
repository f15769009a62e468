import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Limits } from '../config/index.js';
import { newConnectionId, type ConnectionProtocol, type ConnectionRegistry } from '../connections/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import { retryAfterSeconds, type AuthFailureThrottle } from '../ratelimit/index.js';
import type { RealtimeProtocol } from '../realtime/index.js';
import type { BackendResponse, RouteMatch, RouteTable } from '../routing/index.js';
import { formatRfc3339, type Clock } from '../time/index.js';
import { answerOnSocket } from './client-server.js';
import { CloseCode, CloseReason, truncateReason } from './close-codes.js';
import type { HandshakeGuard, Refusal } from './handshake-guard.js';
import { sourceAddress } from './identity.js';
import { connectOutcome, type CallingConnection, type ConnectRefusal, type HeaderFields, type IntegrationCalls } from './integration-calls.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { parseRequestTarget, repeatedIdentityParameter, type RequestTarget } from './request-target.js';

export interface HandshakeOptions {
  nodeId: string;
  limits: Limits;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  routes: RouteTable;
  registry: ConnectionRegistry;
  realtime: RealtimeProtocol | undefined;
  guard: HandshakeGuard;
  integrations: IntegrationCalls;
  trusted: ReadonlySet<string>;
  /** Failed realtime token checks per source address; a blocked address gets 429 before the upgrade. */
  authFailureThrottle?: AuthFailureThrottle | undefined;
}

/** What is known of a connection whose handshake is still running (connect integration, auth). */
export interface PendingFields extends HeaderFields {
  readonly gatewayId: string;
  readonly connectedAt: number;
  readonly protocol: ConnectionProtocol;
  tenantId: string | undefined;
  userId: string | undefined;
  /** The realtime protocol's proof of the identity, for its `opened`. */
  proof: unknown;
}

export interface PendingConnection extends CallingConnection {
  readonly record: PendingFields;
}

/** The handshake succeeded: ws has written the 101 (to the socket, corked until this returns) and the connection is open. */
export type OpenedHandler = (ws: WebSocket, socket: Socket, match: RouteMatch, connection: PendingConnection, welcome: BackendResponse | undefined) => void;

const CONNECTION_ID_HEADER = 'X-Yc-Apigateway-Websocket-Connection-Id';
/**
 * How long a connection refused after the upgrade (1008, 1013) may take to answer the close
 * frame before its socket is dropped. ws would wait 30 s, holding a file descriptor no limit
 * counts; a client that means to answer does so in one round trip.
 */
const REFUSED_CLOSE_GRACE_MS = 500;

const kConnectionId = Symbol('switchboard.connectionId');
type TaggedRequest = IncomingMessage & { [kConnectionId]?: string };

/**
 * Every upgrade from request to open connection or refusal: the guard's budgets, routing, the
 * Origin policy, the connection limits, realtime authentication and the connect integration.
 */
export class Handshake {
  private readonly wss: WebSocketServer;
  private readonly pending: PendingHandshakes;
  private draining = false;

  constructor(
    private readonly options: HandshakeOptions,
    private readonly opened: OpenedHandler,
  ) {
    this.pending = new PendingHandshakes(options.limits, options.registry);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.limits.maxMessageBytes, perMessageDeflate: false, clientTracking: false });
    this.wss.on('headers', (headers: string[], req: TaggedRequest) => {
      const id = req[kConnectionId];
      if (id !== undefined) headers.push(`${CONNECTION_ID_HEADER}: ${id}`);
    });
  }

  /** The server's 'upgrade' listener. */
  readonly upgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    try {
      this.begin(req, socket, head);
    } catch (err) {
      this.failed(socket, err);
    }
  };

  /** From now on every upgrade is answered 503 and no waiting handshake completes; those waiting are dropped. */
  stop(): void {
    this.draining = true;
    this.pending.dropAll();
  }

  /**
   * The checks every handshake passes, in this call. A handshake with nothing to wait for (no
   * realtime authentication, no connect integration or a dummy one) completes here too; the
   * others continue in awaitHandshake.
   */
  private begin(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // Node drops its own error listener from a socket handed to 'upgrade': without one, a client
    // that resets while the connect integration runs would crash the process.
    socket.on('error', swallowSocketError);
    if (this.draining) return answerOnSocket(socket, 503, CloseReason.SHUTTING_DOWN);
    const sourceIp = sourceAddress(req, this.options.trusted);
    const routed = this.route(req, socket, sourceIp);
    if (routed === undefined) return;
    const { url, match } = routed;
    const limited = this.pending.limitReason(sourceIp);
    if (limited !== undefined) {
      this.options.metrics.connectRejections.inc({ reason: 'limit' });
      return this.acceptThenClose(req, socket, head, sourceIp, CloseCode.TRY_AGAIN_LATER, limited);
    }
    const connection = this.pendingConnection(req, match, sourceIp);
    const authenticates = match.route.realtime !== undefined && this.options.realtime !== undefined;
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
      return this.complete(req, socket, head, match, connection, welcome);
    }
    this.awaitHandshake(req, socket, head, url, match, connection, authenticates, fixed).catch((err: unknown) => this.failed(socket, err));
  }

  /** The checks before the connection limits; undefined when one of them refused (and answered) the handshake. */
  private route(req: IncomingMessage, socket: Socket, sourceIp: string): { url: RequestTarget; match: RouteMatch } | undefined {
    const metrics = this.options.metrics;
    const early = this.options.guard.beforeRouting(req.url, sourceIp) ?? this.pending.refusal(sourceIp);
    if (early !== undefined) return void this.refuse(socket, early);
    const url = parseRequestTarget(req.url);
    if (url === undefined) return void answerOnSocket(socket, 400, 'bad request target');
    const repeated = repeatedIdentityParameter(url);
    if (repeated !== undefined) {
      metrics.connectRejections.inc({ reason: 'bad_request' });
      return void answerOnSocket(socket, 400, `query parameter "${repeated}" appears more than once`);
    }
    const match = this.options.routes.match(url.pathname);
    if (match === undefined) {
      metrics.connectRejections.inc({ reason: 'no_route' });
      return void answerOnSocket(socket, 404, 'no WebSocket path here');
    }
    // ws checks these too, but only after the connect integration ran: a malformed upgrade
    // must not tell a backend about a connection that can never open.
    const problem = upgradeProblem(req);
    if (problem !== undefined) return void answerOnSocket(socket, problem.status, problem.message, undefined, problem.headers);
    const refused = this.options.guard.afterRouting(req, match.route);
    if (refused !== undefined) return void this.refuse(socket, refused);
    return { url, match };
  }

  private pendingConnection(req: IncomingMessage, match: RouteMatch, sourceIp: string): PendingConnection {
    const record: PendingFields = {
      id: newConnectionId(this.options.nodeId),
      gatewayId: match.route.gatewayId,
      sourceIp,
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : '',
      connectedAt: this.options.clock.now(),
      protocol: match.route.realtime ? 'realtime' : 'raw',
      tenantId: undefined,
      userId: undefined,
      proof: undefined,
    };
    return { record, pathParams: match.params, connectedAtText: () => formatRfc3339(record.connectedAt) };
  }

  /** A handshake that waits for authentication or the connect integration; counted as pending meanwhile. */
  private async awaitHandshake(
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    url: RequestTarget,
    match: RouteMatch,
    connection: PendingConnection,
    authenticates: boolean,
    fixed: BackendResponse | undefined,
  ): Promise<void> {
    const sourceIp = connection.record.sourceIp;
    this.pending.waiting(socket, sourceIp);
    let countedTenant: string | undefined;
    try {
      if (authenticates) {
        countedTenant = await this.authenticate(req, socket, head, url, connection);
        if (countedTenant === undefined) return;
      }
      let welcome: BackendResponse | undefined;
      const connect = match.route.connect;
      if (connect !== undefined) {
        const answer = fixed !== undefined ? connectOutcome(fixed) : await this.options.integrations.connect(connect, match.route.spec.path, connection, req, url);
        if ('accept' in answer && (socket.destroyed || this.draining)) {
          // The backend accepted a connection that never opened: it still hears it end.
          const disconnect = match.route.disconnect;
          if (disconnect !== undefined) this.options.integrations.disconnect(disconnect, connection, CloseCode.ABNORMAL, CloseReason.LEFT_DURING_HANDSHAKE, Promise.resolve());
          socket.destroy();
          return;
        }
        if (socket.destroyed) return;
        if ('reject' in answer) return this.backendRefused(socket, answer);
        welcome = answer.accept;
      }
      this.complete(req, socket, head, match, connection, welcome);
    } finally {
      this.pending.done(socket, sourceIp);
      if (countedTenant !== undefined) this.pending.uncountTenant(countedTenant);
    }
  }

  /**
   * Realtime authentication. Returns the tenant now counted for this handshake, or undefined
   * when the handshake was refused (and answered).
   */
  private async authenticate(req: IncomingMessage, socket: Socket, head: Buffer, url: RequestTarget, connection: PendingConnection): Promise<string | undefined> {
    const { metrics, authFailureThrottle } = this.options;
    const sourceIp = connection.record.sourceIp;
    const blockedMs = authFailureThrottle?.blockedForMs(sourceIp) ?? 0;
    if (blockedMs > 0) {
      metrics.connectRejections.inc({ reason: 'auth_throttled' });
      answerOnSocket(socket, 429, 'too many failed authentications from this address', undefined, { 'Retry-After': String(retryAfterSeconds(blockedMs)) });
      return undefined;
    }
    let tenantId: string;
    try {
      const identity = await this.options.realtime!.authenticate(url.searchParams);
      tenantId = identity.tenantId;
      connection.record.tenantId = tenantId;
      connection.record.userId = identity.userId;
      connection.record.proof = identity.proof;
    } catch (err) {
      this.authenticationFailed(req, socket, head, sourceIp, err as Error);
      return undefined;
    }
    if (this.pending.countTenant(tenantId)) return tenantId;
    metrics.connectRejections.inc({ reason: 'limit' });
    this.acceptThenClose(req, socket, head, sourceIp, CloseCode.TRY_AGAIN_LATER, CloseReason.TENANT_LIMIT);
    return undefined;
  }

  /**
   * The one place a realtime handshake is decided unauthenticated (a missing, malformed,
   * expired or mismatched token): counted, throttled per address, and the client closed with
   * 1008 and the reason.
   */
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
    answerOnSocket(socket, answer.reject.status, answer.reject.body, answer.reject.contentType, answer.reject.headers);
  }

  private refuse(socket: Socket, refusal: Refusal): void {
    this.options.metrics.connectRejections.inc({ reason: refusal.reason });
    const headers = refusal.retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(refusal.retryAfterSeconds) };
    answerOnSocket(socket, refusal.status, refusal.message, undefined, headers);
  }

  private failed(socket: Socket, err: unknown): void {
    this.options.log.error({ err }, 'upgrade failed');
    answerOnSocket(socket, 500, 'internal error');
  }

  /** Hands the socket to ws for the 101 and the connection to its owner once it is open. */
  private complete(req: IncomingMessage, socket: Socket, head: Buffer, match: RouteMatch, connection: PendingConnection, welcome: BackendResponse | undefined): void {
    if (socket.destroyed || this.draining) {
      socket.destroy();
      return;
    }
    (req as TaggedRequest)[kConnectionId] = connection.record.id;
    // ws writes the 101 and calls back at once; corked meanwhile, the 101 and what the opened
    // connection writes first (the connect integration's welcome) leave in one write.
    socket.cork();
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.opened(ws, socket, match, connection, welcome));
    } finally {
      socket.uncork();
    }
  }

  private acceptThenClose(req: IncomingMessage, socket: Socket, head: Buffer, sourceIp: string, code: number, reason: string): void {
    if (socket.destroyed) return;
    // Close codes only exist inside a WebSocket, so the handshake completes and closes at once.
    // Until its socket is gone the connection counts as a pending handshake of its address.
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', swallowSocketError);
      this.pending.refusingUntilClosed(ws, sourceIp);
      const deadline = setTimeout(() => ws.terminate(), REFUSED_CLOSE_GRACE_MS);
      ws.once('close', () => clearTimeout(deadline));
      ws.close(code, truncateReason(reason));
    });
  }
}

function swallowSocketError(): void {}

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
