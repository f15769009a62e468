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
  /** Claim names holding the tenant and the user. */
  claims: { tenantId: string; userId: string };
  clockToleranceSeconds: number;
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
}

export interface TopicSettings {
  /** Glob over tenant-scoped topic names: `*` matches any run of characters. */
  pattern: string;
  historySize: number;
  historyTtlSeconds: number;
  presence: boolean;
  joinLeave: boolean;
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

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

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
  };
  /** `tls` absent: the management listener's, so the gRPC surface is never left plaintext by mistake. */
  grpc?: { listen: HostPort; tls?: TlsSetting };
  /** Who may open client connections, by Origin. */
  edge: EdgeSettings;
  backends: { circuitBreaker: CircuitBreakerSetting };
  auth: { jwt?: JwtSettings };
  limits: Limits;
  topics: TopicSettings[];
  /** `redis://…` or `nats://…`; absent means in memory, one node. */
  backplane?: string;
  /** At most 20 characters of [a-z0-9-]; absent means derived from host name and port. */
  nodeId?: string;
  log: { level: LogLevel };
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
