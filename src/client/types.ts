/** The wire format of the realtime protocol (DESIGN.md §2.3) and the client's public types. */
import type { ReconnectOptions } from './backoff.js';

/** Any envelope the server sends: `{type, data, tenantId, userId?, timestamp, requestId?}`. */
export interface ServerEnvelope<D = unknown> {
  type: string;
  data: D;
  tenantId?: string;
  userId?: string;
  timestamp?: string;
  requestId?: string;
}

/** Where a topic's stream stands: the offset of a publication and the stream's epoch. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** `data` of a `subscribed` envelope. */
export interface SubscribedData {
  topic: string;
  offset: number;
  epoch: string;
  /** Present when the subscribe carried `since`: whether history covered everything missed. */
  recovered?: boolean;
  /** Present when the subscribe carried `since`: what was missed, oldest first. */
  publications?: { offset: number; payload: unknown; encoding?: string }[];
}

/** A publication as the client delivers it (live or recovered). */
export interface PublicationEvent {
  /** The tenant-scoped topic name, as the server names it (`acme:chat`). */
  topic: string;
  offset: number;
  epoch: string;
  /** JSON value for JSON text, string for other text, base64 string for binary. */
  payload: unknown;
  /** `'base64'` for a binary payload. */
  encoding?: 'base64';
  /** True when it came from history on a resubscribe rather than live. */
  recovered: boolean;
}

/** A subscription confirmed by the server; what `subscribe()` resolves with. */
export interface SubscribedEvent {
  topic: string;
  offset: number;
  epoch: string;
  /** Only when the subscribe asked for recovery (a resubscribe, or `since` was given). */
  recovered?: boolean;
}

export interface RecoveryEvent {
  topic: string;
  /** False: history no longer covers the gap, the application should reload its state. */
  recovered: boolean;
  /** Publications delivered from history (after skipping any already seen). */
  delivered: number;
  /** The position the client resubscribed from. */
  since: StreamPosition;
}

export interface PresenceEvent {
  topic: string;
  connectionId: string;
  userId?: string;
}

export interface ConnectingEvent {
  /** 1 for the first try after connect() or after a connection that had been up. */
  attempt: number;
}

export interface ConnectedEvent {
  connectionId: string;
  tenantId: string;
  userId: string;
  /** False for the first connection after connect(), true for automatic reconnects. */
  reconnected: boolean;
}

export interface DisconnectedEvent {
  /** The WebSocket close code (1006 when the socket failed; 4000-4003 for the client's own reasons). */
  code: number;
  reason: string;
  willReconnect: boolean;
  /** When willReconnect: the delay before the next attempt. */
  delayMs?: number;
}

/** The token was refreshed in place (a `refreshed` answer to the client's own `refresh`). */
export interface RefreshedEvent {
  /** RFC 3339 time the new token expires; null when it has no `exp`. */
  expiresAt: string | null;
}

/** An envelope of a type the client does not handle itself (e.g. a forwarded backend's answer). */
export interface ClientMessageEvent {
  type: string;
  data: unknown;
  requestId?: string;
  envelope: ServerEnvelope;
}

/** A frame that is not a JSON envelope (a raw `send` from the management API, for example). */
export interface RawMessageEvent {
  /** Text frames as a string, binary frames as bytes. */
  data: string | Uint8Array;
}

/** The client's events, by name. */
export interface ClientEvents {
  connecting: ConnectingEvent;
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  error: Error;
  publication: PublicationEvent;
  subscribed: SubscribedEvent;
  recovered: RecoveryEvent;
  recoveryFailed: RecoveryEvent;
  join: PresenceEvent;
  leave: PresenceEvent;
  message: ClientMessageEvent;
  raw: RawMessageEvent;
  refreshed: RefreshedEvent;
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'closed';

/**
 * A WebSocket constructor: the browser's, or `ws`'s in Node (Node 20 has no global one). Typed
 * loosely so both fit; the client uses only the standard `on*` properties, `send`, `close`,
 * `readyState` and `binaryType`.
 */
export type WebSocketConstructor = new (url: string) => unknown;

export interface SwitchboardClientOptions {
  /** `ws://` or `wss://` URL of a realtime path; tenantId, userId and token are added to its query. */
  url: string;
  tenantId: string;
  userId: string;
  /** A fixed token. */
  token?: string;
  /**
   * Called before every (re)connect, and when the server says `refresh_required` (the answer is
   * sent as `refresh {token}`), so expiring tokens are refreshed. Takes precedence over `token`.
   */
  getToken?: () => Promise<string> | string;
  /** Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Backoff of automatic reconnects; `false` turns them off. */
  reconnect?: Partial<ReconnectOptions> | false;
  /** Interval of keep-alive pings once connected; 0 turns them off. Default 25 000 ms. */
  pingIntervalMs?: number;
  /** A ping unanswered this long means a dead connection: closed and reconnected. Default 10 000 ms. */
  pingTimeoutMs?: number;
  /** Replies to request(), subscribe() and unsubscribe() are awaited this long. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** The `connected` envelope is awaited this long after opening a socket. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Source of randomness for jitter, in [0, 1); for tests. Default Math.random. */
  random?: () => number;
}

export type PublicationHandler = (publication: PublicationEvent) => void;

export interface SubscribeOptions {
  /** Recover from this position on the first subscribe (e.g. one persisted across page loads). */
  since?: StreamPosition;
}

export interface RequestOptions {
  /** Overrides `requestTimeoutMs` for this request. */
  timeoutMs?: number;
}
