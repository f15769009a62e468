import { InvalidArgument } from '../errors/index.js';
import type { Payload } from '../cluster/index.js';

/** The seeds' limit on one message sent through the API, in decoded bytes. */
export const MAX_SEND_BYTES = 131072;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidArgument('request body must be a JSON object', 'body');
  }
  return body as Record<string, unknown>;
}

/**
 * `{data, type}` as the seeds' Connection.Send takes it: `data` is base64 (protobuf's JSON
 * mapping of bytes, standard or URL-safe alphabet), `type` TEXT or BINARY; the proto's zero
 * value TYPE_UNSPECIFIED, like an absent type, sends binary.
 */
export function decodePayload(body: Record<string, unknown>): Payload {
  const data = body.data;
  if (typeof data !== 'string') throw new InvalidArgument('data must be a base64 string', 'data');
  if (!BASE64.test(data) && !BASE64URL.test(data)) throw new InvalidArgument('data is not valid base64', 'data');
  const bytes = Buffer.from(data, BASE64.test(data) ? 'base64' : 'base64url');
  if (bytes.length > MAX_SEND_BYTES) {
    throw new InvalidArgument(`data is ${bytes.length} bytes after decoding; the limit is ${MAX_SEND_BYTES}`, 'data');
  }
  const type = body.type;
  if (type === undefined || type === 'BINARY' || type === 'TYPE_UNSPECIFIED') return { data: bytes, binary: true };
  if (type === 'TEXT') {
    if (!isValidUtf8(bytes)) throw new InvalidArgument('data of a TEXT message must be valid UTF-8', 'data');
    return { data: bytes, binary: false };
  }
  throw new InvalidArgument(`type must be "TEXT" or "BINARY", got ${JSON.stringify(type)}`, 'type');
}

export function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export function allowOnly(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new InvalidArgument(`unknown field "${key}"`, key);
  }
}

const TOPIC = /^[\x21-\x7e]{1,256}$/;

export function requireTopic(value: unknown, field: string): string {
  if (typeof value !== 'string' || !TOPIC.test(value)) {
    throw new InvalidArgument('topic must be 1-256 printable ASCII characters without spaces', field);
  }
  return value;
}
