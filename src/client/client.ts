/**
 * The Switchboard realtime client (DESIGN.md §2.3) for browsers and Node: connects with a
 * token, reconnects with backoff, resubscribes every topic from the last position it saw
 * and delivers what it missed exactly once, in order, before live publications.
 *
 * No Node-only API is used here: the WebSocket is `globalThis.WebSocket` or the one passed
 * in (Node 20 has no global WebSocket; pass `ws`'s).
 */
import { backoffDelay, reconnectOptions, type ReconnectOptions } from './backoff.js';
import { TypedEmitter } from './emitter.js';
import { CLIENT_CLOSE_CODES, CLIENT_ERROR_CODES, SERVER_CLOSE_CODES, SwitchboardClientError } from './errors.js';
import type {
  ClientEvents,
  ClientState,
  ConnectedEvent,
  PublicationEvent,
  PublicationHandler,
  RequestOptions,
  ServerEnvelope,
  StreamPosition,
  SubscribedData,
  SubscribedEvent,
  SubscribeOptions,
  SwitchboardClientOptions,
  WebSocketConstructor,
} from './types.js';

/** The part of the WebSocket API the client uses; the browser's and `ws`'s both have it. */
interface SocketLike {
  readonly readyState: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: unknown; error?: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** One socket and what the client knows about it. */
interface Connection {
  ws: SocketLike;
  /** The server's `connected` envelope came on it. */
  ready: boolean;
  /** Settles when the socket's close event fires. */
  closed: Promise<void>;
  /** The last error event's message: browsers and `ws` give the cause there, not in the close. */
  lastError: string;
  /** A `refresh` for this socket is under way: a second `refresh_required` waits for it. */
  refreshing?: boolean;
}

interface Pending {
  resolve(envelope: ServerEnvelope): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

/** One topic the application subscribed to. */
interface TopicState {
  /** The tenant-scoped name (`acme:chat`), as the server names it in envelopes. */
  readonly name: string;
  readonly handlers: Set<PublicationHandler>;
  /** The last publication seen, or the stream position at subscribe: the resubscribe's `since`. */
  position: StreamPosition | undefined;
  /** pending: to be (re)subscribed when connected; subscribing: request in flight. */
  status: 'pending' | 'subscribing' | 'subscribed';
  requestId: string | undefined;
  /** Live publications that came while a subscribe was in flight, delivered after its answer. */
  buffer: PublicationEvent[];
  /** subscribe() promises waiting for the server's answer. */
  waiters: Deferred<SubscribedEvent>[];
}

const OPEN = 1;
/** Envelope types the client manages itself; request()/send() refuse them. */
const RESERVED_TYPES = new Set(['subscribe', 'unsubscribe', 'connected']);
const DEFAULT_PING_INTERVAL_MS = 25_000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** How long close() waits for the socket's close event before resolving anyway. */
const CLOSE_WAIT_MS = 2_000;

export class SwitchboardClient extends TypedEmitter<ClientEvents> {
  private readonly options: SwitchboardClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly reconnect: ReconnectOptions | undefined;
  private readonly random: () => number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  private currentState: ClientState = 'idle';
  private connection: Connection | undefined;
  private currentConnectionId: string | undefined;
  /** Bumped by every attempt and by close(): a stale async step (getToken) sees it and stops. */
  private generation = 0;
  /** Reconnect attempts since the last `connected`; the next delay's exponent. */
  private retries = 0;
  /** Sockets opened since connect() or the last `connected`; the 'connecting' event's number. */
  private attempts = 0;
  /** The one fresh-token retry after an auth failure was used (reset on `connected`). */
  private authRetried = false;
  /** Whether a `connected` came since connect(): later ones are reconnects. */
  private hasConnected = false;
  private userClosed = false;
  private connectDeferred: Deferred<ConnectedEvent> | undefined;
  private lastConnected: ConnectedEvent | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pingInFlight = false;
  private readonly pending = new Map<string, Pending>();
  private readonly topicStates = new Map<string, TopicState>();
  private readonly requestPrefix: string;
  private requestCounter = 0;

