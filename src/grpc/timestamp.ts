import { Internal } from '../errors/index.js';
import type { Timestamp } from './messages.js';

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * google.protobuf.Timestamp of an RFC 3339 string, every fraction digit kept: the REST get and
 * the gRPC Get must name the same instant, and the record may hold more than milliseconds.
 */
export function timestampOf(text: string): Timestamp {
  const match = RFC3339.exec(text.toUpperCase());
  const wholeSeconds = match === null ? Number.NaN : Date.parse(`${match[1]}${match[3]}`);
  if (match === null || Number.isNaN(wholeSeconds)) throw new Internal(`connection record holds a malformed time ${JSON.stringify(text)}`);
  return { seconds: String(wholeSeconds / 1000), nanos: Number((match[2] ?? '').padEnd(9, '0')) };
}

