/**
 * The settings file layer: reads one YAML file over the defaults, each section by its own
 * reader, with `${VAR}` substitution from the environment.
 */
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { AUTH_FAILURE_THROTTLE_DEFAULTS, DEFAULT_CIRCUIT_BREAKER, DEFAULT_LIMITS, defaultSettings, GRPC_DEFAULTS } from './defaults.js';
import { readHostPort } from './host-port.js';
import { readJwt } from './jwt-section.js';
import { readManagement } from './management-section.js';
import { checkBackplane, checkLogFormat, checkLogLevel, checkNodeId, MAX_TIMER_SECONDS } from './setting-values.js';
import { readTls } from './tls-section.js';
import { readTopics } from './topics-section.js';
import type { AuthFailureThrottleSetting, CircuitBreakerSetting, EdgeSettings, GrpcSettings, Limits, Settings } from './types.js';
import { checkVariablesSet, expandVariables, type Environment } from './variables.js';
import { childPath, describeValue, FieldReader, isMapping, itemPath, parseYamlText, readConfigText, readOrigins, type YamlMapping } from './yaml-fields.js';

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

/** Reads, substitutes and checks a settings file; every unset `${VAR}` is reported before any value is read. */
export function readSettingsFile(file: string, env: Environment): Settings {
  const document = parseYamlText(readConfigText(file, 'config file'), file);
  checkVariablesSet(document, env, file, ROOT_KEYS);
  return new SettingsFileReader(file, dirname(resolve(file)), env).read(document);
}

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

    settings.listen = readHostPort(f, root.listen, 'listen') ?? settings.listen;
    const tls = readTls(f, root.tls, 'tls', this.folder);
    if (tls) settings.tls = tls;
    settings.specs = this.specs(root.spec);
    readManagement(f, root.management, settings, this.folder);
    const grpc = this.grpc(root.grpc);
    if (grpc) settings.grpc = grpc;
    settings.edge = this.edge(root.edge);
    settings.backends.circuitBreaker = this.circuitBreaker(root.backends);
    const auth = f.mapping(root.auth, 'auth', ['jwt', 'failureThrottle']);
    const jwt = readJwt(f, auth?.jwt, 'auth.jwt', this.folder);
    if (jwt) settings.auth.jwt = jwt;
    settings.auth.failureThrottle = this.failureThrottle(auth?.failureThrottle);
    settings.limits = this.limits(root.limits);
    settings.topics = readTopics(f, root.topics, settings.auth.jwt !== undefined);
    this.singleValues(root, settings);
    settings.trustedProxies = this.trustedProxies(root.trustedProxies);
    settings.drainSeconds = f.integer(root.drainSeconds, 'drainSeconds', 0, MAX_TIMER_SECONDS) ?? settings.drainSeconds;
    return settings;
  }

  private specs(value: unknown): string[] {
    const f: FieldReader = this.fields;
    const entries = typeof value === 'string' ? [value] : (f.list(value, 'spec') ?? []);
    return entries.map((entry, index) => {
      const entryPath = typeof value === 'string' ? 'spec' : itemPath('spec', index);
      return resolve(this.folder, f.required(f.string(entry, entryPath), entryPath));
    });
  }

  private grpc(value: unknown): GrpcSettings | undefined {
    const f: FieldReader = this.fields;
    const grpc = f.mapping(value, 'grpc', ['listen', 'tls', 'maxConnections', 'idleTimeoutSeconds', 'keepaliveSeconds']);
    if (!grpc) return undefined;
    const settings: GrpcSettings = {
      listen: f.required(readHostPort(f, grpc.listen, 'grpc.listen'), 'grpc.listen'),
      maxConnections: f.integer(grpc.maxConnections, 'grpc.maxConnections', 1, 1_000_000) ?? GRPC_DEFAULTS.maxConnections,
      idleTimeoutSeconds: f.integer(grpc.idleTimeoutSeconds, 'grpc.idleTimeoutSeconds', 1, MAX_TIMER_SECONDS) ?? GRPC_DEFAULTS.idleTimeoutSeconds,
      keepaliveSeconds: f.integer(grpc.keepaliveSeconds, 'grpc.keepaliveSeconds', 1, MAX_TIMER_SECONDS) ?? GRPC_DEFAULTS.keepaliveSeconds,
    };
    const tls = readTls(f, grpc.tls, 'grpc.tls', this.folder);
    if (tls) settings.tls = tls;
    return settings;
  }

  private edge(value: unknown): EdgeSettings {
    const f: FieldReader = this.fields;
    const edge = f.mapping(value, 'edge', ['allowedOrigins', 'requireOrigin']);
    return {
      allowedOrigins: readOrigins(f, edge?.allowedOrigins, 'edge.allowedOrigins') ?? [],
      requireOrigin: f.boolean(edge?.requireOrigin, 'edge.requireOrigin') ?? false,
    };
  }

  /** `backends.circuitBreaker`, the section's only key. */
  private circuitBreaker(value: unknown): CircuitBreakerSetting {
    const f: FieldReader = this.fields;
    const backends = f.mapping(value, 'backends', ['circuitBreaker']);
    const breaker = f.mapping(backends?.circuitBreaker, 'backends.circuitBreaker', ['failureThreshold', 'cooldownSeconds']);
    return {
      failureThreshold: f.integer(breaker?.failureThreshold, 'backends.circuitBreaker.failureThreshold', 0) ?? DEFAULT_CIRCUIT_BREAKER.failureThreshold,
      cooldownSeconds:
        f.integer(breaker?.cooldownSeconds, 'backends.circuitBreaker.cooldownSeconds', 1, MAX_TIMER_SECONDS) ?? DEFAULT_CIRCUIT_BREAKER.cooldownSeconds,
    };
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

  /** `backplane`, `nodeId` and `log`: the settings a variable or flag can also give, checked alike. */
  private singleValues(root: YamlMapping, settings: Settings): void {
    const f: FieldReader = this.fields;
    const backplane = f.string(root.backplane, 'backplane');
    if (backplane !== undefined) settings.backplane = checkBackplane(backplane, this.file, 'backplane');
    const nodeId = f.string(root.nodeId, 'nodeId');
    if (nodeId !== undefined) settings.nodeId = checkNodeId(nodeId, this.file, 'nodeId');
    const log = f.mapping(root.log, 'log', ['level', 'format']);
    const level = f.string(log?.level, 'log.level');
    if (level !== undefined) settings.log.level = checkLogLevel(level, this.file, 'log.level');
    const format = f.string(log?.format, 'log.format');
    if (format !== undefined) settings.log.format = checkLogFormat(format, this.file, 'log.format');
  }

  private trustedProxies(value: unknown): string[] {
    const f: FieldReader = this.fields;
    return (f.list(value, 'trustedProxies') ?? []).map((entry, index) => {
      const entryPath = itemPath('trustedProxies', index);
      const address = f.required(f.string(entry, entryPath), entryPath);
      if (isIP(address) === 0) f.fail(entryPath, `must be an IP address, got ${describeValue(address)}`);
      return address;
    });
  }
}
