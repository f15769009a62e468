import type { IncomingMessage } from 'node:http';
import type { Limits } from '../config/index.js';
import { MessageIdGenerator } from '../connections/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import {
  BackendFailure,
  contentTypeOf,
  forwardableHeaders,
  type Backend,
  type BackendRequest,
  type BackendResponse,
  type EventType,
} from '../routing/index.js';
import type { Clock } from '../time/index.js';
import { normalizeAddress } from './identity.js';
import type { RequestTarget } from './request-target.js';

/** The fields of a connection its backend calls describe. */
export interface HeaderFields {
  readonly id: string;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly tenantId?: string | undefined;
  readonly userId?: string | undefined;
}

/** A connection, open or still in its handshake, as its integration calls see it. */
export interface CallingConnection {
  readonly record: HeaderFields;
  readonly pathParams: Record<string, string>;
  /** `connected-at`, RFC 3339. */
  connectedAtText(): string;
}

/** A connection sending messages to its backend: told of each answer, in order. */
export interface MessageCaller extends CallingConnection {
  /** The backend answered; `remote` is false for a dummy's fixed answer. */
  answered(response: BackendResponse, remote: boolean): void;
  /** The call failed: no answer, or the breaker is open. */
  callFailed(status: number, message: string): void;
  /** The call is over, answered or failed. */
  callDone(): void;
}

export interface ConnectRefusal {
  status: number;
  body: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}
export type ConnectOutcome = { accept: BackendResponse } | { reject: ConnectRefusal };

export interface IntegrationCallsOptions {
  limits: Limits;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** Proxies whose `X-Forwarded-For` the connect integration sees extended. */
  trusted: ReadonlySet<string>;
}

const DUMMY_MESSAGE: BackendRequest = { eventType: 'MESSAGE', headers: {}, pathParams: {} };

/**
 * The three integration calls of a connection (CONNECT, MESSAGE, DISCONNECT) and the headers
 * they carry (README, "What backends receive"). Disconnect calls are tracked so a stop can
 * wait for them.
 */
export class IntegrationCalls {
  private readonly messageIds = new MessageIdGenerator();
  private readonly disconnects = new Set<Promise<void>>();

  constructor(private readonly options: IntegrationCallsOptions) {}

  /** The headers every backend call carries. */
  headers(connection: CallingConnection, eventType: EventType): Record<string, string> {
    const source = connection.record;
    const headers: Record<string, string> = {
      'x-yc-apigateway-websocket-connection-id': source.id,
      'x-yc-apigateway-websocket-event-type': eventType,
      'x-yc-apigateway-websocket-connected-at': connection.connectedAtText(),
      'x-yc-apigateway-websocket-message-id': this.messageIds.next(this.options.clock.now()),
      'x-forwarded-for': source.sourceIp,
      'user-agent': source.userAgent,
    };
    if (source.tenantId !== undefined) headers['x-switchboard-tenant-id'] = identityHeaderValue(source.tenantId);
    if (source.userId !== undefined) headers['x-switchboard-user-id'] = identityHeaderValue(source.userId);
    return headers;
  }

  /** The connect integration, bounded by the handshake timeout: its answer lets the client in or refuses it. */
  async connect(backend: Backend, path: string, connection: CallingConnection, req: IncomingMessage, url: RequestTarget): Promise<ConnectOutcome> {
    const started = performance.now();
    try {
      const timeoutMs = this.options.limits.handshakeTimeoutSeconds * 1000;
      const headers = backend.remote ? this.connectHeaders(connection, req) : {};
      const call = backend.call({ eventType: 'CONNECT', headers, pathParams: connection.pathParams, query: url.search.slice(1), timeoutMs });
      // A remote backend cuts the call at timeoutMs itself (and charges its breaker with the
      // 504): a second timer and race per handshake would only repeat it.
      return connectOutcome(await (backend.remote ? call : withDeadline(call, timeoutMs)));
    } catch (err) {
      return this.connectFailed(path, err);
    } finally {
      if (backend.remote) this.observe('CONNECT', started);
    }
  }

  /**
   * Switchboard's headers, then the client's own (first, so a backend that keeps only its first
   * N header fields, as Node does, never loses the gateway's to a client's filler), and behind
   * a trusted proxy the whole forwarding chain.
   */
  private connectHeaders(connection: CallingConnection, req: IncomingMessage): Record<string, string> {
    const headers = this.headers(connection, 'CONNECT');
    const own = forwardableHeaders(req.headers);
    for (const name in own) if (!Object.hasOwn(headers, name)) headers[name] = own[name]!;
    const forwardedFor = req.headers['x-forwarded-for'];
    const peer = normalizeAddress(req.socket.remoteAddress);
    if (typeof forwardedFor === 'string' && this.options.trusted.has(peer)) headers['x-forwarded-for'] = `${forwardedFor}, ${peer}`;
    return headers;
  }

