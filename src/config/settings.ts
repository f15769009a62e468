/**
 * A node's settings: defaults, then the YAML file, then SWITCHBOARD_* environment variables,
 * then command-line flags, each layer validated as it is read so an error names where the bad
 * value came from (file, variable or flag), the key path and what was found.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors/index.js';
import { normalizeOriginPattern } from './origins.js';
import {
  ALL_SCOPES,
  type ApiKeySetting,
  type AwsAccessKeySetting,
  type AuthFailureThrottleSetting,
  type CircuitBreakerSetting,
  type EdgeSettings,
  type GrpcSettings,
  type HostPort,
  type JwtSettings,
  type Limits,
  type LogFormat,
  type LogLevel,
  type ManagementTimeouts,
  type NamedSetting,
  type RateLimitSetting,
  type Scope,
  type Settings,
  type SettingSource,
  type SettingSources,
  type TlsSetting,
  TOPIC_ACCESS,
  TOPIC_ACTIONS,
  type TopicAuthorizeSetting,
  type TopicPermissionRules,
  type TopicSettings,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Reading YAML documents (shared with spec.ts)
// ---------------------------------------------------------------------------------------------

/**
 * Parses one YAML (or JSON) document. Syntax errors name the line and column, because a
 * path cannot be given for text that did not parse.
 */
export function parseYamlText(text: string, source: string): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [first] = document.errors;
  if (first) {
    const position = first.linePos?.[0];
    const where = position ? `line ${position.line}, column ${position.col}` : '';
    // The pretty message repeats the position and appends a code frame; keep the sentence.
    const sentence = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? first.message;
    throw new ConfigError(source, where, `YAML syntax error: ${sentence}`);
  }
  try {
    return document.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    // Aliases are resolved here, not while parsing: an alias without its anchor, or one
    // expanding past maxAliasCount, throws a ReferenceError that must not escape as such.
    throw new ConfigError(source, '', `YAML error: ${(err as Error).message}`);
  }
}

/** Reads a file's text, turning a missing or unreadable file into a ConfigError naming it. */
export function readConfigText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? `${what} not found` : `cannot read the ${what}: ${code ?? String(err)}`;
    throw new ConfigError(file, '', problem);
  }
}

export type YamlMapping = Record<string, unknown>;

export function isMapping(value: unknown): value is YamlMapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

export function childPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** How a found value is shown in a problem: strings quoted, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (ArrayBuffer.isView(value)) return 'binary data';
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  return 'a mapping';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** `unknown key "limts" (did you mean "limits"?)`, or the allowed keys when none is close. */
function unknownKeyProblem(key: string, allowed: readonly string[]): string {
  const close = allowed.find((candidate) => candidate.toLowerCase() === key.toLowerCase() || editDistance(candidate, key) <= 2);
  return close ? `unknown key "${key}" (did you mean "${close}"?)` : `unknown key "${key}"; allowed keys: ${allowed.join(', ')}`;
}

export interface StringOptions {
  /** Never echo the value in a problem (API keys, secrets). */
  secret?: boolean;
}

/**
 * Typed readers over a parsed YAML tree. Each returns undefined for an absent or null value
 * (an empty YAML value means "use the default"); `required` turns that into an error.
 * `expand` is applied to every string read (the settings file's `${VAR}` substitution).
 */
export class FieldReader {
  constructor(
    readonly source: string,
    private readonly expand: (text: string, path: string) => string = (text) => text,
  ) {}

  fail(path: string, problem: string): never {
    throw new ConfigError(this.source, path, problem);
  }

  required<T>(value: T | undefined, path: string, hint = ''): T {
    if (value === undefined) this.fail(path, `is required${hint ? `: ${hint}` : ''}`);
    return value;
  }

  /** A mapping whose keys must all be in `allowedKeys` (when given), so typos are caught. */
  mapping(value: unknown, path: string, allowedKeys?: readonly string[]): YamlMapping | undefined {
    if (value === null || value === undefined) return undefined;
    if (!isMapping(value)) this.fail(path, `must be a mapping, got ${describeValue(value)}`);
    if (allowedKeys) {
      for (const key of Object.keys(value)) {
        if (!allowedKeys.includes(key)) this.fail(childPath(path, key), unknownKeyProblem(key, allowedKeys));
      }
    }
    return value;
  }

  list(value: unknown, path: string): unknown[] | undefined {
    if (value === null || value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(path, `must be a list, got ${describeValue(value)}`);
    return value;
  }

  string(value: unknown, path: string, options: StringOptions = {}): string | undefined {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string') {
      const found = options.secret && typeof value !== 'object' ? `a ${typeof value} (value hidden)` : describeValue(value);
      this.fail(path, `must be a string, got ${found}`);
    }
    const text = this.expand(value, path);
    if (text.length === 0) this.fail(path, 'must not be empty');
    return text;
  }

  /**
   * An integer within bounds. A string of digits is accepted too, so `${VAR}` can supply
   * numbers (substitution always yields a string).
   */
  integer(value: unknown, path: string, min: number, max?: number): number | undefined {
    if (value === null || value === undefined) return undefined;
    const range = max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
    const found = typeof value === 'string' ? this.expand(value, path).trim() : value;
    let number: number | undefined;
    if (typeof found === 'number') number = found;
    else if (typeof found === 'string' && /^\d+$/.test(found)) number = Number(found);
    if (number === undefined || !Number.isSafeInteger(number) || number < min || (max !== undefined && number > max)) {
      this.fail(path, `must be an integer ${range}, got ${describeValue(found)}`);
    }
    return number;
  }

