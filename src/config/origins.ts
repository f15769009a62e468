/**
 * Origin allow-list entries (`edge.allowedOrigins`, a path's `x-switchboard-allowed-origins`),
 * checked and normalised when the settings or a spec load, so the edge compares strings only.
 */

const EXPECTED = 'must be an origin such as https://app.example.com or https://*.example.com (scheme, host and optional port; no path), or "*"';
const SHAPE = /^(https?):\/\/(\*\.)?([^/?#@\s*]+)$/i;
const WILDCARD_STAND_IN = 'switchboard-wildcard.';

const quoted = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);

/**
 * Returns the entry as the edge will compare it: lower case, default port dropped, IDN hosts
 * in punycode (what browsers send). `*` allows every origin; `https://*.example.com` allows
 * every subdomain of example.com (not example.com itself) on that scheme and port.
 */
export function normalizeOriginPattern(text: string, fail: (problem: string) => never): string {
  if (text === '*') return text;
  // Sandboxed frames, file:// pages and redirects all send "null": any page can claim it.
  if (text.toLowerCase() === 'null') fail('"null" cannot be allowed: sandboxed frames and file:// pages send it, so any page could claim it');
  const shape = SHAPE.exec(text);
  if (shape === null) fail(`${EXPECTED}, got ${quoted(text)}`);
  const [, scheme, wildcard, hostPort] = shape;
  const standIn = `${scheme}://${wildcard ? WILDCARD_STAND_IN : ''}${hostPort}`;
  let origin: string;
  try {
    origin = new URL(standIn).origin;
  } catch {
    return fail(`${EXPECTED}, got ${quoted(text)}`);
  }
  if (!wildcard) return origin;
  const suffix = origin.slice(`${scheme!.toLowerCase()}://${WILDCARD_STAND_IN}`.length);
  // `*.com` would let in every site of a top-level domain.
  if (!/^[^.:]+\.[^.:]+/.test(suffix)) fail(`a wildcard needs a domain of at least two labels below it (e.g. https://*.example.com), got ${quoted(text)}`);
  return `${scheme!.toLowerCase()}://*.${suffix}`;
}
