/** Every setting's default: what a node runs with when no file, variable or flag says otherwise. */
import type {
  AuthFailureThrottleSetting,
  CircuitBreakerSetting,
  GrpcSettings,
  Limits,
  ManagementTimeouts,
  RateLimitSetting,
  Settings,
  TopicAuthorizeSetting,
  TopicSettings,
} from './types.js';

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxMessageBytes: 131072,
  maxFrameBytes: 32768,
  heartbeatSeconds: 30,
  idleTimeoutSeconds: 600,
  maxLifetimeSeconds: 7200,
  maxConnections: 100000,
  maxConnectionsPerIp: 1000,
  maxConnectionsPerTenant: 100000,
  messagesPerSecond: 100,
  outboundBufferBytes: 4194304,
  maxPendingMessages: 64,
  handshakeTimeoutSeconds: 10,
  acceptsPerSecond: 1000,
  acceptsPerSecondPerIp: 50,
  pendingHandshakesPerIp: 32,
  maxUrlBytes: 8192,
  maxHeaderBytes: 16384,
  // Centrifugo's default channel limit per connection: ample for an application, finite for memory.
  maxSubscriptionsPerConnection: 128,
};

/** Per API key: generous for a backend pushing to its clients, finite so one key cannot starve the rest. */
const DEFAULT_RATE_LIMIT: Readonly<RateLimitSetting> = { requestsPerSecond: 10_000, burst: 20_000 };
export const DEFAULT_CIRCUIT_BREAKER: Readonly<CircuitBreakerSetting> = { failureThreshold: 5, cooldownSeconds: 10 };
/** A request head in 10 s and a whole request in 30 s are ample for any real client; a trickler is cut there. */
export const MANAGEMENT_TIMEOUT_DEFAULTS: Readonly<ManagementTimeouts> = { headersSeconds: 10, requestSeconds: 30, keepAliveSeconds: 60 };
export const MANAGEMENT_MAX_CONNECTIONS_DEFAULT = 1024;
/** Everything of `grpc` but where it listens: what `grpc.listen` (file, variable or flag) comes with. */
export const GRPC_DEFAULTS: Readonly<Required<Omit<GrpcSettings, 'listen' | 'tls'>>> = { maxConnections: 1024, idleTimeoutSeconds: 300, keepaliveSeconds: 60 };
/** 20 guesses a minute per address, then a minute's pause: no real client fails that often. */
export const AUTH_FAILURE_THROTTLE_DEFAULTS: Readonly<AuthFailureThrottleSetting> = { maxFailures: 20, windowSeconds: 60, cooldownSeconds: 60 };
/** Shorter keys can be guessed; 16 characters of a random key are beyond any online attack. */
export const MIN_API_KEY_LENGTH = 16;

/** The JWT claim listing the topic patterns a token grants, for `token` permissions. */
export const TOPICS_CLAIM_DEFAULT = 'topics';
/** A minute is time enough for a client to fetch a new token, and short enough to be honest. */
export const REFRESH_NOTICE_DEFAULT_SECONDS = 60;
/** An authorize backend answers within 5 s or the action is denied; answers are reused for a minute. */
export const AUTHORIZE_DEFAULTS: Readonly<Omit<TopicAuthorizeSetting, 'url'>> = { timeoutSeconds: 5, cacheSeconds: 60 };

export const TOPIC_DEFAULTS: Readonly<Omit<TopicSettings, 'pattern' | 'permissions' | 'authorize'>> = {
  historySize: 0,
  historyTtlSeconds: 300,
  presence: false,
  joinLeave: false,
};

/** Every setting at its default: what `switchboard start` runs with no file, flag or variable. */
export function defaultSettings(): Settings {
  return {
    listen: { host: '0.0.0.0', port: 8080 },
    specs: [],
    management: {
      listen: { host: '127.0.0.1', port: 8081 },
      apiKeys: [],
      awsAccessKeys: [],
      rateLimit: { ...DEFAULT_RATE_LIMIT },
      allowedHosts: [],
      maxConnections: MANAGEMENT_MAX_CONNECTIONS_DEFAULT,
      timeouts: { ...MANAGEMENT_TIMEOUT_DEFAULTS },
    },
    edge: { allowedOrigins: [], requireOrigin: false },
    backends: { circuitBreaker: { ...DEFAULT_CIRCUIT_BREAKER } },
    auth: { failureThrottle: { ...AUTH_FAILURE_THROTTLE_DEFAULTS } },
    limits: { ...DEFAULT_LIMITS },
    topics: [],
    log: { level: 'info' },
    trustedProxies: [],
    drainSeconds: 10,
  };
}