  /** A number (fractions allowed) greater than `exclusiveMin` and at most `max`. */
  number(value: unknown, path: string, exclusiveMin: number, max: number): number | undefined {
    if (value === null || value === undefined) return undefined;
    const found = typeof value === 'string' ? this.expand(value, path).trim() : value;
    let number: number | undefined;
    if (typeof found === 'number') number = found;
    else if (typeof found === 'string' && /^\d+(\.\d+)?$/.test(found)) number = Number(found);
    if (number === undefined || !Number.isFinite(number) || number <= exclusiveMin || number > max) {
      this.fail(path, `must be a number > ${exclusiveMin} and ≤ ${max}, got ${describeValue(found)}`);
    }
    return number;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === null || value === undefined) return undefined;
    const found = typeof value === 'string' ? this.expand(value, path).trim() : value;
    if (found === true || found === 'true') return true;
    if (found === false || found === 'false') return false;
    this.fail(path, `must be true or false, got ${describeValue(found)}`);
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      this.fail(path, `must be one of ${allowed.join(', ')}, got ${describeValue(text)}`);
    }
    return text as T;
  }

  /** A mapping of strings to strings (HTTP headers and the like). */
  stringMap(value: unknown, path: string): Record<string, string> | undefined {
    const map = this.mapping(value, path);
    if (map === undefined) return undefined;
    const result: Record<string, string> = {};
    for (const [key, entry] of Object.entries(map)) {
      const entryPath = childPath(path, key);
      if (typeof entry !== 'string') this.fail(entryPath, `must be a string, got ${describeValue(entry)}`);
      result[key] = this.expand(entry, entryPath);
    }
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// ${VAR} substitution
// ---------------------------------------------------------------------------------------------

type Environment = Record<string, string | undefined>;

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${VAR}` with the environment's value; `$${` stays a literal `${`. Only the
 * braced form is recognised, so secrets that happen to contain `$` are left alone.
 */
function expandVariables(text: string, env: Environment, fail: (problem: string) => never): string {
  if (!text.includes('${')) return text;
  let result = '';
  let position = 0;
  for (;;) {
    const start = text.indexOf('${', position);
    if (start < 0) break;
    if (start > 0 && text[start - 1] === '$') {
      result += text.slice(position, start - 1) + '${';
      position = start + 2;
      continue;
    }
    const end = text.indexOf('}', start + 2);
    if (end < 0) fail('has an unclosed "${" (write "$${" for a literal "${")');
    const name = text.slice(start + 2, end);
    if (!VARIABLE_NAME.test(name)) fail(`"\${${name}}" is not a valid environment variable reference`);
    const replacement = env[name];
    if (replacement === undefined) fail(`environment variable ${name} is not set (referenced as \${${name}})`);
    result += text.slice(position, start) + replacement;
    position = end + 1;
  }
  return result + text.slice(position);
}

/** The names of the `${VAR}` references in a text (`$${` escapes and malformed references skipped). */
function referencedVariables(text: string): string[] {
  const names: string[] = [];
  for (let start = text.indexOf('${'); start >= 0; start = text.indexOf('${', start + 2)) {
    if (start > 0 && text[start - 1] === '$') continue;
    const end = text.indexOf('}', start + 2);
    if (end < 0) break;
    const name = text.slice(start + 2, end);
    if (VARIABLE_NAME.test(name)) names.push(name);
  }
  return names;
}

/** Each unset variable a settings tree references, with the key paths that reference it. */
function unsetVariables(tree: unknown, env: Environment, path = '', found = new Map<string, string[]>()): Map<string, string[]> {
  if (typeof tree === 'string') {
    for (const name of referencedVariables(tree)) {
      if (env[name] !== undefined) continue;
      const paths = found.get(name) ?? [];
      if (!paths.includes(path)) paths.push(path);
      found.set(name, paths);
    }
  } else if (Array.isArray(tree)) {
    tree.forEach((entry, index) => unsetVariables(entry, env, itemPath(path, index), found));
  } else if (isMapping(tree)) {
    for (const [key, value] of Object.entries(tree)) unsetVariables(value, env, childPath(path, key), found);
  }
  return found;
}

/**
 * Reports every unset `${VAR}` of a settings file in one error, each with the key it is for,
 * so a start needs one round of exports rather than one failed try per variable.
 */
function checkVariablesSet(document: unknown, env: Environment, file: string): void {
  if (!isMapping(document)) return;
  // Unknown root keys are left to the reader, whose error names them as such.
  const known = Object.entries(document).filter(([key]) => (ROOT_KEYS as readonly string[]).includes(key));
  const unset = [...unsetVariables(Object.fromEntries(known), env)];
  const [first, ...others] = unset;
  if (!first) return;
  const [name, paths] = first;
  let problem = `environment variable ${name} is not set (referenced as \${${name}}${paths.length > 1 ? `, also in ${paths.slice(1).join(', ')}` : ''})`;
  if (others.length > 0) {
    problem += `; also not set: ${others.map(([other, otherPaths]) => `${other} (${otherPaths.join(', ')})`).join(', ')}`;
  }
  throw new ConfigError(file, paths[0]!, problem);
}

// ---------------------------------------------------------------------------------------------
// HOST:PORT
// ---------------------------------------------------------------------------------------------

const HOST_PORT_EXPECTED = 'must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081)';
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/**
 * Parses `0.0.0.0:8080`, `localhost:8080` or `[::1]:8081`; IPv6 hosts are returned without
 * brackets, as `net.Server.listen` wants them. Port 0 (any free port) is allowed for tests.
 */
export function parseHostPort(text: string, source: string, path: string): HostPort {
  const fail = (problem: string): never => {
    throw new ConfigError(source, path, problem);
  };
  const expected = `${HOST_PORT_EXPECTED}, got ${describeValue(text)}`;
  const separator = text.lastIndexOf(':');
  if (separator < 0) fail(expected);
  let host = text.slice(0, separator);
  const portText = text.slice(separator + 1);
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) fail(`host must be an IPv6 address inside [], got ${describeValue(text)}`);
  } else if (host.includes(':')) {
    fail(`an IPv6 host must be written in brackets (e.g. [::1]:8081), got ${describeValue(text)}`);
  } else if (!HOST_NAME.test(host)) {
    fail(expected);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    fail(`port must be an integer from 0 to 65535, got ${describeValue(text)}`);
  }
  return { host, port: Number(portText) };
}

/** The inverse of parseHostPort, for logs and messages. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

const DEFAULT_LIMITS: Readonly<Limits> = {
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
const DEFAULT_CIRCUIT_BREAKER: Readonly<CircuitBreakerSetting> = { failureThreshold: 5, cooldownSeconds: 10 };
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

// ---------------------------------------------------------------------------------------------
// Single values, shared by the file, environment and flag layers
// ---------------------------------------------------------------------------------------------

export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,19}$/;
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];
const BACKPLANE_SCHEMES = ['redis://', 'rediss://', 'nats://'];
const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Node timers overflow past 2^31-1 ms (and then fire after 1 ms), so durations stay below it. */
const MAX_TIMER_SECONDS = 2_147_483;

function checkNodeId(value: string, source: string, path: string): string {
  if (!NODE_ID_PATTERN.test(value)) {
    throw new ConfigError(
      source,
      path,
      `must be 1 to 20 characters of a-z, 0-9 and "-", starting with a letter or digit, got ${describeValue(value)}`,
    );
  }
  return value;
}

function checkBackplane(value: string, source: string, path: string): string {
  if (!BACKPLANE_SCHEMES.some((scheme) => value.startsWith(scheme)) || !URL.canParse(value)) {
    // NATS takes a comma-separated list of servers of one cluster (nats://a:4222,nats://b:4222).
    const servers = value.split(',');
    const natsList = servers.length > 1 && servers.every((server) => server.startsWith('nats://') && URL.canParse(server));
    if (!natsList) {
      throw new ConfigError(
        source,
        path,
        `must be a URL starting with redis://, rediss:// or nats:// (NATS also takes a comma-separated list of nats:// URLs), got ${describeValue(value)}`,
      );
    }
  }
  return value;
}