  constructor(options: SwitchboardClientOptions) {
    super();
    // Validated here so a typo fails at once rather than on every reconnect.
    const url = new URL(options.url);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`url must be ws: or wss:, got ${url.protocol}`);
    if (typeof options.tenantId !== 'string' || options.tenantId === '') throw new TypeError('tenantId is required');
    if (options.tenantId.includes(':')) throw new TypeError('tenantId must not contain ":"');
    if (typeof options.userId !== 'string' || options.userId === '') throw new TypeError('userId is required');
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (impl === undefined) throw new TypeError('no WebSocket implementation: pass options.WebSocket (in Node 20, the "ws" package)');
    this.options = { ...options };
    this.WebSocketImpl = impl;
    this.reconnect = options.reconnect === false ? undefined : reconnectOptions(options.reconnect);
    this.random = options.random ?? Math.random;
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.pingTimeoutMs = options.pingTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.requestPrefix = `c${Math.floor(Math.random() * 0x7fffffff).toString(36)}-`;
  }

  // ---- state ----

  get state(): ClientState {
    return this.currentState;
  }

  /** The id of the current connection, while connected. */
  get connectionId(): string | undefined {
    return this.currentConnectionId;
  }

  /** The last position seen on a topic (tenant-scoped or not), e.g. to persist it. */
  position(topic: string): StreamPosition | undefined {
    const position = this.topicStates.get(this.scope(topic))?.position;
    return position === undefined ? undefined : { ...position };
  }

  /** The topics subscribed to (tenant-scoped names), including those waiting for a connection. */
  topics(): string[] {
    return [...this.topicStates.keys()];
  }

  // ---- connection ----

  /**
   * Opens the connection; resolves on the server's `connected` envelope. Transient failures
   * are retried with backoff (see 'disconnected' events); rejects when the client gives up:
   * the token is refused (close 1008 before `connected`; with getToken, after one retry with a
   * fresh token), reconnects are off or exhausted, or close() is called.
   */
  connect(): Promise<ConnectedEvent> {
    if (this.currentState === 'connected' && this.lastConnected !== undefined) return Promise.resolve(this.lastConnected);
    if (this.connectDeferred !== undefined) return this.connectDeferred.promise;
    const deferred = createDeferred<ConnectedEvent>();
    this.connectDeferred = deferred;
    if (this.currentState === 'idle' || this.currentState === 'closed') {
      this.userClosed = false;
      this.retries = 0;
      this.attempts = 0;
      this.authRetried = false;
      this.hasConnected = false;
      this.open();
    }
    // Otherwise a reconnect is already under way: the deferred settles with it.
    return deferred.promise;
  }

