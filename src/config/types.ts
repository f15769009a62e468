/** The shape of a node's settings after loading, defaults filled in and validated. */

export type Scope = 'read' | 'write' | 'broadcast';
export const ALL_SCOPES: readonly Scope[] = ['read', 'write', 'broadcast'];

export interface HostPort {
  host: string;
  port: number;
}

export interface ApiKeySetting {
  key: string;
  scopes: Scope[];
  /** When set, the key reaches only this tenant's connections and topics. */
  tenantId?: string;
  /** This key's own request budget; absent: `management.rateLimit`. */
  rateLimit?: RateLimitSetting;
}

/** A token bucket: `burst` requests at once, refilled at `requestsPerSecond`. */
export interface RateLimitSetting {
  requestsPerSecond: number;
  burst: number;
}

/** A certificate and its private key, read from PEM files when the settings load. */
export interface TlsSetting {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

/** Per backend origin: after `failureThreshold` consecutive failures, calls fail fast for `cooldownSeconds`. */
export interface CircuitBreakerSetting {
  /** 0 turns the breaker off. */
  failureThreshold: number;
  cooldownSeconds: number;
}

export interface AwsAccessKeySetting {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface JwtSettings {
  /** HS256/384/512 shared secret. */
  secret?: string;
  /** PEM text of an RS256/ES256 public key (the file named in YAML `publicKey` is read at load). */
  publicKeyPem?: string;
  jwksUrl?: string;
  algorithms: string[];
  issuer?: string;
  audience?: string;
  /**
   * Claim names holding the tenant, the user and (for `token` topic permissions) the list of
   * topic patterns the token grants; absent `topics`: `topics`.
   */
  claims: { tenantId: string; userId: string; topics?: string };
  /** Slack for exp, nbf and iat against this node's clock. */
  clockToleranceSeconds: number;
  /** Refuse tokens without `exp` (one that never expires is a credential that cannot be revoked). Absent: true. */
  requireExp?: boolean;
  /** Refuse tokens whose `iat` is older than this (and tokens without `iat`); absent: no limit. */
  maxTokenAgeSeconds?: number;
  /**
   * A realtime connection hears `refresh_required` this long before its token's `exp`;
   * absent: REFRESH_NOTICE_DEFAULT_SECONDS.
   */
  refreshNoticeSeconds?: number;
}

export interface Limits {
  maxMessageBytes: number;
  maxFrameBytes: number;
  heartbeatSeconds: number;
  idleTimeoutSeconds: number;
  maxLifetimeSeconds: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxConnectionsPerTenant: number;
  messagesPerSecond: number;
  outboundBufferBytes: number;
  /** Messages of one connection waiting for its backend before the connection is closed with 1013. */
  maxPendingMessages: number;
  /** Time a client has to finish the upgrade, connect integration included. */
  handshakeTimeoutSeconds: number;
  /** Upgrades accepted per second by this node (a token bucket, burst of one second); over → 503. */
  acceptsPerSecond: number;
  /**
   * Upgrades accepted per second from one source address (a token bucket per address, burst of
   * one second); over → 429 before the URL is parsed. 0 turns it off.
   */
  acceptsPerSecondPerIp: number;
  /**
   * Handshakes of one source address not yet open or closed: waiting for authentication or the
   * connect integration, or refused and closing. Over → 429 before the upgrade.
   */
  pendingHandshakesPerIp: number;
  /** Longest request target (path and query) on the client listener; over → 414. */
  maxUrlBytes: number;
  /** Largest request head (request line and headers) on the client listener; over → 431. */
  maxHeaderBytes: number;
  /** Topics one connection may be subscribed to at once, by itself or by the management API. */
  maxSubscriptionsPerConnection: number;
}

export interface TopicSettings {
  /**
   * Glob over tenant-scoped topic names: `*` matches any run of characters; `{tenantId}` and
   * `{userId}` match like `*` for lookups and bind the topic to the connection's identity.
   */
  pattern: string;
  historySize: number;
  historyTtlSeconds: number;
  presence: boolean;
  joinLeave: boolean;
  /** Who may do what from a client; absent: any connection of the topic's tenant, for every action. */
  permissions?: TopicPermissionRules;
  /** The backend asked for actions whose rule is `backend`; required exactly when one is. */
  authorize?: TopicAuthorizeSetting;
}

/** What a client may do with a topic. */
export type TopicAction = 'subscribe' | 'publish' | 'presence' | 'history';
export const TOPIC_ACTIONS: readonly TopicAction[] = ['subscribe', 'publish', 'presence', 'history'];

/**
 * Who may do an action: `tenant` any connection of the topic's tenant; `none` no client (the
 * management API only); `token` a connection whose token lists a matching pattern in its
 * topics claim; `backend` whoever the topic's `authorize` integration answers 2xx for.
 */
export type TopicAccess = 'tenant' | 'none' | 'token' | 'backend';
export const TOPIC_ACCESS: readonly TopicAccess[] = ['tenant', 'none', 'token', 'backend'];

export type TopicPermissionRules = Record<TopicAction, TopicAccess>;

export interface TopicAuthorizeSetting {
  /** http:// or https:// URL, called with POST `{action, topic}` and the connection's identity headers. */
  url: string;
  timeoutSeconds: number;
  /** How long a connection's answer for one topic and action is reused; 0: asked every time. */
  cacheSeconds: number;
}

export interface EdgeSettings {
  /**
   * Browser origins allowed to open a WebSocket (`https://app.example.com`, `https://*.example.com`
   * or `*`); empty: any. A path's `x-switchboard-allowed-origins` replaces this list for that path.
   */
  allowedOrigins: string[];
  /** Refuse handshakes that carry no Origin header (by default non-browser clients, which send none, are let in). */
  requireOrigin: boolean;
}

/** Bounds on a management request's life on its socket (Node's headersTimeout, requestTimeout, keepAliveTimeout). */
export interface ManagementTimeouts {
  /** From a connection's (or request's) first byte to the end of its request head. */
  headersSeconds: number;
  /** From the first byte to the end of the body: a trickled body cannot outlive it. */
  requestSeconds: number;
  /** An idle keep-alive connection between requests, and a silent one before the first. */
  keepAliveSeconds: number;
}

/**
 * The gRPC listener: how many connections, and how long one may sit without a call. Loaded
 * settings always carry the limits; absent ones (settings built in code) are GRPC_DEFAULTS.
 */
export interface GrpcSettings {
  listen: HostPort;
  tls?: TlsSetting;
  maxConnections?: number;
  /** A connection with no call in flight for this long gets GOAWAY and is closed (grpc.max_connection_idle_ms). */
  idleTimeoutSeconds?: number;
  /** The server pings each connection this often; one that does not answer within 20 s is dropped. */
  keepaliveSeconds?: number;
}

/** Per source address: after `maxFailures` failed authentications within `windowSeconds`, refused for `cooldownSeconds`. */
export interface AuthFailureThrottleSetting {
  /** 0 turns the throttle off. */
  maxFailures: number;
  windowSeconds: number;
  cooldownSeconds: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** `pretty`: readable lines; `json`: one JSON object a line; `auto` (or absent): pretty on a terminal, JSON otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** Settings that a flag, a variable or a file key can set, and which start-up errors name. */
export type NamedSetting = 'listen' | 'management.listen' | 'grpc.listen' | 'backplane';

/**
 * Where a setting's value came from: a flag (`--listen`), a variable (`SWITCHBOARD_LISTEN`),
 * a file (its path; the key is the setting's path) or the default.
 */
export interface SettingSource {
  kind: 'flag' | 'env' | 'file' | 'default';
  /** The flag, the variable or the file's path; empty for the default. */
  name: string;
}

export type SettingSources = Partial<Record<NamedSetting, SettingSource>>;

export interface Settings {
  /** Client listener. */
  listen: HostPort;
  /** Gateway spec files, one gateway each; empty means the embedded demo spec. */
  specs: string[];
  /** The client listener speaks TLS (wss://) when set. */
  tls?: TlsSetting;
  management: {
    listen: HostPort;
    apiKeys: ApiKeySetting[];
    awsAccessKeys: AwsAccessKeySetting[];
    /** Every API key's request budget unless the key names its own. */
    rateLimit: RateLimitSetting;
    /** The management listener speaks HTTPS when set. */
    tls?: TlsSetting;
    /**
     * Host names (besides localhost, 127.0.0.1 and [::1]) the listener answers when no API key
     * is configured, or always once the list is non-empty: a page on a rebinding name is refused.
     */
    allowedHosts: string[];
    /** Sockets the listener holds at once; the next one is closed as it arrives. */
    maxConnections: number;
    timeouts: ManagementTimeouts;
  };
  /** `tls` absent: the management listener's, so the gRPC surface is never left plaintext by mistake. */
  grpc?: GrpcSettings;
  /** Who may open client connections, by Origin. */
  edge: EdgeSettings;
  backends: { circuitBreaker: CircuitBreakerSetting };
  auth: { jwt?: JwtSettings; failureThrottle: AuthFailureThrottleSetting };
  limits: Limits;
  topics: TopicSettings[];
  /** `redis://…` or `nats://…`; absent means in memory, one node. */
  backplane?: string;
  /** At most 20 characters of [a-z0-9-]; absent means derived from host name and port. */
  nodeId?: string;
  /** `format` absent: `auto`. */
  log: { level: LogLevel; format?: LogFormat };
  /** Peers whose `X-Forwarded-For` is believed (exact addresses). */
  trustedProxies: string[];
  /** Bound on a graceful drain (SIGTERM) before the process exits anyway. */
  drainSeconds: number;
}

// ---- gateway specs ----

export interface HttpIntegrationSpec {
  type: 'http';
  /** May hold `{param}` placeholders filled from the path's parameters. */
  url: string;
  method: string;
  headers: Record<string, string>;
  timeouts: { connectMs: number; readMs: number };
}

export interface DummyIntegrationSpec {
  type: 'dummy';
  httpCode: number;
  content: string;
  httpHeaders: Record<string, string>;
}

export interface RealtimeIntegrationSpec {
  type: 'realtime';
  /** Where envelope types the protocol does not own go (http or dummy); absent answers `error`. */
  forward?: HttpIntegrationSpec | DummyIntegrationSpec;
}

export type BackendIntegrationSpec = HttpIntegrationSpec | DummyIntegrationSpec;
export type IntegrationSpec = BackendIntegrationSpec | RealtimeIntegrationSpec;

export interface MessageRoutingSpec {
  /** Property path of `$request.body.<path>` used for route selection, e.g. ['action']. */
  selection?: string[];
  /** Integrations by route key; `$default` is kept under `fallback`. */
  routes: Record<string, IntegrationSpec>;
  fallback?: IntegrationSpec;
}

export interface WebSocketRouteSpec {
  /** The OpenAPI path template, e.g. `/chat/{room}`. */
  path: string;
  /** `x-switchboard-allowed-origins`: replaces `edge.allowedOrigins` for this path. */
  allowedOrigins?: string[];
  connect?: BackendIntegrationSpec;
  message: MessageRoutingSpec;
  disconnect?: BackendIntegrationSpec;
}

export interface GatewaySpec {
  gatewayId: string;
  title: string;
  /** The file it was read from, or `(embedded demo)`. */
  source: string;
  routes: WebSocketRouteSpec[];
}
