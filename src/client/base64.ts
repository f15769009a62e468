/**
 * Base64 without Node's Buffer (atob/btoa exist in browsers and in Node >= 16), for binary
 * publication payloads, which travel as base64 with `encoding: 'base64'`.
 */

export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  // In chunks: String.fromCharCode(...all) overflows the argument limit on large arrays.
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

const encoder = new TextEncoder();

/**
 * The bytes of a publication payload: base64-decoded when binary, UTF-8 of the text when a
 * string, UTF-8 of its JSON text otherwise (a JSON payload's exact original spelling, such
 * as a number's digits beyond double precision, is not kept by JSON.parse).
 */
export function payloadBytes(publication: { payload: unknown; encoding?: string }): Uint8Array {
  if (publication.encoding === 'base64' && typeof publication.payload === 'string') return base64ToBytes(publication.payload);
  if (typeof publication.payload === 'string') return encoder.encode(publication.payload);
  return encoder.encode(JSON.stringify(publication.payload));
}