  /**
   * Closes the connection for good: no reconnect, pending requests and subscribe() calls
   * reject with CLOSED. Subscriptions and their positions are kept, so a later connect()
   * resubscribes and recovers; unsubscribe() forgets a topic. Resolves once the socket closed.
   */
  async close(code = 1000, reason = 'client closed'): Promise<void> {
    this.userClosed = true;
    this.generation++;
    this.clearReconnectTimer();
    const wasActive = this.currentState === 'connecting' || this.currentState === 'connected';
    const error = new SwitchboardClientError(CLIENT_ERROR_CODES.CLOSED, 'the client was closed');
    const connection = this.connection;
    this.detach(error);
    this.currentState = 'closed';
    if (connection !== undefined) closeSocket(connection.ws, code, reason);
    this.settleConnect(undefined, error);
    for (const state of this.topicStates.values()) rejectAll(state.waiters, error);
    if (wasActive) this.emit('disconnected', { code, reason, willReconnect: false });
    if (connection !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([connection.closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
  }

  private open(): void {
    const generation = ++this.generation;
    this.currentState = 'connecting';
    this.emit('connecting', { attempt: ++this.attempts });
    if (generation !== this.generation) return; // a listener called close()
    const getToken = this.options.getToken;
    if (getToken === undefined) {
      this.openSocket(this.options.token);
      return;
    }
    Promise.resolve()
      .then(() => getToken())
      .then(
        (token) => {
          if (generation !== this.generation) return;
          if (typeof token !== 'string' || token === '') throw new TypeError('getToken() returned no token');
          this.openSocket(token);
        },
      )
      .catch((err: unknown) => {
        if (generation !== this.generation) return;
        const message = err instanceof Error ? err.message : String(err);
        this.emit('error', new SwitchboardClientError(CLIENT_ERROR_CODES.UNAUTHORIZED, `getToken failed: ${message}`));
        this.ended(undefined, CLIENT_CLOSE_CODES.TOKEN_FAILED, `getToken failed: ${message}`);
      });
  }

  private openSocket(token: string | undefined): void {
    const url = new URL(this.options.url);
    url.searchParams.set('tenantId', this.options.tenantId);
    url.searchParams.set('userId', this.options.userId);
    if (token !== undefined) url.searchParams.set('token', token);
    let ws: SocketLike;
    try {
      ws = new this.WebSocketImpl(url.toString()) as SocketLike;
    } catch (err) {
      // The constructor refuses only what no retry can fix (a bad URL, say).
      const error = new SwitchboardClientError(CLIENT_ERROR_CODES.CONNECT_FAILED, `cannot open a WebSocket: ${(err as Error).message}`);
      this.giveUp(1006, error.message, error);
      return;
    }
    let markClosed!: () => void;
    const connection: Connection = { ws, ready: false, closed: new Promise<void>((resolve) => (markClosed = resolve)), lastError: '' };
    this.connection = connection;
    ws.binaryType = 'arraybuffer';
    // Handlers stay attached for the socket's life (ws throws on an 'error' without a
    // listener) and do nothing once the client has moved on to another socket.
    ws.onopen = null;
    ws.onmessage = (event) => {
      if (this.connection === connection) this.onFrame(connection, event.data);
    };
    ws.onerror = (event) => {
      const cause = event.message ?? (event.error instanceof Error ? event.error.message : undefined);
      if (typeof cause === 'string' && cause !== '') connection.lastError = cause;
    };
    ws.onclose = (event) => {
      markClosed();
      if (this.connection === connection) this.ended(connection, event.code, event.reason || connection.lastError);
    };
    if (this.connectTimeoutMs > 0) {
      this.connectTimer = setTimeout(() => {
        this.connectTimer = undefined;
        this.abandon(connection, CLIENT_CLOSE_CODES.CONNECT_TIMEOUT, `no "connected" envelope within ${this.connectTimeoutMs} ms`);
      }, this.connectTimeoutMs);
    }
  }

  /** Gives up on a socket the client judged dead: closes it and carries on as if it had closed. */
  private abandon(connection: Connection, code: number, reason: string): void {
    if (this.connection !== connection) return;
    closeSocket(connection.ws, code, reason);
    this.ended(connection, code, reason);
  }

  /** Clears what belonged to the current socket; pending requests reject with `error`. */
  private detach(error: Error): void {
    this.connection = undefined;
    this.currentConnectionId = undefined;
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    this.stopPing();
    // Topics first: a subscribe rejected below then finds itself superseded, not failed.
    for (const state of this.topicStates.values()) {
      state.status = 'pending';
      state.requestId = undefined;
      // What came live before an answer is recovered from history on the resubscribe.
      state.buffer = [];
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) {
      if (request.timer !== undefined) clearTimeout(request.timer);
      request.reject(error);
    }
  }

  /**
   * A socket ended (closed, failed, or abandoned), or an attempt failed before having one:
   * decide between reconnecting and giving up.
   */
  private ended(connection: Connection | undefined, code: number, reason: string): void {
    const wasReady = connection?.ready === true;
    this.detach(
      new SwitchboardClientError(CLIENT_ERROR_CODES.DISCONNECTED, `connection closed (${code}${reason === '' ? '' : `: ${reason}`})`, { closeCode: code }),
    );
    if (this.userClosed) return;

    if (code === 1008 && !wasReady) {
      // The token was refused. With getToken, one more try with a fresh one.
      if (this.options.getToken !== undefined && !this.authRetried) {
        this.authRetried = true;
        this.scheduleReconnect(code, reason, 0);
        return;
      }
      this.giveUp(code, reason, new SwitchboardClientError(CLIENT_ERROR_CODES.UNAUTHORIZED, reason === '' ? 'authentication failed' : reason, { closeCode: code }));
      return;
    }
    if (code === SERVER_CLOSE_CODES.TOKEN_EXPIRED) {
      // The token ran out unrefreshed: a fresh one reconnects at once (subscriptions recover
      // from their positions); the same fixed token would only be refused.
      if (this.options.getToken !== undefined && this.reconnect !== undefined) {
        this.scheduleReconnect(code, reason, 0);
        return;
      }
      this.giveUp(code, reason, new SwitchboardClientError(CLIENT_ERROR_CODES.UNAUTHORIZED, 'token expired', { closeCode: code }));
      return;
    }
    const reconnect = this.reconnect;
    if (reconnect === undefined || this.retries >= reconnect.maxAttempts) {
      const why = reconnect === undefined ? 'reconnect is off' : `gave up after ${this.retries} reconnect attempts`;
      const detail = `connection closed (${code}${reason === '' ? '' : `: ${reason}`}); ${why}`;
      this.giveUp(code, reason, new SwitchboardClientError(CLIENT_ERROR_CODES.CONNECT_FAILED, detail, { closeCode: code }));
      return;
    }
    const delay = backoffDelay(reconnect, this.retries, this.random);
    this.retries++;
    this.scheduleReconnect(code, reason, delay);
  }

  private scheduleReconnect(code: number, reason: string, delayMs: number): void {
    this.currentState = 'connecting';
    // Scheduled before the event, so a listener's close() can cancel it.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open();
    }, delayMs);
    this.emit('disconnected', { code, reason, willReconnect: true, delayMs });
  }

  private giveUp(code: number, reason: string, error: SwitchboardClientError): void {
    this.currentState = 'idle';
    this.generation++;
    this.emit('disconnected', { code, reason, willReconnect: false });
    for (const state of this.topicStates.values()) rejectAll(state.waiters, error);
    this.settleConnect(undefined, error);
    this.emit('error', error);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== undefined) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
  }

