import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogFormat, LogLevel } from '../config/index.js';
import { prettyDestination } from './pretty.js';

export type { Logger };

/** `name`, `*.name`, `*.*.name`…: pino's paths match one level per segment, never any depth. */
const atDepths = (name: string, depth = 3): string[] => Array.from({ length: depth + 1 }, (_, i) => [...Array<string>(i).fill('*'), name].join('.'));

/**
 * Where secrets sit in what might be logged: the settings (API keys, AWS secrets, the JWT
 * secret, TLS private keys, up to the depth a logged `{settings}` object puts them) and
 * request headers in either case.
 */
const REDACTED_PATHS = [
  ...['apiKey', 'apiKeys', 'awsAccessKeys', 'secretAccessKey', 'secret', 'keyPem', 'token', 'key'].flatMap((name) => atDepths(name)),
  ...['authorization', 'Authorization'].flatMap((name) => atDepths(name)),
];

/** `auto` (or no choice) means readable lines for a person at a terminal, JSON for a collector. */
export function chooseLogFormat(format: LogFormat | undefined, isTerminal: boolean): 'json' | 'pretty' {
  if (format === 'json' || format === 'pretty') return format;
  return isTerminal ? 'pretty' : 'json';
}

/**
 * JSON logs, or readable lines (`pretty`) made from the same JSON. Secrets never reach either:
 * API keys, tokens and Authorization headers are redacted by path as a second line of defence
 * behind simply not logging them.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream, format: 'json' | 'pretty' = 'json'): Logger {
  const options = {
    level,
    base: { service: 'switchboard' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (format === 'pretty') return pino(options, prettyDestination(destination));
  return destination === undefined ? pino(options) : pino(options, destination);
}
