import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/index.js';

export type { Logger };

/**
 * JSON logs. Secrets never reach them: API keys, tokens and Authorization headers are
 * redacted by path as a second line of defence behind simply not logging them.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'switchboard' },
    redact: {
      paths: ['apiKey', 'key', 'token', 'authorization', 'headers.authorization', 'req.headers.authorization', '*.secret'],
      censor: '[redacted]',
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