  private settleConnect(value: ConnectedEvent | undefined, error?: Error): void {
    const deferred = this.connectDeferred;
    if (deferred === undefined) return;
    this.connectDeferred = undefined;
    if (value !== undefined) deferred.resolve(value);
    else deferred.reject(error ?? new SwitchboardClientError(CLIENT_ERROR_CODES.CONNECT_FAILED, 'connect failed'));
  }

  // ---- inbound ----

  private onFrame(connection: Connection, data: unknown): void {
    if (typeof data !== 'string') {
      this.emit('raw', { data: toBytes(data) });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.emit('raw', { data });
      return;
    }
    if (!isObject(parsed) || typeof parsed.type !== 'string') {
      this.emit('raw', { data });
      return;
    }
    const envelope = parsed as unknown as ServerEnvelope;
    switch (envelope.type) {
      case 'connected':
        this.onConnected(connection, envelope);
        return;
      case 'publication':
        this.onPublication(envelope.data);
        return;
      case 'refresh_required':
        // Without getToken the application refreshes itself: it hears the envelope as a message.
        if (this.options.getToken === undefined) break;
        this.refreshToken(connection, this.options.getToken);
        return;
      case 'join':
      case 'leave': {
        const data = envelope.data;
        if (isObject(data) && typeof data.topic === 'string' && typeof data.connectionId === 'string') {
          this.emit(envelope.type === 'join' ? 'join' : 'leave', {
            topic: data.topic,
            connectionId: data.connectionId,
            ...(typeof data.userId === 'string' ? { userId: data.userId } : {}),
          });
        }
        return;
      }
      default:
        break;
    }
    const requestId = typeof envelope.requestId === 'string' ? envelope.requestId : undefined;
    const request = requestId === undefined ? undefined : this.pending.get(requestId);
    if (requestId !== undefined && request !== undefined) {
      this.pending.delete(requestId);
      if (request.timer !== undefined) clearTimeout(request.timer);
      if (envelope.type === 'error') request.reject(errorOf(envelope));
      else request.resolve(envelope);
      return;
    }
    if (envelope.type === 'error') {
      this.emit('error', errorOf(envelope));
      return;
    }
    this.emit('message', { type: envelope.type, data: envelope.data, ...(requestId === undefined ? {} : { requestId }), envelope });
  }

