import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AwsAccessKeySetting } from '../config/index.js';

/**
 * AWS Signature Version 4 (header flavour, AWS4-HMAC-SHA256), as AWS's "Create a signed AWS
 * API request" describes it for every service but S3:
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
 *                      SignedHeaders \n HashedPayload
 *   StringToSign     = "AWS4-HMAC-SHA256" \n X-Amz-Date \n Scope \n hex(SHA256(CanonicalRequest))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
 *   Signature        = hex(HMAC(SigningKey, StringToSign))
 *
 * The canonical URI is the path as it travels on the wire (already percent-encoded once),
 * with dot segments and empty segments removed, then URI-encoded a second time: the SDK sends
 * `/@connections/a%3Db` and signs `/%40connections/a%253Db`.
 *
 * Pure functions plus one verifier; nothing here knows Fastify.
 */

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SCOPE_TERMINATOR = 'aws4_request';
/** SHA-256 of the empty string, the payload hash of a request without a body. */
export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** How far X-Amz-Date may be from the server's clock, either way (AWS uses 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export type HeaderBag = Record<string, string | readonly string[] | undefined>;

export interface SignableRequest {
  method: string;
  /** The path exactly as sent on the wire (percent-encoded once), without the query string. */
  path: string;
  /** The raw query string without the leading `?`; empty when there is none. */
  query: string;
  /** Header names in any case; repeated headers as arrays. */
  headers: HeaderBag;
}

// ---- canonicalisation ------------------------------------------------------------------------

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - . _ ~ as %XX with upper-case hex, UTF-8 first. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The canonical URI of a non-S3 request: RFC 3986 dot-segment removal (and collapsing of
 * repeated slashes), then the wire path encoded once more, slashes kept.
 */