  private connectFailed(path: string, err: unknown): ConnectOutcome {
    const status = err instanceof BackendFailure ? err.status : 502;
    this.options.log.warn({ path, err: (err as Error).message }, 'connect backend call failed');
    if (err instanceof BackendFailure && err.retryAfterMs !== undefined) {
      // The breaker is open: say so, and when to come back, rather than a bare 503.
      const headers = { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) };
      return { reject: { status, body: `connect ${err.message}`, headers } };
    }
    return { reject: { status, body: status === 504 ? 'connect backend timed out' : 'connect backend unavailable' } };
  }

  /**
   * One client message to its backend, its answer or failure told to the connection; a dummy
   * gets no headers and no timing. Resolves once the connection has been told.
   */
  async message(backend: Backend, connection: MessageCaller, data: Buffer, binary: boolean): Promise<void> {
    try {
      if (!backend.remote) return connection.answered(await backend.call(DUMMY_MESSAGE), false);
      const request: BackendRequest = {
        eventType: 'MESSAGE',
        headers: this.headers(connection, 'MESSAGE'),
        body: data,
        contentType: binary ? 'application/octet-stream' : 'application/json',
        pathParams: connection.pathParams,
      };
      const started = performance.now();
      let response;
      try {
        response = await backend.call(request);
      } finally {
        this.observe('MESSAGE', started);
      }
      connection.answered(response, true);
    } catch (err) {
      const status = err instanceof BackendFailure ? err.status : 500;
      this.options.log.warn({ connectionId: connection.record.id, err: (err as Error).message }, 'message backend call failed');
      connection.callFailed(status, (err as Error).message);
    } finally {
      connection.callDone();
    }
  }

  /**
   * Tells the disconnect integration that a connection ended and why, once `after` settles
   * (the messages it had sent have had their answers).
   */
  disconnect(backend: Backend, connection: CallingConnection, code: number, reason: string, after: Promise<void>): void {
    const started = performance.now();
    const id = connection.record.id;
    const call = after
      .then(() => backend.call({ eventType: 'DISCONNECT', headers: this.disconnectHeaders(connection, code, reason), pathParams: connection.pathParams }))
      .then(
        (response) => {
          if (response.status >= 300) this.options.log.warn({ connectionId: id, status: response.status }, 'disconnect backend answered with an error status');
        },
        (err: unknown) => this.options.log.warn({ connectionId: id, err: (err as Error).message }, 'disconnect backend call failed'),
      )
      .finally(() => {
        if (backend.remote) this.observe('DISCONNECT', started);
        this.disconnects.delete(call);
      });
    this.disconnects.add(call);
  }

  /** Disconnect headers: the backend learns why the connection ended; header values stay visible ASCII. */
  private disconnectHeaders(connection: CallingConnection, code: number, reason: string): Record<string, string> {
    const headers = this.headers(connection, 'DISCONNECT');
    headers['x-yc-apigateway-websocket-disconnect-status-code'] = String(code);
    headers['x-yc-apigateway-websocket-disconnect-reason'] = /^[\x20-\x7e]*$/.test(reason) ? reason : encodeURIComponent(reason);
    return headers;
  }

  /** Resolves when every disconnect call under way has finished. */
  async disconnectsDone(): Promise<void> {
    await Promise.allSettled([...this.disconnects]);
  }

  private observe(event: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', started: number): void {
    this.options.metrics.backendLatency.observe({ event, outcome: 'done' }, (performance.now() - started) / 1000);
  }
}

/**
 * An identity as a header value: its UTF-8 bytes, one latin1 character each, as a client's own
 * non-ASCII header bytes are passed on. undici sends a string one byte per character and
 * refuses a character past U+00FF, so `李` as it stands would fail every backend call of the
 * connection; encoding only those would still send `é` as the Latin-1 byte E9, which no UTF-8
 * reader decodes back. (Control characters never get here: the handshake refuses them.)
 */
function identityHeaderValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

/** A connect integration's answer: 2xx lets the client in, anything else is its refusal. */
export function connectOutcome(response: BackendResponse): ConnectOutcome {
  if (response.status >= 200 && response.status < 300) return { accept: response };
  const contentType = contentTypeOf(response);
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