  private onConnected(connection: Connection, envelope: ServerEnvelope): void {
    if (connection.ready) return;
    const data = isObject(envelope.data) ? envelope.data : {};
    if (typeof data.connectionId !== 'string') {
      this.abandon(connection, CLIENT_CLOSE_CODES.PROTOCOL_ERROR, 'connected envelope without connectionId');
      return;
    }
    connection.ready = true;
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    this.currentState = 'connected';
    this.currentConnectionId = data.connectionId;
    this.retries = 0;
    this.attempts = 0;
    this.authRetried = false;
    const event: ConnectedEvent = {
      connectionId: data.connectionId,
      tenantId: typeof data.tenantId === 'string' ? data.tenantId : this.options.tenantId,
      userId: typeof data.userId === 'string' ? data.userId : this.options.userId,
      reconnected: this.hasConnected,
    };
    this.hasConnected = true;
    this.lastConnected = event;
    this.startPing(connection);
    for (const state of this.topicStates.values()) this.sendSubscribe(state);
    this.emit('connected', event);
    if (this.connection === connection) this.settleConnect(event);
  }

  /** `refresh_required`: a new token from getToken() goes out as `refresh`; the server answers `refreshed`. */
  private refreshToken(connection: Connection, getToken: () => Promise<string> | string): void {
    if (connection.refreshing === true) return;
    connection.refreshing = true;
    Promise.resolve()
      .then(() => getToken())
      .then((token) => {
        if (this.connection !== connection) return undefined;
        if (typeof token !== 'string' || token === '') throw new TypeError('getToken() returned no token');
        return this.call('refresh', { token }, this.requestTimeoutMs);
      })
      .then(
        (answer) => {
          if (answer === undefined) return;
          const data = isObject(answer.data) ? answer.data : {};
          this.emit('refreshed', { expiresAt: typeof data.expiresAt === 'string' ? data.expiresAt : null });
        },
        (err: unknown) => {
          if (this.connection !== connection) return;
          const error =
            err instanceof SwitchboardClientError
              ? err
              : new SwitchboardClientError(CLIENT_ERROR_CODES.UNAUTHORIZED, `token refresh failed: ${err instanceof Error ? err.message : String(err)}`);
          this.emit('error', error);
        },
      )
      .finally(() => {
        connection.refreshing = false;
      });
  }

  private onPublication(data: unknown): void {
    if (!isObject(data) || typeof data.topic !== 'string' || typeof data.offset !== 'number' || typeof data.epoch !== 'string') {
      this.emit('error', new SwitchboardClientError(CLIENT_ERROR_CODES.BAD_REQUEST, 'malformed publication envelope'));
      return;
    }
    const event: PublicationEvent = {
      topic: data.topic,
      offset: data.offset,
      epoch: data.epoch,
      payload: data.payload,
      ...(data.encoding === 'base64' ? { encoding: 'base64' as const } : {}),
      recovered: false,
    };
    const state = this.topicStates.get(data.topic);
    if (state === undefined) {
      // A subscription made server side (management API): no position to keep.
      this.emit('publication', event);
      return;
    }
    if (state.status === 'subscribing') {
      state.buffer.push(event);
      return;
    }
    if (state.status === 'pending') return; // its subscribe failed; it is retried on reconnect
    const position = state.position;
    if (position !== undefined && position.epoch === event.epoch && event.offset > position.offset + 1) {
      // Offsets of a stream go up by one: a gap means publications were lost on the way.
      // Resubscribing from the last one seen recovers them (this one is held until then).
      state.buffer.push(event);
      this.sendSubscribe(state);
      return;
    }
    this.deliver(state, event);
  }

  /** Hands a publication to the topic's handlers unless it was seen already; true if delivered. */
  private deliver(state: TopicState, event: PublicationEvent): boolean {
    // A handler may have unsubscribed while a batch (recovered, buffered) was being delivered.
    if (this.topicStates.get(state.name) !== state) return false;
    const position = state.position;
    if (position !== undefined && position.epoch === event.epoch && event.offset <= position.offset) return false;
    state.position = { offset: event.offset, epoch: event.epoch };
    for (const handler of [...state.handlers]) {
      try {
        handler(event);
      } catch (err) {
        this.onListenerError('publication', err);
      }
    }
    this.emit('publication', event);
    return true;
  }