export function canonicalUri(wirePath: string): string {
  const segments: string[] = [];
  for (const segment of wirePath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && wirePath.endsWith('/') ? '/' : '';
  const normalized = `/${segments.join('/')}${trailing}`;
  return uriEncode(normalized).replace(/%2F/g, '/');
}

/**
 * The canonical query string: every parameter decoded and re-encoded with {@link uriEncode},
 * `name=value` (a parameter without `=` has an empty value), sorted by name, then by value.
 * Throws on malformed percent-escapes.
 */
export function canonicalQuery(rawQuery: string): string {
  const pairs: [string, string][] = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([uriEncode(decodeURIComponent(name)), uriEncode(decodeURIComponent(value))]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

/** A header value as SigV4 signs it: values of a repeated header joined by commas, each trimmed with runs of blanks collapsed. */
export function canonicalHeaderValue(value: string | readonly string[]): string {
  const values = typeof value === 'string' ? [value] : value;
  return values.map((v) => v.replace(/[ \t\r\n]+/g, ' ').trim()).join(',');
}

/** Lower-cased header names mapped to their values, repeated headers kept as arrays. */
export function lowerCaseHeaders(headers: HeaderBag): Map<string, string | readonly string[]> {
  const lower = new Map<string, string | readonly string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const earlier = lower.get(key);
    if (earlier === undefined) lower.set(key, value);
    else lower.set(key, [...(typeof earlier === 'string' ? [earlier] : earlier), ...(typeof value === 'string' ? [value] : value)]);
  }
  return lower;
}

/** The canonical headers block (each line `name:value\n`) for the given sorted, lower-case names. */
export function canonicalHeaders(headers: HeaderBag, signedHeaders: readonly string[]): string {
  const lower = lowerCaseHeaders(headers);
  let block = '';
  for (const name of signedHeaders) {
    const value = lower.get(name);
    if (value === undefined) throw new SigV4Error(`signed header "${name}" is not in the request`);
    block += `${name}:${canonicalHeaderValue(value)}\n`;
  }
  return block;
}

export function canonicalRequest(request: SignableRequest, signedHeaders: readonly string[], payloadHash: string): string {
  return [
    request.method.toUpperCase(),
    canonicalUri(request.path),
    canonicalQuery(request.query),
    canonicalHeaders(request.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function credentialScope(shortDate: string, region: string, service: string): string {
  return `${shortDate}/${region}/${service}/${SCOPE_TERMINATOR}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
}

/** The derived signing key: the HMAC chain over date, region, service and "aws4_request". */
export function signingKey(secretAccessKey: string, shortDate: string, region: string, service: string): Buffer {
  let key: Buffer = hmac(`AWS4${secretAccessKey}`, shortDate);
  for (const part of [region, service, SCOPE_TERMINATOR]) key = hmac(key, part);
  return key;
}

export function signature(key: Buffer, toSign: string): string {
  return hmac(key, toSign).toString('hex');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** `20150830T123600Z` for a time. */
export function amzDateOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// ---- signing (tests, tools) --------------------------------------------------------------------

export interface SignOptions {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  /** `YYYYMMDDTHHMMSSZ`; it must also be the request's X-Amz-Date header. */
  amzDate: string;
  /** Hex SHA-256 of the body; default: of `body`, or of nothing. */
  payloadHash?: string;
  body?: Buffer | string;
}

export interface SignedParts {
  canonicalRequest: string;
  stringToSign: string;
  signedHeaders: string[];
  signature: string;
  authorization: string;
}

/** Signs every header of the request (Authorization excepted) the way the SDK's signer does. */
export function sign(request: SignableRequest, options: SignOptions): SignedParts {
  const signedHeaders = [...lowerCaseHeaders(request.headers).keys()].filter((name) => name !== 'authorization').sort();
  const payloadHash = options.payloadHash ?? (options.body === undefined ? EMPTY_PAYLOAD_SHA256 : sha256Hex(options.body));
  const canonical = canonicalRequest(request, signedHeaders, payloadHash);
  const scope = credentialScope(options.amzDate.slice(0, 8), options.region, options.service);
  const toSign = stringToSign(options.amzDate, scope, canonical);
  const sig = signature(signingKey(options.secretAccessKey, options.amzDate.slice(0, 8), options.region, options.service), toSign);
  return {
    canonicalRequest: canonical,
    stringToSign: toSign,
    signedHeaders,
    signature: sig,
    authorization: `${SIGV4_ALGORITHM} Credential=${options.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${sig}`,
  };
}

// ---- verification ----------------------------------------------------------------------------------

/** Any reason a request is not properly signed; the message is safe to show the caller. */
export class SigV4Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigV4Error';
  }
}

export interface ParsedAuthorization {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=…` */
export function parseAuthorization(header: string | undefined): ParsedAuthorization {
  if (header === undefined || header.trim() === '') throw new SigV4Error('Missing Authentication Token: the request is not signed with AWS Signature Version 4');
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) throw new SigV4Error(`unsupported authorization scheme; sign with ${SIGV4_ALGORITHM}`);
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new SigV4Error(`malformed Authorization header component "${trimmed}"`);
    const name = trimmed.slice(0, eq);
    if (fields.has(name)) throw new SigV4Error(`Authorization header repeats ${name}`);
    fields.set(name, trimmed.slice(eq + 1));
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const sig = fields.get('Signature');
  if (credential === undefined || signed === undefined || sig === undefined || fields.size !== 3) {
    throw new SigV4Error('Authorization header needs exactly Credential, SignedHeaders and Signature');
  }
  const scope = credential.split('/');
  if (scope.length < 5) throw new SigV4Error('Credential must be <access key id>/<date>/<region>/<service>/aws4_request');
  const [shortDate, region, service, terminator] = scope.slice(-4) as [string, string, string, string];
  const accessKeyId = scope.slice(0, -4).join('/');
  if (accessKeyId === '' || region === '' || service === '') throw new SigV4Error('Credential has an empty access key id, region or service');
  if (terminator !== SCOPE_TERMINATOR) throw new SigV4Error(`credential scope must end with ${SCOPE_TERMINATOR}`);
  if (!/^\d{8}$/.test(shortDate)) throw new SigV4Error('credential scope date must be YYYYMMDD');
  const signedHeaders = signed.split(';');
  for (let i = 0; i < signedHeaders.length; i++) {
    const name = signedHeaders[i]!;
    if (!HEADER_NAME.test(name)) throw new SigV4Error(`SignedHeaders holds "${name}": names must be lower case`);
    if (i > 0 && signedHeaders[i - 1]! >= name) throw new SigV4Error('SignedHeaders must be sorted and without repeats');
  }
  if (!HEX64.test(sig)) throw new SigV4Error('Signature must be 64 lower-case hex digits');
  return { accessKeyId, shortDate, region, service, signedHeaders, signature: sig };
}

/** Epoch milliseconds of an X-Amz-Date, or undefined when it is not `YYYYMMDDTHHMMSSZ`. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return amzDateOf(ms) === value ? ms : undefined;
}

export interface VerifierOptions {
  /** The service name the credential scope must carry (`execute-api`). */
  service: string;
  maxClockSkewMs?: number;
  now?: () => number;
}

/** What the header-only checks established; {@link SigV4Verifier.verify} finishes the job once the body is in. */
export interface PendingVerification {
  auth: ParsedAuthorization;
  amzDate: string;
  secretAccessKey: string | undefined;
}

/**
 * Verifies signed requests against a fixed set of access keys. Two steps, so a request that
 * is plainly unsigned is refused before its body is read: {@link precheck} looks at the
 * headers only, {@link verify} hashes the body and compares signatures in constant time.
 */
export class SigV4Verifier {
  private readonly secrets = new Map<string, string>();
  private readonly decoy = randomBytes(30).toString('base64');
  private readonly service: string;
  private readonly maxSkewMs: number;
  private readonly now: () => number;

  constructor(keys: readonly AwsAccessKeySetting[], options: VerifierOptions) {
    for (const key of keys) if (!this.secrets.has(key.accessKeyId)) this.secrets.set(key.accessKeyId, key.secretAccessKey);
    this.service = options.service;
    this.maxSkewMs = options.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.secrets.size > 0;
  }

  precheck(headers: HeaderBag): PendingVerification {
    const lower = lowerCaseHeaders(headers);
    if (lower.has('x-amz-signature') || lower.has('x-amz-algorithm')) {
      throw new SigV4Error('only Authorization-header signing is supported');
    }
    const auth = parseAuthorization(single(lower.get('authorization'), 'Authorization'));
    if (auth.service !== this.service) throw new SigV4Error(`credential scope names service "${auth.service}"; this endpoint is "${this.service}"`);
    for (const required of ['host', 'x-amz-date']) {
      if (!auth.signedHeaders.includes(required)) throw new SigV4Error(`SignedHeaders must include ${required}`);
    }
    const amzDate = single(lower.get('x-amz-date'), 'X-Amz-Date');
    if (amzDate === undefined) throw new SigV4Error('X-Amz-Date header is missing');
    const signedAt = parseAmzDate(amzDate);
    if (signedAt === undefined) throw new SigV4Error('X-Amz-Date must be YYYYMMDDTHHMMSSZ');
    if (amzDate.slice(0, 8) !== auth.shortDate) throw new SigV4Error('credential scope date does not match X-Amz-Date');
    const now = this.now();
    if (Math.abs(now - signedAt) > this.maxSkewMs) {
      const bound = signedAt < now ? `earlier than ${amzDateOf(now - this.maxSkewMs)}` : `later than ${amzDateOf(now + this.maxSkewMs)}`;
      throw new SigV4Error(`Signature expired: ${amzDate} is now ${bound} (${amzDateOf(now)} ${signedAt < now ? '-' : '+'} ${Math.round(this.maxSkewMs / 60000)} min.)`);
    }
    return { auth, amzDate, secretAccessKey: this.secrets.get(auth.accessKeyId) };
  }

  /** Throws SigV4Error unless the signature matches the request and its body. */
  verify(request: SignableRequest, body: Buffer, pending: PendingVerification): void {
    const lower = lowerCaseHeaders(request.headers);
    const actualHash = sha256Hex(body);
    const declared = single(lower.get('x-amz-content-sha256'), 'X-Amz-Content-Sha256');
    if (declared !== undefined && declared !== actualHash) {
      throw new SigV4Error(
        HEX64.test(declared)
          ? 'X-Amz-Content-Sha256 does not match the SHA-256 of the body'
          : `X-Amz-Content-Sha256 must be the hex SHA-256 of the body (got "${declared}")`,
      );
    }
    const { auth, amzDate } = pending;
    let canonical: string;
    try {
      canonical = canonicalRequest(request, auth.signedHeaders, actualHash);
    } catch (err) {
      if (err instanceof URIError) throw new SigV4Error('malformed percent-encoding in the query string');
      throw err;
    }
    const scope = credentialScope(auth.shortDate, auth.region, auth.service);
    // An unknown key id costs the same work as a known one, against a random secret.
    const secret = pending.secretAccessKey ?? this.decoy;
    const expected = Buffer.from(signature(signingKey(secret, auth.shortDate, auth.region, auth.service), stringToSign(amzDate, scope, canonical)), 'hex');
    const presented = Buffer.from(auth.signature, 'hex');
    const matches = timingSafeEqual(expected, presented);
    if (pending.secretAccessKey === undefined) throw new SigV4Error('The security token included in the request is invalid: unknown access key id');
    if (!matches) {
      throw new SigV4Error('The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
  }
}

function single(value: string | readonly string[] | undefined, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (value.length === 1) return value[0];
  throw new SigV4Error(`${name} header is repeated`);
}
