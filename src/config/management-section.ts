/** The settings file's `management` section: the management API's listener, keys, limits and timeouts. */
import { isIP } from 'node:net';
import { MANAGEMENT_TIMEOUT_DEFAULTS } from './defaults.js';
import { HOST_NAME, readHostPort } from './host-port.js';
import { checkApiKey, MAX_TIMER_SECONDS } from './setting-values.js';
import { readTls } from './tls-section.js';
import { ALL_SCOPES, type ApiKeySetting, type AwsAccessKeySetting, type ManagementTimeouts, type RateLimitSetting, type Scope, type Settings } from './types.js';
import { childPath, describeValue, itemPath, type FieldReader } from './yaml-fields.js';

const MANAGEMENT_KEYS = ['listen', 'apiKeys', 'awsAccessKeys', 'rateLimit', 'tls', 'allowedHosts', 'maxConnections', 'timeouts'];

/** Reads `management` over `settings.management` (the defaults); `folder` anchors relative TLS files. */
export function readManagement(f: FieldReader, value: unknown, settings: Settings, folder: string): void {
  const management = f.mapping(value, 'management', MANAGEMENT_KEYS);
  if (!management) return;
  settings.management.listen = readHostPort(f, management.listen, 'management.listen') ?? settings.management.listen;
  settings.management.allowedHosts = readAllowedHosts(f, management.allowedHosts, 'management.allowedHosts');
  settings.management.maxConnections =
    f.integer(management.maxConnections, 'management.maxConnections', 1, 1_000_000) ?? settings.management.maxConnections;
  settings.management.timeouts = readManagementTimeouts(f, management.timeouts, 'management.timeouts');
  settings.management.rateLimit = readRateLimit(f, management.rateLimit, 'management.rateLimit') ?? settings.management.rateLimit;
  const tls = readTls(f, management.tls, 'management.tls', folder);
  if (tls) settings.management.tls = tls;
  settings.management.apiKeys = readApiKeys(f, management.apiKeys, 'management.apiKeys');
  settings.management.awsAccessKeys = readAwsAccessKeys(f, management.awsAccessKeys, 'management.awsAccessKeys');
}

function readApiKeys(f: FieldReader, value: unknown, path: string): ApiKeySetting[] {
  const seenKeys = new Map<string, string>();
  return (f.list(value, path) ?? []).map((entry, index) => {
    const entryPath = itemPath(path, index);
    const apiKey = f.required(f.mapping(entry, entryPath, ['key', 'scopes', 'tenantId', 'rateLimit']), entryPath);
    const keyPath = childPath(entryPath, 'key');
    const key = checkApiKey(f.required(f.string(apiKey.key, keyPath, { secret: true }), keyPath), f.source, keyPath);
    const earlier = seenKeys.get(key);
    if (earlier !== undefined) f.fail(keyPath, `repeats the key of ${earlier}`);
    seenKeys.set(key, entryPath);
    const setting: ApiKeySetting = { key, scopes: readScopes(f, apiKey.scopes, childPath(entryPath, 'scopes')) };
    const tenantId = f.string(apiKey.tenantId, childPath(entryPath, 'tenantId'));
    if (tenantId !== undefined) setting.tenantId = tenantId;
    const rateLimit = readRateLimit(f, apiKey.rateLimit, childPath(entryPath, 'rateLimit'));
    if (rateLimit !== undefined) setting.rateLimit = rateLimit;
    return setting;
  });
}

function readAwsAccessKeys(f: FieldReader, value: unknown, path: string): AwsAccessKeySetting[] {
  return (f.list(value, path) ?? []).map((entry, index): AwsAccessKeySetting => {
    const entryPath = itemPath(path, index);
    const accessKey = f.required(f.mapping(entry, entryPath, ['accessKeyId', 'secretAccessKey']), entryPath);
    const idPath = childPath(entryPath, 'accessKeyId');
    const secretPath = childPath(entryPath, 'secretAccessKey');
    return {
      accessKeyId: f.required(f.string(accessKey.accessKeyId, idPath), idPath),
      secretAccessKey: f.required(f.string(accessKey.secretAccessKey, secretPath, { secret: true }), secretPath),
    };
  });
}

/** Host names as a Host header carries them without its port: `gw.example.com`, `10.0.0.5`, `[fd00::5]`. */
function readAllowedHosts(f: FieldReader, value: unknown, path: string): string[] {
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

function readManagementTimeouts(f: FieldReader, value: unknown, path: string): ManagementTimeouts {
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

/** `{requestsPerSecond, burst}`; burst defaults to two seconds' worth. */
function readRateLimit(f: FieldReader, value: unknown, path: string): RateLimitSetting | undefined {
  const limit = f.mapping(value, path, ['requestsPerSecond', 'burst']);
  if (!limit) return undefined;
  const ratePath = childPath(path, 'requestsPerSecond');
  const requestsPerSecond = f.required(f.number(limit.requestsPerSecond, ratePath, 0, 1e9), ratePath, 'requests per second, e.g. 100');
  const burst = f.integer(limit.burst, childPath(path, 'burst'), 1, 1e9) ?? Math.max(1, Math.ceil(requestsPerSecond * 2));
  return { requestsPerSecond, burst };
}

function readScopes(f: FieldReader, value: unknown, path: string): Scope[] {
  const hint = `list one or more of ${ALL_SCOPES.join(', ')}`;
  const entries = f.required(f.list(value, path), path, hint);
  if (entries.length === 0) f.fail(path, `must not be empty: ${hint}`);
  const scopes = entries.map((entry, index) => f.required(f.oneOf(entry, itemPath(path, index), ALL_SCOPES), itemPath(path, index)));
  return [...new Set(scopes)];
}
