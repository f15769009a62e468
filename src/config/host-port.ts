/** HOST:PORT addresses of the listeners, as the file, a variable or a flag give them. */
import { isIP } from 'node:net';
import { ConfigError } from '../errors/index.js';
import type { HostPort } from './types.js';
import { describeValue, type FieldReader } from './yaml-fields.js';

export const HOST_PORT_EXPECTED = 'must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081)';
/** A host name or IPv4 address as written in HOST:PORT (IPv6 hosts go in brackets). */
export const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

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

/** A HOST:PORT setting of the file; a bare number (a port alone, a common slip) is named as such. */
export function readHostPort(f: FieldReader, value: unknown, path: string): HostPort | undefined {
  if (typeof value === 'number') f.fail(path, `${HOST_PORT_EXPECTED}, got ${value}`);
  const text = f.string(value, path);
  return text === undefined ? undefined : parseHostPort(text, f.source, path);
}
