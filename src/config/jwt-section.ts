/** The settings file's `auth.jwt` section: how client tokens are verified. */
import { createPublicKey } from 'node:crypto';
import { resolve } from 'node:path';
import { REFRESH_NOTICE_DEFAULT_SECONDS, TOPICS_CLAIM_DEFAULT } from './defaults.js';
import { MAX_TIMER_SECONDS } from './setting-values.js';
import { readPemFile } from './tls-section.js';
import type { JwtSettings } from './types.js';
import { childPath, describeValue, itemPath, type FieldReader, type YamlMapping } from './yaml-fields.js';

const JWT_KEYS = ['secret', 'publicKey', 'jwksUrl', 'algorithms', 'issuer', 'audience', 'claims', 'clockToleranceSeconds', 'requireExp', 'maxTokenAgeSeconds', 'refreshNoticeSeconds'];
const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Which one of the three ways to verify a token the section gives (exactly one is allowed). */
interface JwtKey {
  secret: string | undefined;
  publicKeyFile: string | undefined;
  jwksUrl: string | undefined;
}

/** Reads `auth.jwt`; `folder` anchors a relative `publicKey` file. */
export function readJwt(f: FieldReader, value: unknown, path: string, folder: string): JwtSettings | undefined {
  const jwt = f.mapping(value, path, JWT_KEYS);
  if (!jwt) return undefined;
  const key = readJwtKey(f, jwt, path);
  const { secret, publicKeyFile, jwksUrl } = key;
  const settings: JwtSettings = {
    algorithms: secret !== undefined ? ['HS256'] : ['RS256', 'ES256'],
    claims: { tenantId: 'tid', userId: 'sub' },
    clockToleranceSeconds: 30,
    requireExp: true,
  };
  if (secret !== undefined) settings.secret = secret;
  if (publicKeyFile !== undefined) settings.publicKeyPem = readPublicKey(f, resolve(folder, publicKeyFile), childPath(path, 'publicKey'));
  if (jwksUrl !== undefined) {
    if (!/^https?:\/\//.test(jwksUrl) || !URL.canParse(jwksUrl)) {
      f.fail(childPath(path, 'jwksUrl'), `must be an http:// or https:// URL, got ${describeValue(jwksUrl)}`);
    }
    settings.jwksUrl = jwksUrl;
  }
  const algorithms = readAlgorithms(f, jwt.algorithms, childPath(path, 'algorithms'), key);
  if (algorithms !== undefined) settings.algorithms = algorithms;
  readClaimsAndTiming(f, jwt, path, settings);
  return settings;
}

function readJwtKey(f: FieldReader, jwt: YamlMapping, path: string): JwtKey {
  const secret = f.string(jwt.secret, childPath(path, 'secret'), { secret: true });
  const publicKeyFile = f.string(jwt.publicKey, childPath(path, 'publicKey'));
  const jwksUrl = f.string(jwt.jwksUrl, childPath(path, 'jwksUrl'));
  const given = [
    ['secret', secret],
    ['publicKey', publicKeyFile],
    ['jwksUrl', jwksUrl],
  ].filter(([, v]) => v !== undefined);
  if (given.length !== 1) {
    const found = given.length === 0 ? 'none' : given.map(([name]) => name).join(' and ');
    f.fail(path, `needs exactly one of secret, publicKey or jwksUrl, got ${found}`);
  }
  return { secret, publicKeyFile, jwksUrl };
}

function readAlgorithms(f: FieldReader, value: unknown, algorithmsPath: string, key: JwtKey): string[] | undefined {
  const algorithms = f.list(value, algorithmsPath);
  if (algorithms === undefined) return undefined;
  if (algorithms.length === 0) f.fail(algorithmsPath, 'must list at least one algorithm');
  // Only the family that matches the key is allowed: accepting HS256 next to a public key
  // is the classic algorithm-confusion hole.
  const allowed = key.secret !== undefined ? HMAC_ALGORITHMS : PUBLIC_KEY_ALGORITHMS;
  const keyKind = key.secret !== undefined ? 'secret' : key.publicKeyFile !== undefined ? 'publicKey' : 'jwksUrl';
  return algorithms.map((entry, index) => {
    const entryPath = itemPath(algorithmsPath, index);
    const algorithm = f.required(f.string(entry, entryPath), entryPath);
    if (!allowed.includes(algorithm)) {
      f.fail(entryPath, `with ${keyKind} must be one of ${allowed.join(', ')}, got ${describeValue(algorithm)}`);
    }
    return algorithm;
  });
}

/** `issuer`, `audience`, `claims` and the token's timing rules, over the defaults already in `settings`. */
function readClaimsAndTiming(f: FieldReader, jwt: YamlMapping, path: string, settings: JwtSettings): void {
  const issuer = f.string(jwt.issuer, childPath(path, 'issuer'));
  if (issuer !== undefined) settings.issuer = issuer;
  const audience = f.string(jwt.audience, childPath(path, 'audience'));
  if (audience !== undefined) settings.audience = audience;
  const claims = f.mapping(jwt.claims, childPath(path, 'claims'), ['tenantId', 'userId', 'topics']);
  settings.claims.tenantId = f.string(claims?.tenantId, childPath(path, 'claims.tenantId')) ?? settings.claims.tenantId;
  settings.claims.userId = f.string(claims?.userId, childPath(path, 'claims.userId')) ?? settings.claims.userId;
  settings.claims.topics = f.string(claims?.topics, childPath(path, 'claims.topics')) ?? TOPICS_CLAIM_DEFAULT;
  settings.clockToleranceSeconds =
    f.integer(jwt.clockToleranceSeconds, childPath(path, 'clockToleranceSeconds'), 0, MAX_TIMER_SECONDS) ??
    settings.clockToleranceSeconds;
  settings.requireExp = f.boolean(jwt.requireExp, childPath(path, 'requireExp')) ?? true;
  const maxTokenAge = f.integer(jwt.maxTokenAgeSeconds, childPath(path, 'maxTokenAgeSeconds'), 1, MAX_TIMER_SECONDS);
  if (maxTokenAge !== undefined) settings.maxTokenAgeSeconds = maxTokenAge;
  settings.refreshNoticeSeconds =
    f.integer(jwt.refreshNoticeSeconds, childPath(path, 'refreshNoticeSeconds'), 1, MAX_TIMER_SECONDS) ?? REFRESH_NOTICE_DEFAULT_SECONDS;
}

/** Reads the PEM file now, so a bad key stops the start rather than the first connection. */
function readPublicKey(f: FieldReader, file: string, path: string): string {
  const pem = readPemFile(f, file, path);
  try {
    createPublicKey(pem);
  } catch {
    f.fail(path, `${describeValue(file)} is not a PEM public key or certificate`);
  }
  return pem;
}