  // ---- subscriptions ----

  /**
   * Subscribes to a topic (`chat` or `acme:chat`; scoped to the client's tenant). Resolves on
   * the server's `subscribed`; before connect() it waits for the connection. Subscribing to a
   * topic again adds the handler and resolves with the current position.
   */
  subscribe(topic: string, handler?: PublicationHandler, options: SubscribeOptions = {}): Promise<SubscribedEvent> {
    const name = this.scope(topic);
    let state = this.topicStates.get(name);
    if (state === undefined) {
      state = {
        name,
        handlers: new Set(),
        position: options.since === undefined ? undefined : { offset: options.since.offset, epoch: options.since.epoch },
        status: 'pending',
        requestId: undefined,
        buffer: [],
        waiters: [],
      };
      this.topicStates.set(name, state);
    }
    if (handler !== undefined) state.handlers.add(handler);
    if (state.status === 'subscribed' && state.position !== undefined) {
      return Promise.resolve({ topic: name, offset: state.position.offset, epoch: state.position.epoch });
    }
    const deferred = createDeferred<SubscribedEvent>();
    state.waiters.push(deferred);
    if (state.status === 'pending' && this.connection?.ready === true) this.sendSubscribe(state);
    return deferred.promise;
  }

  /**
   * With a handler, removes it, and ends the subscription when it was the topic's last one;
   * without, ends the subscription. Resolves on the server's `unsubscribed` (at once when
   * not connected). A subscribe() still waiting rejects with UNSUBSCRIBED.
   */
  async unsubscribe(topic: string, handler?: PublicationHandler): Promise<void> {
    const name = this.scope(topic);
    const state = this.topicStates.get(name);
    if (state === undefined) return;
    if (handler !== undefined) {
      if (!state.handlers.delete(handler) || state.handlers.size > 0) return;
    }
    this.topicStates.delete(name);
    rejectAll(state.waiters, new SwitchboardClientError(CLIENT_ERROR_CODES.UNSUBSCRIBED, `unsubscribed from ${name}`, { topic: name }));
    if (this.connection?.ready !== true || state.status === 'pending') return;
    await this.call('unsubscribe', { topic: name }, this.requestTimeoutMs);
  }

  private sendSubscribe(state: TopicState): void {
    if (this.connection?.ready !== true) {
      state.status = 'pending';
      return;
    }
    const requestId = this.nextRequestId();
    const since = state.position === undefined ? undefined : { ...state.position };
    state.status = 'subscribing';
    state.requestId = requestId;
    const data = since === undefined ? { topic: state.name } : { topic: state.name, since };
    this.sendRequest('subscribe', data, this.requestTimeoutMs, requestId, {
      resolve: (envelope) => this.onSubscribed(state, requestId, since, envelope.data),
      reject: (err) => this.onSubscribeFailed(state, requestId, err),
    });
  }

  private onSubscribed(state: TopicState, requestId: string, since: StreamPosition | undefined, raw: unknown): void {
    if (this.topicStates.get(state.name) !== state || state.requestId !== requestId) return;
    if (!isObject(raw) || typeof raw.offset !== 'number' || typeof raw.epoch !== 'string') {
      this.onSubscribeFailed(state, requestId, new SwitchboardClientError(CLIENT_ERROR_CODES.BAD_REQUEST, 'malformed subscribed envelope', { topic: state.name }));
      return;
    }
    const data = raw as unknown as SubscribedData;
    state.status = 'subscribed';
    state.requestId = undefined;
    const topic = state.name;

    // What was missed, oldest first; anything already seen is skipped.
    let delivered = 0;
    for (const publication of Array.isArray(data.publications) ? data.publications : []) {
      if (!isObject(publication) || typeof publication.offset !== 'number') continue;
      const event: PublicationEvent = {
        topic,
        offset: publication.offset,
        epoch: data.epoch,
        payload: publication.payload,
        ...(publication.encoding === 'base64' ? { encoding: 'base64' as const } : {}),
        recovered: true,
      };
      if (this.deliver(state, event)) delivered++;
    }
    // From here on the stream's current position: on a first subscribe the start, after a
    // failed recovery (evicted history, another epoch) a jump over what is lost.
    const position = state.position;
    if (position === undefined || position.epoch !== data.epoch || position.offset < data.offset) {
      state.position = { offset: data.offset, epoch: data.epoch };
    }

    const recovered = since === undefined ? undefined : data.recovered === true;
    if (since !== undefined) {
      this.emit(recovered === true ? 'recovered' : 'recoveryFailed', { topic, recovered: recovered === true, delivered, since });
    }
    // Live ones that came meanwhile; those already in the recovered list are skipped.
    const buffered = state.buffer;
    state.buffer = [];
    for (const event of buffered) this.deliver(state, event);

    const event: SubscribedEvent = { topic, offset: data.offset, epoch: data.epoch, ...(recovered === undefined ? {} : { recovered }) };
    const waiters = state.waiters;
    state.waiters = [];
    for (const waiter of waiters) waiter.resolve(event);
    this.emit('subscribed', event);
  }

