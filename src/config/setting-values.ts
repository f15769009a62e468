/**
 * Single values that the file, the environment and the flags can all set (node id,
 * backplane, log level and format, API keys), checked alike whichever layer gave them.
 */
import { ConfigError } from '../errors/index.js';
import { MIN_API_KEY_LENGTH } from './defaults.js';
import type { LogFormat, LogLevel } from './types.js';
import { describeValue } from './yaml-fields.js';

export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,19}$/;
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];
const BACKPLANE_SCHEMES = ['redis://', 'rediss://', 'nats://'];
/** Node timers overflow past 2^31-1 ms (and then fire after 1 ms), so durations stay below it. */
export const MAX_TIMER_SECONDS = 2_147_483;

export function checkNodeId(value: string, source: string, path: string): string {
  if (!NODE_ID_PATTERN.test(value)) {
    throw new ConfigError(
      source,
      path,
      `must be 1 to 20 characters of a-z, 0-9 and "-", starting with a letter or digit, got ${describeValue(value)}`,
    );
  }
  return value;
}

export function checkBackplane(value: string, source: string, path: string): string {
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

export function checkLogLevel(value: string, source: string, path: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(source, path, `must be one of ${LOG_LEVELS.join(', ')}, got ${describeValue(value)}`);
  }
  return value as LogLevel;
}

export function checkLogFormat(value: string, source: string, path: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) {
    throw new ConfigError(source, path, `must be one of ${LOG_FORMATS.join(', ')}, got ${describeValue(value)}`);
  }
  return value as LogFormat;
}

/** `source` and `path` name the key's position (`management.apiKeys[2].key`, `--api-key #1`), never the key. */
export function checkApiKey(value: string, source: string, path: string): string {
  if (value.length === 0 || /[\s,]/.test(value)) {
    throw new ConfigError(source, path, 'must be a non-empty key without spaces or commas (value hidden)');
  }
  if (value.length < MIN_API_KEY_LENGTH) {
    throw new ConfigError(source, path, `is too short: an API key needs at least ${MIN_API_KEY_LENGTH} characters, e.g. \`openssl rand -hex 24\` (value hidden)`);
  }
  return value;
}