function checkLogLevel(value: string, source: string, path: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(source, path, `must be one of ${LOG_LEVELS.join(', ')}, got ${describeValue(value)}`);
  }
  return value as LogLevel;
}

function checkLogFormat(value: string, source: string, path: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) {
    throw new ConfigError(source, path, `must be one of ${LOG_FORMATS.join(', ')}, got ${describeValue(value)}`);
  }
  return value as LogFormat;
}

/** `source` and `path` name the key's position (`management.apiKeys[2].key`, `--api-key #1`), never the key. */
function checkApiKey(value: string, source: string, path: string): string {
  if (value.length === 0 || /[\s,]/.test(value)) {
    throw new ConfigError(source, path, 'must be a non-empty key without spaces or commas (value hidden)');
  }
  if (value.length < MIN_API_KEY_LENGTH) {
    throw new ConfigError(source, path, `is too short: an API key needs at least ${MIN_API_KEY_LENGTH} characters, e.g. \`openssl rand -hex 24\` (value hidden)`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The file layer
// ---------------------------------------------------------------------------------------------

const ROOT_KEYS = [
  'listen',
  'spec',
  'management',
  'grpc',
  'auth',
  'limits',
  'topics',
  'backplane',
  'nodeId',
  'log',
  'trustedProxies',
  'drainSeconds',
  'tls',
  'edge',
  'backends',
] as const;
const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];
/** Limits where 0 means off; every other limit is at least 1. */
const LIMITS_THAT_MAY_BE_OFF: ReadonlySet<keyof Limits> = new Set(['acceptsPerSecondPerIp']);
const JWT_KEYS = ['secret', 'publicKey', 'jwksUrl', 'algorithms', 'issuer', 'audience', 'claims', 'clockToleranceSeconds', 'requireExp', 'maxTokenAgeSeconds', 'refreshNoticeSeconds'];
const TOPIC_KEYS = ['pattern', 'historySize', 'historyTtlSeconds', 'presence', 'joinLeave', 'permissions', 'authorize'];
const AUTHORIZE_KEYS = ['url', 'timeoutSeconds', 'cacheSeconds'];
/** `{tenantId}` and `{userId}` bind a pattern to the connection; any other `{…}` is a typo. */
const PATTERN_PLACEHOLDER = /\{([^}]*)\}/g;
const TLS_KEYS = ['cert', 'key'];

/** Reads one settings file over the defaults. `folder` anchors relative `spec` and `publicKey` paths. */
class SettingsFileReader {
  private readonly fields: FieldReader;

  constructor(
    readonly file: string,
    private readonly folder: string,
    env: Environment,
  ) {
    this.fields = new FieldReader(file, (text, path) =>
      expandVariables(text, env, (problem) => {
        throw new ConfigError(file, path, problem);
      }),
    );
  }

  read(document: unknown): Settings {
    const f: FieldReader = this.fields;
    const settings = defaultSettings();
    if (document === null || document === undefined) return settings; // an empty file: all defaults
    if (!isMapping(document)) f.fail('', `must be a mapping of settings, got ${describeValue(document)}`);
    const root = f.mapping(document, '', ROOT_KEYS) ?? {};

    settings.listen = this.hostPort(root.listen, 'listen') ?? settings.listen;
    const tls = this.tls(root.tls, 'tls');
    if (tls) settings.tls = tls;
    settings.specs = this.specs(root.spec);
    this.management(root.management, settings);
    const grpc = this.grpc(root.grpc);
    if (grpc) settings.grpc = grpc;
    settings.edge = this.edge(root.edge);
    const backends = f.mapping(root.backends, 'backends', ['circuitBreaker']);
    const breaker = f.mapping(backends?.circuitBreaker, 'backends.circuitBreaker', ['failureThreshold', 'cooldownSeconds']);
    settings.backends.circuitBreaker = {
      failureThreshold: f.integer(breaker?.failureThreshold, 'backends.circuitBreaker.failureThreshold', 0) ?? DEFAULT_CIRCUIT_BREAKER.failureThreshold,
      cooldownSeconds:
        f.integer(breaker?.cooldownSeconds, 'backends.circuitBreaker.cooldownSeconds', 1, MAX_TIMER_SECONDS) ?? DEFAULT_CIRCUIT_BREAKER.cooldownSeconds,
    };
    const auth = f.mapping(root.auth, 'auth', ['jwt', 'failureThrottle']);
    const jwt = this.jwt(auth?.jwt, 'auth.jwt');
    if (jwt) settings.auth.jwt = jwt;
    settings.auth.failureThrottle = this.failureThrottle(auth?.failureThrottle);
    settings.limits = this.limits(root.limits);
    settings.topics = this.topics(root.topics, settings.auth.jwt !== undefined);

    const backplane = f.string(root.backplane, 'backplane');
    if (backplane !== undefined) settings.backplane = checkBackplane(backplane, this.file, 'backplane');
    const nodeId = f.string(root.nodeId, 'nodeId');
    if (nodeId !== undefined) settings.nodeId = checkNodeId(nodeId, this.file, 'nodeId');
    const log = f.mapping(root.log, 'log', ['level', 'format']);
    const level = f.string(log?.level, 'log.level');
    if (level !== undefined) settings.log.level = checkLogLevel(level, this.file, 'log.level');
    const format = f.string(log?.format, 'log.format');
    if (format !== undefined) settings.log.format = checkLogFormat(format, this.file, 'log.format');

    settings.trustedProxies = (f.list(root.trustedProxies, 'trustedProxies') ?? []).map((entry, index) => {
      const entryPath = itemPath('trustedProxies', index);
      const address = f.required(f.string(entry, entryPath), entryPath);
      if (isIP(address) === 0) f.fail(entryPath, `must be an IP address, got ${describeValue(address)}`);
      return address;
    });
    settings.drainSeconds = f.integer(root.drainSeconds, 'drainSeconds', 0, MAX_TIMER_SECONDS) ?? settings.drainSeconds;
    return settings;
  }

  private hostPort(value: unknown, path: string): HostPort | undefined {
    if (typeof value === 'number') this.fields.fail(path, `${HOST_PORT_EXPECTED}, got ${value}`);
    const text = this.fields.string(value, path);
    return text === undefined ? undefined : parseHostPort(text, this.file, path);
  }

  private specs(value: unknown): string[] {
    const f: FieldReader = this.fields;
    const entries = typeof value === 'string' ? [value] : (f.list(value, 'spec') ?? []);
    return entries.map((entry, index) => {
      const entryPath = typeof value === 'string' ? 'spec' : itemPath('spec', index);
      return resolve(this.folder, f.required(f.string(entry, entryPath), entryPath));
    });
  }

  private management(value: unknown, settings: Settings): void {
    const f: FieldReader = this.fields;
    const management = f.mapping(value, 'management', ['listen', 'apiKeys', 'awsAccessKeys', 'rateLimit', 'tls', 'allowedHosts', 'maxConnections', 'timeouts']);
    if (!management) return;
    settings.management.listen = this.hostPort(management.listen, 'management.listen') ?? settings.management.listen;
    settings.management.allowedHosts = this.allowedHosts(management.allowedHosts, 'management.allowedHosts');
    settings.management.maxConnections =
      f.integer(management.maxConnections, 'management.maxConnections', 1, 1_000_000) ?? settings.management.maxConnections;
    settings.management.timeouts = this.managementTimeouts(management.timeouts, 'management.timeouts');
    settings.management.rateLimit = this.rateLimit(management.rateLimit, 'management.rateLimit') ?? settings.management.rateLimit;
    const tls = this.tls(management.tls, 'management.tls');
    if (tls) settings.management.tls = tls;

    const seenKeys = new Map<string, string>();
    settings.management.apiKeys = (f.list(management.apiKeys, 'management.apiKeys') ?? []).map((entry, index) => {
      const entryPath = itemPath('management.apiKeys', index);
      const apiKey = f.required(f.mapping(entry, entryPath, ['key', 'scopes', 'tenantId', 'rateLimit']), entryPath);
      const keyPath = childPath(entryPath, 'key');
      const key = checkApiKey(f.required(f.string(apiKey.key, keyPath, { secret: true }), keyPath), this.file, keyPath);
      const earlier = seenKeys.get(key);
      if (earlier !== undefined) f.fail(keyPath, `repeats the key of ${earlier}`);
      seenKeys.set(key, entryPath);
      const setting: ApiKeySetting = { key, scopes: this.scopes(apiKey.scopes, childPath(entryPath, 'scopes')) };
      const tenantId = f.string(apiKey.tenantId, childPath(entryPath, 'tenantId'));
      if (tenantId !== undefined) setting.tenantId = tenantId;
      const rateLimit = this.rateLimit(apiKey.rateLimit, childPath(entryPath, 'rateLimit'));
      if (rateLimit !== undefined) setting.rateLimit = rateLimit;
      return setting;
    });

    settings.management.awsAccessKeys = (f.list(management.awsAccessKeys, 'management.awsAccessKeys') ?? []).map(
      (entry, index): AwsAccessKeySetting => {
        const entryPath = itemPath('management.awsAccessKeys', index);
        const accessKey = f.required(f.mapping(entry, entryPath, ['accessKeyId', 'secretAccessKey']), entryPath);
        const idPath = childPath(entryPath, 'accessKeyId');
        const secretPath = childPath(entryPath, 'secretAccessKey');
        return {
          accessKeyId: f.required(f.string(accessKey.accessKeyId, idPath), idPath),
          secretAccessKey: f.required(f.string(accessKey.secretAccessKey, secretPath, { secret: true }), secretPath),
        };
      },
    );
  }

  private grpc(value: unknown): GrpcSettings | undefined {
    const f: FieldReader = this.fields;
    const grpc = f.mapping(value, 'grpc', ['listen', 'tls', 'maxConnections', 'idleTimeoutSeconds', 'keepaliveSeconds']);
    if (!grpc) return undefined;
    const settings: GrpcSettings = {
      listen: f.required(this.hostPort(grpc.listen, 'grpc.listen'), 'grpc.listen'),
      maxConnections: f.integer(grpc.maxConnections, 'grpc.maxConnections', 1, 1_000_000) ?? GRPC_DEFAULTS.maxConnections,
      idleTimeoutSeconds: f.integer(grpc.idleTimeoutSeconds, 'grpc.idleTimeoutSeconds', 1, MAX_TIMER_SECONDS) ?? GRPC_DEFAULTS.idleTimeoutSeconds,
      keepaliveSeconds: f.integer(grpc.keepaliveSeconds, 'grpc.keepaliveSeconds', 1, MAX_TIMER_SECONDS) ?? GRPC_DEFAULTS.keepaliveSeconds,
    };
    const tls = this.tls(grpc.tls, 'grpc.tls');
    if (tls) settings.tls = tls;
    return settings;
  }

  /** Host names as a Host header carries them without its port: `gw.example.com`, `10.0.0.5`, `[fd00::5]`. */
  private allowedHosts(value: unknown, path: string): string[] {
    const f: FieldReader = this.fields;
    const entries = f.list(value, path) ?? [];
    return [
      ...new Set(
        entries.map((entry, index) => {
          const entryPath = itemPath(path, index);
          const host = f.required(f.string(entry, entryPath), entryPath).toLowerCase();
          const bracketed = host.startsWith('[') && host.endsWith(']') && isIP(host.slice(1, -1)) === 6;
          if (!bracketed && !HOST_NAME.test(host)) {
            f.fail(entryPath, `must be a host name without port or scheme (e.g. switchboard.internal, 10.0.0.5 or [fd00::5]), got ${describeValue(host)}`);
          }
          return host;
        }),
      ),
    ];
  }

  private managementTimeouts(value: unknown, path: string): ManagementTimeouts {
    const f: FieldReader = this.fields;
    const given = f.mapping(value, path, Object.keys(MANAGEMENT_TIMEOUT_DEFAULTS));
    const timeouts = { ...MANAGEMENT_TIMEOUT_DEFAULTS };
    if (!given) return timeouts;
    for (const key of Object.keys(MANAGEMENT_TIMEOUT_DEFAULTS) as (keyof ManagementTimeouts)[]) {
      timeouts[key] = f.integer(given[key], childPath(path, key), 1, MAX_TIMER_SECONDS) ?? timeouts[key];
    }
    // Node refuses a head timeout longer than the whole request's.
    if (timeouts.headersSeconds > timeouts.requestSeconds) {
      f.fail(childPath(path, 'headersSeconds'), `must not exceed ${path}.requestSeconds (${timeouts.requestSeconds}), got ${timeouts.headersSeconds}`);
    }
    return timeouts;
  }

  private failureThrottle(value: unknown): AuthFailureThrottleSetting {
    const f: FieldReader = this.fields;
    const path = 'auth.failureThrottle';
    const given = f.mapping(value, path, ['maxFailures', 'windowSeconds', 'cooldownSeconds']);
    const defaults = AUTH_FAILURE_THROTTLE_DEFAULTS;
    return {
      maxFailures: f.integer(given?.maxFailures, childPath(path, 'maxFailures'), 0, 1_000_000) ?? defaults.maxFailures,
      windowSeconds: f.integer(given?.windowSeconds, childPath(path, 'windowSeconds'), 1, MAX_TIMER_SECONDS) ?? defaults.windowSeconds,
      cooldownSeconds: f.integer(given?.cooldownSeconds, childPath(path, 'cooldownSeconds'), 1, MAX_TIMER_SECONDS) ?? defaults.cooldownSeconds,
    };
  }

  /** `{requestsPerSecond, burst}`; burst defaults to two seconds' worth. */
  private rateLimit(value: unknown, path: string): RateLimitSetting | undefined {
    const f: FieldReader = this.fields;
    const limit = f.mapping(value, path, ['requestsPerSecond', 'burst']);
    if (!limit) return undefined;
    const ratePath = childPath(path, 'requestsPerSecond');
    const requestsPerSecond = f.required(f.number(limit.requestsPerSecond, ratePath, 0, 1e9), ratePath, 'requests per second, e.g. 100');
    const burst = f.integer(limit.burst, childPath(path, 'burst'), 1, 1e9) ?? Math.max(1, Math.ceil(requestsPerSecond * 2));
    return { requestsPerSecond, burst };
  }

  /**
   * Reads and checks the certificate and key now, so a bad file, a key of another certificate
   * or an expired certificate stops the start rather than failing every handshake.
   */
  private tls(value: unknown, path: string): TlsSetting | undefined {
    const f: FieldReader = this.fields;
    const tls = f.mapping(value, path, TLS_KEYS);
    if (!tls) return undefined;
    const certPath = childPath(path, 'cert');
    const keyPath = childPath(path, 'key');
    const certFile = resolve(this.folder, f.required(f.string(tls.cert, certPath), certPath, 'a PEM certificate file (chain allowed)'));
    const keyFile = resolve(this.folder, f.required(f.string(tls.key, keyPath), keyPath, 'a PEM private key file'));
    const certPem = this.pemFile(certFile, certPath);
    const keyPem = this.pemFile(keyFile, keyPath);
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(certPem);
    } catch {
      return f.fail(certPath, `${describeValue(certFile)} is not a PEM certificate`);
    }
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      return f.fail(keyPath, `${describeValue(keyFile)} is not an unencrypted PEM private key`);
    }
    if (!certificate.checkPrivateKey(key)) f.fail(keyPath, `${describeValue(keyFile)} is not the key of the certificate in ${certPath}`);
    if (Date.parse(certificate.validTo) < Date.now()) f.fail(certPath, `the certificate in ${describeValue(certFile)} expired on ${certificate.validTo}`);
    return { certFile, keyFile, certPem, keyPem };
  }

  private pemFile(file: string, path: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return this.fields.fail(path, `cannot read ${describeValue(file)}: ${code === 'ENOENT' ? 'file not found' : (code ?? String(err))}`);
    }
  }

  private edge(value: unknown): EdgeSettings {
    const f: FieldReader = this.fields;
    const edge = f.mapping(value, 'edge', ['allowedOrigins', 'requireOrigin']);
    return {
      allowedOrigins: readOrigins(f, edge?.allowedOrigins, 'edge.allowedOrigins') ?? [],
      requireOrigin: f.boolean(edge?.requireOrigin, 'edge.requireOrigin') ?? false,
    };
  }

  private scopes(value: unknown, path: string): Scope[] {
    const f: FieldReader = this.fields;
    const hint = `list one or more of ${ALL_SCOPES.join(', ')}`;
    const entries = f.required(f.list(value, path), path, hint);
    if (entries.length === 0) f.fail(path, `must not be empty: ${hint}`);
    const scopes = entries.map((entry, index) => f.required(f.oneOf(entry, itemPath(path, index), ALL_SCOPES), itemPath(path, index)));
    return [...new Set(scopes)];
  }

  private jwt(value: unknown, path: string): JwtSettings | undefined {
    const f: FieldReader = this.fields;
    const jwt = f.mapping(value, path, JWT_KEYS);
    if (!jwt) return undefined;
    const secret = f.string(jwt.secret, childPath(path, 'secret'), { secret: true });
    const publicKeyFile = f.string(jwt.publicKey, childPath(path, 'publicKey'));
    const jwksUrl = f.string(jwt.jwksUrl, childPath(path, 'jwksUrl'));

    const given = [
      ['secret', secret],
      ['publicKey', publicKeyFile],
      ['jwksUrl', jwksUrl],
    ].filter(([, v]) => v !== undefined);
    if (given.length !== 1) {
      const found = given.length === 0 ? 'none' : given.map(([name]) => name).join(' and ');
      f.fail(path, `needs exactly one of secret, publicKey or jwksUrl, got ${found}`);
    }

    const settings: JwtSettings = {
      algorithms: secret !== undefined ? ['HS256'] : ['RS256', 'ES256'],
      claims: { tenantId: 'tid', userId: 'sub' },
      clockToleranceSeconds: 30,
      requireExp: true,
    };
    if (secret !== undefined) settings.secret = secret;
    if (publicKeyFile !== undefined) settings.publicKeyPem = this.publicKey(publicKeyFile, childPath(path, 'publicKey'));
    if (jwksUrl !== undefined) {
      if (!/^https?:\/\//.test(jwksUrl) || !URL.canParse(jwksUrl)) {
        f.fail(childPath(path, 'jwksUrl'), `must be an http:// or https:// URL, got ${describeValue(jwksUrl)}`);
      }
      settings.jwksUrl = jwksUrl;
    }

    const algorithmsPath = childPath(path, 'algorithms');
    const algorithms = f.list(jwt.algorithms, algorithmsPath);
    if (algorithms !== undefined) {
      if (algorithms.length === 0) f.fail(algorithmsPath, 'must list at least one algorithm');
      // Only the family that matches the key is allowed: accepting HS256 next to a public key
      // is the classic algorithm-confusion hole.
      const allowed = secret !== undefined ? HMAC_ALGORITHMS : PUBLIC_KEY_ALGORITHMS;
      const keyKind = secret !== undefined ? 'secret' : publicKeyFile !== undefined ? 'publicKey' : 'jwksUrl';
      settings.algorithms = algorithms.map((entry, index) => {
        const entryPath = itemPath(algorithmsPath, index);
        const algorithm = f.required(f.string(entry, entryPath), entryPath);
        if (!allowed.includes(algorithm)) {
          f.fail(entryPath, `with ${keyKind} must be one of ${allowed.join(', ')}, got ${describeValue(algorithm)}`);
        }
        return algorithm;
      });
    }

    const issuer = f.string(jwt.issuer, childPath(path, 'issuer'));
    if (issuer !== undefined) settings.issuer = issuer;
    const audience = f.string(jwt.audience, childPath(path, 'audience'));
    if (audience !== undefined) settings.audience = audience;
    const claims = f.mapping(jwt.claims, childPath(path, 'claims'), ['tenantId', 'userId', 'topics']);
    settings.claims.tenantId = f.string(claims?.tenantId, childPath(path, 'claims.tenantId')) ?? settings.claims.tenantId;
    settings.claims.userId = f.string(claims?.userId, childPath(path, 'claims.userId')) ?? settings.claims.userId;
    settings.claims.topics = f.string(claims?.topics, childPath(path, 'claims.topics')) ?? TOPICS_CLAIM_DEFAULT;
    settings.clockToleranceSeconds =
      f.integer(jwt.clockToleranceSeconds, childPath(path, 'clockToleranceSeconds'), 0, MAX_TIMER_SECONDS) ??
      settings.clockToleranceSeconds;
    settings.requireExp = f.boolean(jwt.requireExp, childPath(path, 'requireExp')) ?? true;
    const maxTokenAge = f.integer(jwt.maxTokenAgeSeconds, childPath(path, 'maxTokenAgeSeconds'), 1, MAX_TIMER_SECONDS);
    if (maxTokenAge !== undefined) settings.maxTokenAgeSeconds = maxTokenAge;
    settings.refreshNoticeSeconds =
      f.integer(jwt.refreshNoticeSeconds, childPath(path, 'refreshNoticeSeconds'), 1, MAX_TIMER_SECONDS) ?? REFRESH_NOTICE_DEFAULT_SECONDS;
    return settings;
  }

  /** Reads the PEM file now, so a bad key stops the start rather than the first connection. */
  private publicKey(file: string, path: string): string {
    const resolved = resolve(this.folder, file);
    let pem: string;
    try {
      pem = readFileSync(resolved, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.fields.fail(path, `cannot read ${describeValue(resolved)}: ${code === 'ENOENT' ? 'file not found' : (code ?? String(err))}`);
    }
    try {
      createPublicKey(pem);
    } catch {
      this.fields.fail(path, `${describeValue(resolved)} is not a PEM public key or certificate`);
    }
    return pem;
  }

  private limits(value: unknown): Limits {
    const f: FieldReader = this.fields;
    const limits: Limits = { ...DEFAULT_LIMITS };
    const given = f.mapping(value, 'limits', LIMIT_KEYS);
    if (!given) return limits;
    for (const key of LIMIT_KEYS) {
      const max = key.endsWith('Seconds') ? MAX_TIMER_SECONDS : undefined;
      limits[key] = f.integer(given[key], `limits.${key}`, LIMITS_THAT_MAY_BE_OFF.has(key) ? 0 : 1, max) ?? limits[key];
    }
    return limits;
  }

  private topics(value: unknown, hasJwt: boolean): TopicSettings[] {
    const f: FieldReader = this.fields;
    const firstIndexOfPattern = new Map<string, number>();
    return (f.list(value, 'topics') ?? []).map((entry, index) => {
      const entryPath = itemPath('topics', index);
      const topic = f.required(f.mapping(entry, entryPath, TOPIC_KEYS), entryPath);
      const patternPath = childPath(entryPath, 'pattern');
      const pattern = f.required(f.string(topic.pattern, patternPath), patternPath, 'a glob such as "*:chat.*"');
      const earlier = firstIndexOfPattern.get(pattern);
      // The first matching pattern wins, so a repeated one could never apply.
      if (earlier !== undefined) f.fail(patternPath, `repeats topics[${earlier}].pattern ${describeValue(pattern)}, which always matches first`);
      firstIndexOfPattern.set(pattern, index);
      return {
        pattern,
        historySize: f.integer(topic.historySize, childPath(entryPath, 'historySize'), 0) ?? TOPIC_DEFAULTS.historySize,
        historyTtlSeconds:
          f.integer(topic.historyTtlSeconds, childPath(entryPath, 'historyTtlSeconds'), 1, MAX_TIMER_SECONDS) ??
          TOPIC_DEFAULTS.historyTtlSeconds,
        presence: f.boolean(topic.presence, childPath(entryPath, 'presence')) ?? TOPIC_DEFAULTS.presence,
        joinLeave: f.boolean(topic.joinLeave, childPath(entryPath, 'joinLeave')) ?? TOPIC_DEFAULTS.joinLeave,
        ...this.topicPermissions(topic, entryPath, pattern, hasJwt),
      };
    });
  }

  /** `permissions` and `authorize` of one `topics[]` entry: present in the result only when set. */
  private topicPermissions(topic: YamlMapping, entryPath: string, pattern: string, hasJwt: boolean): Pick<TopicSettings, 'permissions' | 'authorize'> {
    const f: FieldReader = this.fields;
    for (const match of pattern.matchAll(PATTERN_PLACEHOLDER)) {
      if (match[1] !== 'tenantId' && match[1] !== 'userId') {
        f.fail(childPath(entryPath, 'pattern'), `placeholder ${describeValue(match[0])} is unknown: use {tenantId} or {userId}`);
      }
    }
    const result: Pick<TopicSettings, 'permissions' | 'authorize'> = {};
    const permissionsPath = childPath(entryPath, 'permissions');
    const given = f.mapping(topic.permissions, permissionsPath, TOPIC_ACTIONS);
    if (given) {
      const permissions = {} as TopicPermissionRules;
      for (const action of TOPIC_ACTIONS) {
        const actionPath = childPath(permissionsPath, action);
        permissions[action] = f.oneOf(given[action], actionPath, TOPIC_ACCESS) ?? 'tenant';
        // Without auth.jwt no connection has a token: the rule could never allow anyone.
        if (permissions[action] === 'token' && !hasJwt) f.fail(actionPath, '"token" needs auth.jwt: without it no connection carries a token');
      }
      result.permissions = permissions;
    }
    const authorizePath = childPath(entryPath, 'authorize');
    const authorize = f.mapping(topic.authorize, authorizePath, AUTHORIZE_KEYS);
    const asksBackend = result.permissions !== undefined && TOPIC_ACTIONS.some((action) => result.permissions![action] === 'backend');
    if (authorize) {
      if (!asksBackend) f.fail(authorizePath, 'is set but no permission of this topic is "backend"');
      const urlPath = childPath(authorizePath, 'url');
      const url = f.required(f.string(authorize.url, urlPath), urlPath, 'the backend that decides, e.g. http://127.0.0.1:3000/authorize');
      if (!/^https?:\/\//.test(url) || !URL.canParse(url)) f.fail(urlPath, `must be an http:// or https:// URL, got ${describeValue(url)}`);
      result.authorize = {
        url,
        timeoutSeconds: f.integer(authorize.timeoutSeconds, childPath(authorizePath, 'timeoutSeconds'), 1, MAX_TIMER_SECONDS) ?? AUTHORIZE_DEFAULTS.timeoutSeconds,
        cacheSeconds: f.integer(authorize.cacheSeconds, childPath(authorizePath, 'cacheSeconds'), 0, MAX_TIMER_SECONDS) ?? AUTHORIZE_DEFAULTS.cacheSeconds,
      };
    } else if (asksBackend) {
      f.fail(authorizePath, 'is required when a permission of this topic is "backend": {url, timeoutSeconds, cacheSeconds}');
    }
    return result;
  }
}

/** A list of origin patterns, each normalised; shared with the gateway spec's `x-switchboard-allowed-origins`. */
export function readOrigins(f: FieldReader, value: unknown, path: string): string[] | undefined {
  const entries = f.list(value, path);
  if (entries === undefined) return undefined;
  return [
    ...new Set(
      entries.map((entry, index) => {
        const entryPath = itemPath(path, index);
        const text = f.required(f.string(entry, entryPath), entryPath);
        return normalizeOriginPattern(text, (problem) => f.fail(entryPath, problem));
      }),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// Loading: file, then environment, then flags
// ---------------------------------------------------------------------------------------------

/** Command-line flags, as the CLI parsed them; each is optional. */
export interface SettingsFlags {
  listen?: string;
  spec?: string[];
  managementListen?: string;
  apiKey?: string[];
  backplane?: string;
  nodeId?: string;
  logLevel?: string;
  logFormat?: string;
  grpcListen?: string;
}

/** The flag, variable and file key of each setting that start-up errors name, so a message can say how to change it. */
export const SETTING_NAMES: Readonly<Record<NamedSetting, { flag: string; env: string; key: string }>> = {
  listen: { flag: '--listen', env: 'SWITCHBOARD_LISTEN', key: 'listen' },
  'management.listen': { flag: '--management-listen', env: 'SWITCHBOARD_MANAGEMENT_LISTEN', key: 'management.listen' },
  'grpc.listen': { flag: '--grpc-listen', env: 'SWITCHBOARD_GRPC_LISTEN', key: 'grpc.listen' },
  backplane: { flag: '--backplane', env: 'SWITCHBOARD_BACKPLANE', key: 'backplane' },
};

export interface SettingsInput {
  /** The YAML file; when absent, SWITCHBOARD_CONFIG names it; when both are absent, defaults. */
  configFile?: string;
  flags: SettingsFlags;
  env: Environment;
}

/**
 * One override layer (environment or flags), each value with the name it came from, so an
 * error says `SWITCHBOARD_LISTEN` or `--listen` instead of a file.
 */
interface OverrideLayer {
  listen?: [string, string];
  specs?: [string, string[]];
  managementListen?: [string, string];
  apiKeys?: [string, string[]];
  backplane?: [string, string];
  nodeId?: [string, string];
  logLevel?: [string, string];
  logFormat?: [string, string];
  grpcListen?: [string, string];
}

function commaList(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

/** An empty variable counts as unset, so `SWITCHBOARD_BACKPLANE=` in a compose file is harmless. */
function environmentLayer(env: Environment): OverrideLayer {
  const layer: OverrideLayer = {};
  const read = (name: string): [string, string] | undefined => {
    const value = env[name]?.trim();
    return value ? [name, value] : undefined;
  };
  const listen = read('SWITCHBOARD_LISTEN');
  if (listen) layer.listen = listen;
  const spec = read('SWITCHBOARD_SPEC');
  if (spec) layer.specs = [spec[0], commaList(spec[1])];
  const managementListen = read('SWITCHBOARD_MANAGEMENT_LISTEN');
  if (managementListen) layer.managementListen = managementListen;
  const apiKeys = read('SWITCHBOARD_API_KEYS');
  if (apiKeys) layer.apiKeys = [apiKeys[0], commaList(apiKeys[1])];
  const backplane = read('SWITCHBOARD_BACKPLANE');
  if (backplane) layer.backplane = backplane;
  const nodeId = read('SWITCHBOARD_NODE_ID');
  if (nodeId) layer.nodeId = nodeId;
  const logLevel = read('SWITCHBOARD_LOG_LEVEL');
  if (logLevel) layer.logLevel = logLevel;
  const logFormat = read('SWITCHBOARD_LOG_FORMAT');
  if (logFormat) layer.logFormat = logFormat;
  const grpcListen = read('SWITCHBOARD_GRPC_LISTEN');
  if (grpcListen) layer.grpcListen = grpcListen;
  return layer;
}

function flagLayer(flags: SettingsFlags): OverrideLayer {
  const layer: OverrideLayer = {};
  if (flags.listen !== undefined) layer.listen = ['--listen', flags.listen];
  if (flags.spec !== undefined && flags.spec.length > 0) layer.specs = ['--spec', flags.spec];
  if (flags.managementListen !== undefined) layer.managementListen = ['--management-listen', flags.managementListen];
  if (flags.apiKey !== undefined && flags.apiKey.length > 0) layer.apiKeys = ['--api-key', flags.apiKey];
  if (flags.backplane !== undefined) layer.backplane = ['--backplane', flags.backplane];
  if (flags.nodeId !== undefined) layer.nodeId = ['--node-id', flags.nodeId];
  if (flags.logLevel !== undefined) layer.logLevel = ['--log-level', flags.logLevel];
  if (flags.logFormat !== undefined) layer.logFormat = ['--log-format', flags.logFormat];
  if (flags.grpcListen !== undefined) layer.grpcListen = ['--grpc-listen', flags.grpcListen];
  return layer;
}

/**
 * Where each listener's address came from, for the clash check after all layers: the name
 * of the file, variable or flag, and how late its layer applied (0 = default).
 */
interface ListenerOrigin {
  source: string;
  layer: number;
}
type ListenerPath = 'listen' | 'management.listen' | 'grpc.listen';
type ListenerOrigins = Record<NamedSetting, ListenerOrigin>;
const LAYER_KINDS: readonly SettingSource['kind'][] = ['default', 'file', 'env', 'flag'];

function applyLayer(settings: Settings, layer: OverrideLayer, layerRank: number, origins: ListenerOrigins): void {
  if (layer.listen) {
    const [source, text] = layer.listen;
    settings.listen = parseHostPort(text, source, 'listen');
    origins.listen = { source, layer: layerRank };
  }
  if (layer.specs) {
    // Relative to the working directory: that is where a flag or variable was written.
    settings.specs = layer.specs[1].map((file) => resolve(file));
  }
  if (layer.managementListen) {
    const [source, text] = layer.managementListen;
    settings.management.listen = parseHostPort(text, source, 'management.listen');
    origins['management.listen'] = { source, layer: layerRank };
  }
  if (layer.apiKeys) {
    const [source, keys] = layer.apiKeys;
    for (const [index, key] of keys.entries()) {
      // The key's position, 1-based as a person counts them: `--api-key #2`, `SWITCHBOARD_API_KEYS item 2`.
      checkApiKey(key, `${source} ${source.startsWith('--') ? '#' : 'item '}${index + 1}`, 'management.apiKeys');
      // A key named on the command line or in the environment gets every scope and no tenant,
      // replacing a file entry for the same key: the later layer wins, as for every setting.
      settings.management.apiKeys = settings.management.apiKeys.filter((existing) => existing.key !== key);
      settings.management.apiKeys.push({ key, scopes: [...ALL_SCOPES] });
    }
  }
  if (layer.backplane) {
    settings.backplane = checkBackplane(layer.backplane[1], layer.backplane[0], 'backplane');
    origins.backplane = { source: layer.backplane[0], layer: layerRank };
  }
  if (layer.nodeId) settings.nodeId = checkNodeId(layer.nodeId[1], layer.nodeId[0], 'nodeId');
  if (layer.logLevel) settings.log.level = checkLogLevel(layer.logLevel[1], layer.logLevel[0], 'log.level');
  if (layer.logFormat) settings.log.format = checkLogFormat(layer.logFormat[1], layer.logFormat[0], 'log.format');
  if (layer.grpcListen) {
    const [source, text] = layer.grpcListen;
    // The address is replaced; the file's other grpc settings (tls, limits) stay.
    settings.grpc = { ...GRPC_DEFAULTS, ...settings.grpc, listen: parseHostPort(text, source, 'grpc.listen') };
    origins['grpc.listen'] = { source, layer: layerRank };
  }
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

/** Two listeners clash when they share a port and one host covers the other. */
function listenersClash(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || WILDCARD_HOSTS.has(a.host) || WILDCARD_HOSTS.has(b.host);
}

/**
 * The management listener is never the client listener (DESIGN §2.2), nor the gRPC one.
 * A clash is reported against the address set last, which is the one that introduced it.
 */
function checkListeners(settings: Settings, origins: ListenerOrigins): void {
  const listeners: [ListenerPath, HostPort][] = [
    ['listen', settings.listen],
    ['management.listen', settings.management.listen],
  ];
  if (settings.grpc) listeners.push(['grpc.listen', settings.grpc.listen]);
  for (let i = 0; i < listeners.length; i++) {
    for (let j = 0; j < i; j++) {
      const [firstPath, first] = listeners[j]!;
      const [secondPath, second] = listeners[i]!;
      if (!listenersClash(first, second)) continue;
      const blameFirst = origins[firstPath].layer > origins[secondPath].layer;
      const [blamedPath, blamed, otherPath, other] = blameFirst
        ? [firstPath, first, secondPath, second]
        : [secondPath, second, firstPath, first];
      throw new ConfigError(
        origins[blamedPath].source,
        blamedPath,
        `must not share a port with ${otherPath} (${formatHostPort(blamed)} and ${formatHostPort(other)})`,
      );
    }
  }
}

/**
 * Loads a node's settings. Precedence: flags > SWITCHBOARD_* variables > the YAML file >
 * defaults; API keys from flags and variables are added to the file's.
 */
export function loadSettings(input: SettingsInput): Settings {
  return loadSettingsWithSources(input).settings;
}

/** loadSettings, and where the settings that start-up errors name came from. */
export function loadSettingsWithSources(input: SettingsInput): { settings: Settings; sources: SettingSources } {
  const configFile = input.configFile ?? (input.env.SWITCHBOARD_CONFIG?.trim() || undefined);
  let settings = defaultSettings();
  // Before the layers apply, an address is the file's (or the default's when there is no file).
  const base: ListenerOrigin = { source: configFile ?? '(defaults)', layer: configFile === undefined ? 0 : 1 };
  const origins: ListenerOrigins = { listen: { ...base }, 'management.listen': { ...base }, 'grpc.listen': { ...base }, backplane: { ...base } };
  if (configFile !== undefined) {
    const document = parseYamlText(readConfigText(configFile, 'config file'), configFile);
    checkVariablesSet(document, input.env, configFile);
    const reader = new SettingsFileReader(configFile, dirname(resolve(configFile)), input.env);
    settings = reader.read(document);
  }
  applyLayer(settings, environmentLayer(input.env), 2, origins);
  applyLayer(settings, flagLayer(input.flags), 3, origins);
  checkListeners(settings, origins);
  const sources: SettingSources = {};
  for (const [setting, origin] of Object.entries(origins) as [NamedSetting, ListenerOrigin][]) {
    const kind = LAYER_KINDS[origin.layer] ?? 'default';
    sources[setting] = { kind, name: kind === 'default' ? '' : origin.source };
  }
  return { settings, sources };
}