  private onSubscribeFailed(state: TopicState, requestId: string, err: Error): void {
    // A newer subscribe, an unsubscribe or a lost connection (resubscribed on reconnect) took over.
    if (this.topicStates.get(state.name) !== state || state.requestId !== requestId) return;
    state.status = 'pending';
    state.requestId = undefined;
    state.buffer = [];
    const error =
      err instanceof SwitchboardClientError
        ? new SwitchboardClientError(err.code, `subscribe ${state.name}: ${err.message}`, {
            ...(err.field === undefined ? {} : { field: err.field }),
            ...(err.status === undefined ? {} : { status: err.status }),
            requestId,
            topic: state.name,
          })
        : err;
    if (state.waiters.length > 0) {
      // A subscribe() the application waits for: it learns of the failure, the topic is dropped.
      this.topicStates.delete(state.name);
      rejectAll(state.waiters, error);
      return;
    }
    // A resubscribe nobody awaits: reported, and tried again on the next connection.
    this.emit('error', error);
  }

  // ---- outbound ----

  /**
   * Sends an envelope of any other type (forwarded by the server to the path's integration).
   * Throws NOT_CONNECTED when there is no open connection.
   */
  send(type: string, data?: unknown): void {
    this.checkType(type);
    const connection = this.connection;
    if (connection?.ready !== true || connection.ws.readyState !== OPEN) {
      throw new SwitchboardClientError(CLIENT_ERROR_CODES.NOT_CONNECTED, 'not connected');
    }
    connection.ws.send(JSON.stringify({ type, data, tenantId: this.options.tenantId }));
  }

