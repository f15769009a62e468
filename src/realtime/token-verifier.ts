import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { JwtSettings } from '../config/index.js';
import { InvalidArgument, Unauthenticated } from '../errors/index.js';
import { systemClock, type Clock } from '../time/index.js';

/** Who a verified token says the client is. */
export interface VerifiedClaims {
  tenantId: string;
  userId: string;
  /** The whole claims set, for integrations that forward claims to backends. */
  claims: Record<string, unknown>;
}

export interface TokenVerifier {
  /** Resolves to the token's identity; rejects with `Unauthenticated` and a reason a client may see. */
  verify(token: string): Promise<VerifiedClaims>;
}

/** Knobs of the remote key set; the defaults suit production, tests shorten them. */
export interface TokenVerifierOptions {
  /** Least time between two refetches of the JWKS caused by an unknown `kid` (key rotation). */
  jwksCooldownMs?: number;
  /** Age after which the JWKS is refetched even when every `kid` is known. */
  jwksCacheMaxAgeMs?: number;
  jwksTimeoutMs?: number;
}

/** Longer than any honest JWT; parsing megabytes of base64 on the connect path would be a cheap DoS. */
const MAX_TOKEN_LENGTH = 16_384;

type KeyFamily = 'secret' | 'rsa' | 'rsa-pss' | 'ec-P-256' | 'ec-P-384' | 'ec-P-521' | 'ed25519';

/**
 * The key family each JWS algorithm needs. Tying the algorithm to a key family is what stops
 * algorithm confusion: an HS256 token is only ever checked against the shared secret, never
 * against a public key's PEM text used as an HMAC secret.
 */
const ALGORITHM_FAMILIES: Readonly<Record<string, readonly KeyFamily[]>> = {
  HS256: ['secret'],
  HS384: ['secret'],
  HS512: ['secret'],
  RS256: ['rsa'],
  RS384: ['rsa'],
  RS512: ['rsa'],
  PS256: ['rsa', 'rsa-pss'],
  PS384: ['rsa', 'rsa-pss'],
  PS512: ['rsa', 'rsa-pss'],
  ES256: ['ec-P-256'],
  ES384: ['ec-P-384'],
  ES512: ['ec-P-521'],
  EdDSA: ['ed25519'],
  Ed25519: ['ed25519'],
};

const NIST_CURVES: Readonly<Record<string, KeyFamily>> = {
  prime256v1: 'ec-P-256',
  secp384r1: 'ec-P-384',
  secp521r1: 'ec-P-521',
};

/**
 * Builds the verifier of realtime connect tokens. Throws `InvalidArgument` (field under
 * `auth.jwt`) when the settings leave no algorithm that a configured key can check.
 */
export function createTokenVerifier(
  settings: JwtSettings,
  clock: Clock = systemClock,
  options: TokenVerifierOptions = {},
): TokenVerifier {
  const secret = settings.secret === undefined ? undefined : new TextEncoder().encode(settings.secret);
  const publicKey = settings.publicKeyPem === undefined ? undefined : readPublicKey(settings.publicKeyPem);
  const publicKeyFamily = publicKey === undefined ? undefined : familyOf(publicKey);
  const jwks =
    settings.jwksUrl === undefined
      ? undefined
      : createRemoteJWKSet(new URL(settings.jwksUrl), {
          ...(options.jwksCooldownMs === undefined ? {} : { cooldownDuration: options.jwksCooldownMs }),
          ...(options.jwksCacheMaxAgeMs === undefined ? {} : { cacheMaxAge: options.jwksCacheMaxAgeMs }),
          ...(options.jwksTimeoutMs === undefined ? {} : { timeoutDuration: options.jwksTimeoutMs }),
        });

  const algorithms = allowedAlgorithms(settings.algorithms, {
    secret: secret !== undefined,
    publicKeyFamily,
    jwks: jwks !== undefined,
  });

  const resolveKey: JWTVerifyGetKey = async (header, token) => {
    // jwtVerify has already refused any alg outside `algorithms`, so alg is one we can key.
    const families = ALGORITHM_FAMILIES[header.alg ?? ''] ?? [];
    if (families.includes('secret')) {
      if (secret === undefined) throw new joseErrors.JOSEAlgNotAllowed('no secret configured');
      return secret;
    }
    if (publicKey !== undefined && publicKeyFamily !== undefined && families.includes(publicKeyFamily)) return publicKey;
    if (jwks !== undefined) return fromKeySet(jwks, header, token);
    throw new joseErrors.JOSEAlgNotAllowed('no key for this algorithm');
  };

  const tenantClaim = settings.claims.tenantId;
  const userClaim = settings.claims.userId;
  const toleranceSeconds = settings.clockToleranceSeconds;
  const requiredClaims = settings.requireExp === false ? [] : ['exp'];

  return {
    async verify(token: string): Promise<VerifiedClaims> {
      if (token === '') throw new Unauthenticated('token missing', 'token');
      if (token.length > MAX_TOKEN_LENGTH) throw new Unauthenticated('token malformed', 'token');
      const verifyOptions: JWTVerifyOptions = {
        algorithms,
        clockTolerance: toleranceSeconds,
        currentDate: new Date(clock.now()),
        requiredClaims,
      };
      if (settings.maxTokenAgeSeconds !== undefined) verifyOptions.maxTokenAge = settings.maxTokenAgeSeconds;
      if (settings.issuer !== undefined) verifyOptions.issuer = settings.issuer;
      if (settings.audience !== undefined) verifyOptions.audience = settings.audience;
      let claims: Record<string, unknown>;
      try {
        ({ payload: claims } = await jwtVerify(token, resolveKey, verifyOptions));
      } catch (err) {
        throw new Unauthenticated(reasonFor(err), 'token');
      }
      // jose checks iat only together with maxTokenAge; a token dated after now comes from a wrong
      // clock or was dated ahead to outlive maxTokenAge, so it is refused with or without that limit.
      if (typeof claims.iat === 'number' && claims.iat > clock.now() / 1000 + toleranceSeconds) {
        throw new Unauthenticated('token issued in the future', 'token');
      }
      return {
        tenantId: requireStringClaim(claims, tenantClaim),
        userId: requireStringClaim(claims, userClaim),
        claims,
      };
    },
  };
}

