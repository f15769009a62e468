/** Turning API values into what a person reads, and text into the API's base64. */

/**
 * Milliseconds of an RFC 3339 instant. The API gives up to nine fraction digits; Date.parse
 * is only specified for three, so the rest (below a millisecond) is dropped first.
 */
export function parseInstant(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const trimmed = value.replace(/\.(\d{1,3})\d*/, (_m, digits: string) => `.${digits.padEnd(3, '0')}`);
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "2 h 5 min", "3 min 4 s", "12 s". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${rest} s`;
  return `${rest} s`;
}

export function formatSince(instant: string | undefined, now: number): string {
  const ms = parseInstant(instant);
  return ms === undefined ? '—' : formatDuration(now - ms);
}

export function formatAgo(instant: string | undefined, now: number): string {
  const ms = parseInstant(instant);
  if (ms === undefined) return '—';
  return now - ms < 1000 ? 'just now' : `${formatDuration(now - ms)} ago`;
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

/** UTF-8 text as standard base64. */
export function textToBase64(text: string): string {
  return bytesToBase64(new TextEncoder().encode(text));
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  // Chunks keep String.fromCharCode's argument list far below engine limits.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Decoded bytes of base64 (standard or URL-safe); undefined when it is not base64 at all. */
export function base64ToBytes(value: string): Uint8Array | undefined {
  const standard = value.replace(/-/g, '+').replace(/_/g, '/');
  try {
    const binary = atob(standard);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

/** A publication or message body as a person reads it: text when it is UTF-8, else base64. */
export function previewPayload(base64: string, type: 'TEXT' | 'BINARY', max = 200): string {
  if (type === 'TEXT') {
    const bytes = base64ToBytes(base64);
    if (bytes !== undefined) {
      const text = new TextDecoder().decode(bytes);
      return text.length > max ? `${text.slice(0, max)}…` : text;
    }
  }
  return base64.length > max ? `${base64.slice(0, max)}…` : base64;
}

/** Whitespace a pasted base64 block may carry, removed. */
export function compactBase64(value: string): string {
  return value.replace(/\s+/g, '');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
