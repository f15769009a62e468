import { describe, expect, it } from 'vitest';
import { framePayload } from '../../src/api/aws-connections.js';
import {
  EMPTY_PAYLOAD_SHA256,
  SigV4Error,
  SigV4Verifier,
  amzDateOf,
  canonicalQuery,
  canonicalUri,
  parseAmzDate,
  parseAuthorization,
  sha256Hex,
  sign,
  signingKey,
  type SignableRequest,
} from '../../src/api/sigv4.js';

/** AWS's SigV4 test suite credentials and instant (aws-sig-v4-test-suite). */
const SUITE = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
  amzDate: '20150830T123600Z',
};
const SUITE_HEADERS = { Host: 'example.amazonaws.com', 'X-Amz-Date': '20150830T123600Z' };
const SUITE_SCOPE = 'AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';

describe('SigV4 signer: AWS published test vectors', () => {
  it('get-vanilla: canonical request, string to sign and Authorization exactly as published', () => {
    const signed = sign({ method: 'GET', path: '/', query: '', headers: SUITE_HEADERS }, SUITE);
    expect(signed.canonicalRequest).toBe(
      ['GET', '/', '', 'host:example.amazonaws.com', 'x-amz-date:20150830T123600Z', '', 'host;x-amz-date', EMPTY_PAYLOAD_SHA256].join('\n'),
    );
    expect(signed.stringToSign).toBe(
      ['AWS4-HMAC-SHA256', '20150830T123600Z', '20150830/us-east-1/service/aws4_request', 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63'].join('\n'),
    );
    expect(signed.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31`,
    );
  });

  it('post-vanilla', () => {
    expect(sign({ method: 'POST', path: '/', query: '', headers: SUITE_HEADERS }, SUITE).signature).toBe(
      '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    );
  });

  it('get-vanilla-query-order-key-case: parameters sorted by name', () => {
    const signed = sign({ method: 'GET', path: '/', query: 'Param2=value2&Param1=value1', headers: SUITE_HEADERS }, SUITE);
    expect(signed.canonicalRequest.split('\n')[2]).toBe('Param1=value1&Param2=value2');
    expect(signed.signature).toBe('b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  });

  it('get-header-value-trim: values trimmed, runs of spaces collapsed', () => {
    const signed = sign({ method: 'GET', path: '/', query: '', headers: { ...SUITE_HEADERS, 'My-Header1': ' value1', 'My-Header2': ' "a   b   c"' } }, SUITE);
    expect(signed.canonicalRequest).toContain('\nmy-header1:value1\nmy-header2:"a b c"\n');
    expect(signed.signature).toBe('acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736');
  });

  it('get-space and get-relative: path encoded, dot segments removed', () => {
    expect(sign({ method: 'GET', path: '/example space/', query: '', headers: SUITE_HEADERS }, SUITE).signature).toBe(
      '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741',
    );
    // get-relative and get-slashes canonicalise to "/", so they sign like get-vanilla.
    for (const path of ['/example/..', '/example/../', '//']) {
      expect(sign({ method: 'GET', path, query: '', headers: SUITE_HEADERS }, SUITE).signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    }
  });

  it('derives the signing key of AWS\'s "derive a signing key" example', () => {
    expect(signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam').toString('hex')).toBe(
      'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d',
    );
  });
});

describe('SigV4 canonicalisation', () => {
  it('double-encodes the wire path the way the SDK signs @connections (non-S3 rule)', () => {
    // The SDK sends the label percent-encoded once and leaves "@" raw; the signer encodes again.
    expect(canonicalUri('/@connections/node-a.Ab_-x~')).toBe('/%40connections/node-a.Ab_-x~');
    expect(canonicalUri('/@connections/abc%3D%3D')).toBe('/%40connections/abc%253D%253D');
    expect(canonicalUri('/prod/@connections/x%21%2A')).toBe('/prod/%40connections/x%2521%252A');
    expect(canonicalUri('/a//b/./c/')).toBe('/a/b/c/');
    expect(canonicalUri('')).toBe('/');
  });

  it('canonical query: decoded, re-encoded with RFC 3986 rules, sorted by name then value, bare names get "="', () => {
    expect(canonicalQuery('b=2&a=3&a=1&c')).toBe('a=1&a=3&b=2&c=');
    expect(canonicalQuery('k=a%20b&x=%2a!')).toBe('k=a%20b&x=%2A%21');
    expect(canonicalQuery('')).toBe('');
  });

  it('parses X-Amz-Date strictly', () => {
    expect(parseAmzDate('20150830T123600Z')).toBe(Date.UTC(2015, 7, 30, 12, 36, 0));
    expect(parseAmzDate('20151330T123600Z')).toBeUndefined();
    expect(parseAmzDate('2015-08-30T12:36:00Z')).toBeUndefined();
    expect(amzDateOf(Date.UTC(2015, 7, 30, 12, 36, 0, 999))).toBe('20150830T123600Z');
  });

  it('parses the Authorization header and refuses malformed ones', () => {
    expect(parseAuthorization(`AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`)).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      shortDate: '20150830',
      region: 'us-east-1',
      service: 'service',
      signedHeaders: ['host', 'x-amz-date'],
      signature: 'a'.repeat(64),
    });
    for (const bad of [
      undefined,
      '',
      'Bearer abc',
      `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date`,
      `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws5_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`,
      `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=x-amz-date;host, Signature=${'a'.repeat(64)}`,
      `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=Host;x-amz-date, Signature=${'a'.repeat(64)}`,
      `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date, Signature=${'A'.repeat(64)}`,
    ]) {
      expect(() => parseAuthorization(bad), String(bad)).toThrow(SigV4Error);
    }
  });
});

describe('SigV4Verifier', () => {
  const KEY = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
  const NOW = Date.UTC(2026, 10, 22, 11, 40, 14);
  const verifier = new SigV4Verifier([KEY], { service: 'execute-api', now: () => NOW });

  function signed(options: { body?: string; at?: number; secret?: string; service?: string; extra?: Record<string, string>; contentSha?: boolean } = {}): { request: SignableRequest; body: Buffer } {
    const body = Buffer.from(options.body ?? 'hello');
    const amzDate = amzDateOf(options.at ?? NOW);
    const headers: Record<string, string> = {
      host: '127.0.0.1:8081',
      'x-amz-date': amzDate,
      'content-type': 'application/octet-stream',
      ...(options.contentSha === false ? {} : { 'x-amz-content-sha256': sha256Hex(body) }),
      ...options.extra,
    };
    const request: SignableRequest = { method: 'POST', path: '/@connections/node-a.abc%3D', query: '', headers };
    const parts = sign(request, { ...KEY, secretAccessKey: options.secret ?? KEY.secretAccessKey, region: 'eu-west-3', service: options.service ?? 'execute-api', amzDate, body });
    return { request: { ...request, headers: { ...headers, authorization: parts.authorization } }, body };
  }

  function check({ request, body }: { request: SignableRequest; body: Buffer }): void {
    verifier.verify(request, body, verifier.precheck(request.headers));
  }

  it('accepts a correctly signed request, with or without X-Amz-Content-Sha256, any region', () => {
    expect(() => check(signed())).not.toThrow();
    expect(() => check(signed({ contentSha: false }))).not.toThrow();
    expect(() => check(signed({ at: NOW - 4 * 60_000 }))).not.toThrow();
  });

  it('refuses a changed body, path or signed header', () => {
    const ok = signed();
    expect(() => check({ ...ok, body: Buffer.from('hellO') })).toThrow(/X-Amz-Content-Sha256 does not match/);
    const noSha = signed({ contentSha: false });
    expect(() => check({ ...noSha, body: Buffer.from('hellO') })).toThrow(/signature we calculated does not match/);
    expect(() => check({ ...ok, request: { ...ok.request, path: '/@connections/node-a.abd%3D' } })).toThrow(/does not match/);
    expect(() => check({ ...ok, request: { ...ok.request, headers: { ...ok.request.headers, 'content-type': 'text/plain' } } })).toThrow(/does not match/);
  });

  it('refuses a wrong secret, an unknown key, another service and UNSIGNED-PAYLOAD', () => {
    expect(() => check(signed({ secret: 'wrong' }))).toThrow(/does not match/);
    const other = new SigV4Verifier([{ accessKeyId: 'SOMEONE', secretAccessKey: 'x' }], { service: 'execute-api', now: () => NOW });
    const request = signed();
    expect(() => other.verify(request.request, request.body, other.precheck(request.request.headers))).toThrow(/unknown access key/);
    expect(() => check(signed({ service: 's3' }))).toThrow(/service "s3"/);
    expect(() => check(signed({ extra: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }))).toThrow(/X-Amz-Content-Sha256/);
  });

  it('refuses X-Amz-Date more than 5 minutes away, either way', () => {
    expect(() => check(signed({ at: NOW - 10 * 60_000 }))).toThrow(/Signature expired/);
    expect(() => check(signed({ at: NOW + 6 * 60_000 }))).toThrow(/Signature expired/);
  });

  it('refuses signatures that leave out host or x-amz-date, and unsigned requests', () => {
    const amzDate = amzDateOf(NOW);
    const headers = { host: '127.0.0.1:8081', 'x-amz-date': amzDate };
    const request: SignableRequest = { method: 'GET', path: '/@connections/x', query: '', headers: { 'x-amz-date': amzDate } };
    const withoutHost = sign(request, { ...KEY, region: 'us-east-1', service: 'execute-api', amzDate });
    expect(() => verifier.precheck({ ...headers, authorization: withoutHost.authorization })).toThrow(/must include host/);
    expect(() => verifier.precheck(headers)).toThrow(/Missing Authentication Token/);
    expect(() => verifier.precheck({ host: 'h', authorization: withoutHost.authorization.replace('x-amz-date', 'host;x-amz-date') })).toThrow(/X-Amz-Date header is missing/);
  });
});

describe('PostToConnection frame type', () => {
  it('text when the bytes are valid UTF-8, else binary; X-Switchboard-Message-Type overrides', () => {
    expect(framePayload(Buffer.from('héllo'), undefined).binary).toBe(false);
    expect(framePayload(Buffer.alloc(0), undefined).binary).toBe(false);
    expect(framePayload(Buffer.from([0xff, 0x00, 0x80]), undefined).binary).toBe(true);
    expect(framePayload(Buffer.from('{"a":1}'), 'BINARY').binary).toBe(true);
    expect(framePayload(Buffer.from('x'), 'text').binary).toBe(false);
    expect(() => framePayload(Buffer.from([0xff]), 'TEXT')).toThrow(/valid UTF-8/);
    expect(() => framePayload(Buffer.from('x'), 'JSON')).toThrow(/TEXT or BINARY/);
  });
});