/** Failing to fetch the key set is the server's trouble, not a malformed token: say so. */
class KeySetUnavailable extends Error {}

async function fromKeySet(
  jwks: ReturnType<typeof createRemoteJWKSet>,
  header: Parameters<JWTVerifyGetKey>[0],
  token: Parameters<JWTVerifyGetKey>[1],
): Promise<CryptoKey> {
  try {
    return await jwks(header, token);
  } catch (err) {
    if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) throw err;
    if (err instanceof joseErrors.JOSENotSupported || err instanceof joseErrors.JWSInvalid) throw err;
    throw new KeySetUnavailable('key set unavailable', { cause: err });
  }
}

function readPublicKey(pem: string): KeyObject {
  try {
    return createPublicKey(pem);
  } catch {
    throw new InvalidArgument('is not a PEM public key', 'auth.jwt.publicKey');
  }
}

function familyOf(key: KeyObject): KeyFamily | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'rsa-pss':
      return 'rsa-pss';
    case 'ed25519':
      return 'ed25519';
    case 'ec':
      return NIST_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    default:
      return undefined;
  }
}

/**
 * The configured algorithms a configured key can check. An algorithm whose key is not
 * configured is dropped rather than tried, so `[HS256, RS256]` with only a public key
 * accepts RS256 alone.
 */
function allowedAlgorithms(
  configured: readonly string[],
  keys: { secret: boolean; publicKeyFamily: KeyFamily | undefined; jwks: boolean },
): string[] {
  const allowed: string[] = [];
  for (const algorithm of configured) {
    const families = ALGORITHM_FAMILIES[algorithm];
    if (families === undefined) {
      throw new InvalidArgument(`algorithm "${algorithm}" is not supported`, 'auth.jwt.algorithms');
    }
    const usable = families.includes('secret')
      ? keys.secret
      : keys.jwks || (keys.publicKeyFamily !== undefined && families.includes(keys.publicKeyFamily));
    if (usable && !allowed.includes(algorithm)) allowed.push(algorithm);
  }
  if (allowed.length === 0) {
    throw new InvalidArgument('no configured algorithm matches a configured key', 'auth.jwt.algorithms');
  }
  return allowed;
}

function requireStringClaim(claims: Record<string, unknown>, name: string): string {
  const value = claims[name];
  if (value === undefined || value === '') throw new Unauthenticated(`token claim "${name}" missing`, 'token');
  if (typeof value !== 'string') throw new Unauthenticated(`token claim "${name}" must be a string`, 'token');
  return value;
}

/** A short reason for the client: it names what failed, never echoes the token or a key. */
function reasonFor(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return err.claim === 'iat' ? 'token too old' : 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `token claim "${err.claim}" missing`;
    switch (err.claim) {
      case 'nbf':
        return 'token not yet valid';
      case 'aud':
        return 'token audience mismatch';
      case 'iss':
        return 'token issuer mismatch';
      case 'iat':
        return 'token issued in the future';
      default:
        return `token claim "${err.claim}" invalid`;
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'token signing key unknown';
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'token signing key ambiguous';
  if (err instanceof KeySetUnavailable) return 'token signing keys unavailable';
  if (err instanceof joseErrors.JOSENotSupported) return 'token algorithm not allowed';
  // JWSInvalid, JWTInvalid, and the TypeErrors jose raises for structurally broken input.
  return 'token malformed';
}