  /**
   * Sends an envelope with a new requestId and resolves with the reply carrying the same
   * requestId (a forward backend must echo it); rejects on an `error` reply (code, field,
   * status), on TIMEOUT, and with DISCONNECTED when the connection goes first.
   */
  request<T = unknown>(type: string, data?: unknown, options: RequestOptions = {}): Promise<ServerEnvelope<T>> {
    try {
      this.checkType(type);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.call(type, data, options.timeoutMs ?? this.requestTimeoutMs) as Promise<ServerEnvelope<T>>;
  }

  /** Round trip of a `ping` envelope, in milliseconds. */
  async ping(options: RequestOptions = {}): Promise<number> {
    const started = now();
    await this.call('ping', {}, options.timeoutMs ?? this.requestTimeoutMs);
    return now() - started;
  }

  private call(type: string, data: unknown, timeoutMs: number, requestId = this.nextRequestId()): Promise<ServerEnvelope> {
    return new Promise<ServerEnvelope>((resolve, reject) => this.sendRequest(type, data, timeoutMs, requestId, { resolve, reject }));
  }

  /**
   * Sends an envelope with a requestId; exactly one of the callbacks runs, synchronously with
   * the frame that answers it (so a subscribe's answer is handled before the next frame).
   */
  private sendRequest(type: string, data: unknown, timeoutMs: number, requestId: string, callbacks: Omit<Pending, 'timer'>): void {
    const connection = this.connection;
    if (connection?.ready !== true || connection.ws.readyState !== OPEN) {
      callbacks.reject(new SwitchboardClientError(CLIENT_ERROR_CODES.NOT_CONNECTED, 'not connected', { requestId }));
      return;
    }
    const request: Pending = { resolve: callbacks.resolve, reject: callbacks.reject, timer: undefined };
    if (timeoutMs > 0) {
      request.timer = setTimeout(() => {
        if (this.pending.get(requestId) !== request) return;
        this.pending.delete(requestId);
        request.reject(new SwitchboardClientError(CLIENT_ERROR_CODES.TIMEOUT, `no reply to ${type} within ${timeoutMs} ms`, { requestId }));
      }, timeoutMs);
    }
    this.pending.set(requestId, request);
    try {
      connection.ws.send(JSON.stringify({ type, data, tenantId: this.options.tenantId, requestId }));
    } catch (err) {
      this.pending.delete(requestId);
      if (request.timer !== undefined) clearTimeout(request.timer);
      request.reject(new SwitchboardClientError(CLIENT_ERROR_CODES.NOT_CONNECTED, `send failed: ${(err as Error).message}`, { requestId }));
    }
  }

  private checkType(type: string): void {
    if (typeof type !== 'string' || type === '') throw new SwitchboardClientError(CLIENT_ERROR_CODES.BAD_REQUEST, 'type must be a non-empty string');
    if (RESERVED_TYPES.has(type)) {
      throw new SwitchboardClientError(CLIENT_ERROR_CODES.BAD_REQUEST, `"${type}" is managed by the client: use subscribe()/unsubscribe()`);
    }
  }

  // ---- keep-alive ----

  private startPing(connection: Connection): void {
    this.stopPing();
    if (this.pingIntervalMs <= 0) return;
    this.pingTimer = setInterval(() => {
      if (this.pingInFlight || this.connection !== connection) return;
      this.pingInFlight = true;
      this.call('ping', {}, this.pingTimeoutMs).then(
        () => {
          if (this.connection === connection) this.pingInFlight = false;
        },
        (err: unknown) => {
          if (this.connection !== connection) return;
          this.pingInFlight = false;
          if (err instanceof SwitchboardClientError && err.code === CLIENT_ERROR_CODES.TIMEOUT) {
            this.abandon(connection, CLIENT_CLOSE_CODES.PING_TIMEOUT, `no pong within ${this.pingTimeoutMs} ms`);
          }
        },
      );
    }, this.pingIntervalMs);
  }

  private stopPing(): void {
    if (this.pingTimer !== undefined) {
      clearInterval(this.pingTimer);
      this.pingTimer = undefined;
    }
    this.pingInFlight = false;
  }

  // ---- helpers ----

  private scope(topic: string): string {
    if (typeof topic !== 'string' || topic === '') throw new TypeError('topic must be a non-empty string');
    return topic.includes(':') ? topic : `${this.options.tenantId}:${topic}`;
  }

  private nextRequestId(): string {
    return `${this.requestPrefix}${++this.requestCounter}`;
  }

  /** A listener's exception becomes an 'error' event rather than breaking the client. */
  protected override onListenerError(name: keyof ClientEvents, err: unknown): void {
    if (name === 'error') {
      super.onListenerError(name, err);
      return;
    }
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Closes a socket. Browsers accept only 1000 and 3000-4999 and a reason of at most 123 bytes,
 * and throw otherwise: then it is closed without code or reason rather than left open.
 */
function closeSocket(ws: SocketLike, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    try {
      ws.close();
    } catch {
      // Already closed: nothing to do.
    }
  }
}

function createDeferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function rejectAll<T>(waiters: Deferred<T>[], error: Error): void {
  for (const waiter of waiters.splice(0)) waiter.reject(error);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorOf(envelope: ServerEnvelope): SwitchboardClientError {
  const data = isObject(envelope.data) ? envelope.data : {};
  const code = typeof data.code === 'string' ? data.code : 'INTERNAL';
  const message = typeof data.message === 'string' ? data.message : code;
  return new SwitchboardClientError(code, message, {
    ...(typeof data.field === 'string' ? { field: data.field } : {}),
    ...(typeof data.status === 'number' ? { status: data.status } : {}),
    ...(typeof envelope.requestId === 'string' ? { requestId: envelope.requestId } : {}),
  });
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    // ws's 'fragments' binary type: a list of chunks.
    const chunks = data.map(toBytes);
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
  return new Uint8Array(0);
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
