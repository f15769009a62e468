import { InvalidArgument } from '../errors/index.js';
import type { Payload } from '../cluster/index.js';

/** The seeds' limit on one message sent through the API, in decoded bytes. */
export const MAX_SEND_BYTES = 131072;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Standard base64 or base64url, padded or not: protobuf's JSON mapping of bytes accepts both (the schemas' `byte` format). */
export function isBase64(value: string): boolean {
  return BASE64.test(value) || BASE64URL.test(value);
}

/**
 * `{data, type}` as the seeds' Connection.Send takes it, once its schema has held (`data` a
 * base64 string, `type` TEXT, BINARY, TYPE_UNSPECIFIED or absent): what a schema cannot say is
 * checked here, the decoded size and the UTF-8 of a TEXT message. The proto's zero value
 * TYPE_UNSPECIFIED, like an absent type, sends binary.
 */
export function decodePayload(body: Record<string, unknown>): Payload {
  const data = body.data as string;
  const bytes = Buffer.from(data, BASE64.test(data) ? 'base64' : 'base64url');
  if (bytes.length > MAX_SEND_BYTES) {
    throw new InvalidArgument(`data is ${bytes.length} bytes after decoding; the limit is ${MAX_SEND_BYTES}`, 'data');
  }
  if (body.type !== 'TEXT') return { data: bytes, binary: true };
  if (!isValidUtf8(bytes)) throw new InvalidArgument('data of a TEXT message must be valid UTF-8', 'data');
  return { data: bytes, binary: false };
}

export function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
