import { describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createTokenVerifier } from '../../src/realtime/token-verifier.js';
import { InvalidArgument, Unauthenticated } from '../../src/errors/index.js';
import { ManualClock } from '../../src/time/index.js';
import { useBackend } from '../support/scoped.js';
import { JWT_SECRET, jwtSettings } from '../support/tokens.js';

const secretBytes = new TextEncoder().encode(JWT_SECRET);

/** A token signed as of the clock's time, valid for an hour, so ManualClock decides whether it is valid. */
function token(clock: ManualClock, claims: Record<string, unknown> = { tid: 'acme', sub: 'alice' }): SignJWT {
  const now = Math.floor(clock.now() / 1000);
  return new SignJWT(claims).setIssuedAt(now).setExpirationTime(now + 3600);
}

async function rejection(promise: Promise<unknown>): Promise<Unauthenticated> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Unauthenticated);
  return err as Unauthenticated;
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('HS256 tokens', () => {
  it('accepts a valid token and reads tenant and user from the configured claims', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock, { tid: 'acme', sub: 'alice', role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(clock.now() / 1000) + 60)
      .sign(secretBytes);
    const verified = await createTokenVerifier(jwtSettings(), clock).verify(jwt);
    expect(verified.tenantId).toBe('acme');
    expect(verified.userId).toBe('alice');
    expect(verified.claims.role).toBe('admin');
  });

  it('refuses an expired token with "token expired", following the injected clock', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(clock.now() / 1000) + 60)
      .sign(secretBytes);
    const verifier = createTokenVerifier(jwtSettings(), clock);
    await expect(verifier.verify(jwt)).resolves.toMatchObject({ tenantId: 'acme' });
    clock.advance(61_000);
    const err = await rejection(verifier.verify(jwt));
    expect(err.message).toBe('token expired');
  });

  it('honours the configured clock tolerance', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(clock.now() / 1000) + 60)
      .sign(secretBytes);
    clock.advance(70_000);
    await expect(createTokenVerifier(jwtSettings({ clockToleranceSeconds: 30 }), clock).verify(jwt)).resolves.toMatchObject({
      userId: 'alice',
    });
  });

  it('refuses a token whose nbf is in the future with "token not yet valid"', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(Math.floor(clock.now() / 1000) + 120)
      .sign(secretBytes);
    const err = await rejection(createTokenVerifier(jwtSettings(), clock).verify(jwt));
    expect(err.message).toBe('token not yet valid');
  });

  it('refuses a token signed with another secret with "token signature invalid"', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('another-secret-of-at-least-thirty-two-bytes'));
    const err = await rejection(createTokenVerifier(jwtSettings(), clock).verify(jwt));
    expect(err.message).toBe('token signature invalid');
    expect(err.message).not.toContain(jwt);
  });

  it('refuses a hand-made alg "none" token with "token algorithm not allowed"', async () => {
    const clock = new ManualClock();
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ tid: 'acme', sub: 'mallory' })}.`;
    const err = await rejection(createTokenVerifier(jwtSettings(), clock).verify(unsigned));
    expect(err.message).toBe('token algorithm not allowed');
  });

  it('refuses garbage with "token malformed" and an empty token with "token missing"', async () => {
    const verifier = createTokenVerifier(jwtSettings(), new ManualClock());
    expect((await rejection(verifier.verify('not-a-jwt'))).message).toBe('token malformed');
    expect((await rejection(verifier.verify('a.b.c'))).message).toBe('token malformed');
    expect((await rejection(verifier.verify('x'.repeat(20_000)))).message).toBe('token malformed');
    expect((await rejection(verifier.verify(''))).message).toBe('token missing');
  });

  it('refuses a token without the tenant claim, naming the claim', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock, { sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    const err = await rejection(createTokenVerifier(jwtSettings(), clock).verify(jwt));
    expect(err.message).toBe('token claim "tid" missing');
  });

  it('refuses an empty or non-string identity claim', async () => {
    const clock = new ManualClock();
    const verifier = createTokenVerifier(jwtSettings(), clock);
    const empty = await token(clock, { tid: 'acme', sub: '' }).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    expect((await rejection(verifier.verify(empty))).message).toBe('token claim "sub" missing');
    const numeric = await token(clock, { tid: 42, sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    expect((await rejection(verifier.verify(numeric))).message).toBe('token claim "tid" must be a string');
  });

  it('reads custom claim names', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock, { org: 'acme', uid: 'bob' }).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    const verified = await createTokenVerifier(jwtSettings({ claims: { tenantId: 'org', userId: 'uid' } }), clock).verify(jwt);
    expect(verified).toMatchObject({ tenantId: 'acme', userId: 'bob' });
  });

  it('checks issuer and audience when set', async () => {
    const clock = new ManualClock();
    const verifier = createTokenVerifier(jwtSettings({ issuer: 'https://issuer.example', audience: 'switchboard' }), clock);
    const good = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.example')
      .setAudience('switchboard')
      .sign(secretBytes);
    await expect(verifier.verify(good)).resolves.toMatchObject({ tenantId: 'acme' });

    const wrongIssuer = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://evil.example')
      .setAudience('switchboard')
      .sign(secretBytes);
    expect((await rejection(verifier.verify(wrongIssuer))).message).toBe('token issuer mismatch');

    const wrongAudience = await token(clock)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.example')
      .setAudience('another-service')
      .sign(secretBytes);
    expect((await rejection(verifier.verify(wrongAudience))).message).toBe('token audience mismatch');

    const noAudience = await token(clock).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.example').sign(secretBytes);
    expect((await rejection(verifier.verify(noAudience))).message).toBe('token claim "aud" missing');
  });

  it('refuses an HS384 token when only HS256 is allowed', async () => {
    const clock = new ManualClock();
    const jwt = await token(clock).setProtectedHeader({ alg: 'HS384' }).sign(secretBytes);
    expect((await rejection(createTokenVerifier(jwtSettings(), clock).verify(jwt))).message).toBe('token algorithm not allowed');
  });
});

describe('token lifetime', () => {
  const now = (clock: ManualClock): number => Math.floor(clock.now() / 1000);

  it('refuses a token without exp by default with "token claim "exp" missing"', async () => {
    const clock = new ManualClock();
    const forever = await new SignJWT({ tid: 'acme', sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now(clock)).sign(secretBytes);
    expect((await rejection(createTokenVerifier(jwtSettings(), clock).verify(forever))).message).toBe('token claim "exp" missing');
    expect((await rejection(createTokenVerifier(jwtSettings({ requireExp: true }), clock).verify(forever))).message).toBe(
      'token claim "exp" missing',
    );
  });

  it('accepts a token without exp only when requireExp is false', async () => {
    const clock = new ManualClock();
    const forever = await new SignJWT({ tid: 'acme', sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    await expect(createTokenVerifier(jwtSettings({ requireExp: false }), clock).verify(forever)).resolves.toMatchObject({ userId: 'alice' });
  });

  it('refuses a token issued beyond the clock tolerance in the future with "token issued in the future"', async () => {
    const clock = new ManualClock();
    const verifier = createTokenVerifier(jwtSettings({ clockToleranceSeconds: 30 }), clock);
    const future = await new SignJWT({ tid: 'acme', sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now(clock) + 31)
      .setExpirationTime(now(clock) + 3600)
      .sign(secretBytes);
    expect((await rejection(verifier.verify(future))).message).toBe('token issued in the future');
    const withinTolerance = await new SignJWT({ tid: 'acme', sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now(clock) + 29)
      .setExpirationTime(now(clock) + 3600)
      .sign(secretBytes);
    await expect(verifier.verify(withinTolerance)).resolves.toMatchObject({ userId: 'alice' });
  });

  it('refuses a token whose nbf is beyond the clock tolerance and accepts one within it', async () => {
    const clock = new ManualClock();
    const verifier = createTokenVerifier(jwtSettings({ clockToleranceSeconds: 30 }), clock);
    const later = await token(clock).setProtectedHeader({ alg: 'HS256' }).setNotBefore(now(clock) + 31).sign(secretBytes);
    expect((await rejection(verifier.verify(later))).message).toBe('token not yet valid');
    const soon = await token(clock).setProtectedHeader({ alg: 'HS256' }).setNotBefore(now(clock) + 29).sign(secretBytes);
    await expect(verifier.verify(soon)).resolves.toMatchObject({ userId: 'alice' });
  });

  it('with maxTokenAgeSeconds refuses a token issued longer ago with "token too old", and one without iat', async () => {
    const clock = new ManualClock();
    const verifier = createTokenVerifier(jwtSettings({ maxTokenAgeSeconds: 600 }), clock);
    const fresh = await token(clock).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ userId: 'alice' });
    clock.advance(601_000);
    expect((await rejection(verifier.verify(fresh))).message).toBe('token too old');
    const noIat = await new SignJWT({ tid: 'acme', sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now(clock) + 60)
      .sign(secretBytes);
    expect((await rejection(verifier.verify(noIat))).message).toBe('token claim "iat" missing');
  });
});

describe('public keys', () => {
  it('accepts RS256 tokens signed by the configured key and refuses another key\'s', async () => {
    const clock = new ManualClock();
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const verifier = createTokenVerifier(
      jwtSettings({ secret: undefined, publicKeyPem: await exportSPKI(publicKey), algorithms: ['RS256'] }),
      clock,
    );
    const jwt = await token(clock).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    await expect(verifier.verify(jwt)).resolves.toMatchObject({ tenantId: 'acme', userId: 'alice' });
    const forged = await token(clock).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey);
    expect((await rejection(verifier.verify(forged))).message).toBe('token signature invalid');
  });

  it('accepts ES256 tokens signed by the configured key', async () => {
    const clock = new ManualClock();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const verifier = createTokenVerifier(
      jwtSettings({ secret: undefined, publicKeyPem: await exportSPKI(publicKey), algorithms: ['ES256'] }),
      clock,
    );
    const jwt = await token(clock).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    await expect(verifier.verify(jwt)).resolves.toMatchObject({ tenantId: 'acme', userId: 'alice' });
  });

  it('refuses an HS256 token whose "secret" is the RSA public key PEM (algorithm confusion)', async () => {
    const clock = new ManualClock();
    const { publicKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    const confused = await token(clock).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem));
    for (const algorithms of [['RS256'], ['HS256', 'RS256']]) {
      const verifier = createTokenVerifier(jwtSettings({ secret: undefined, publicKeyPem: pem, algorithms }), clock);
      expect((await rejection(verifier.verify(confused))).message).toBe('token algorithm not allowed');
    }
  });

  it('refuses an RS256 token when only a shared secret is configured', async () => {
    const clock = new ManualClock();
    const { privateKey } = await generateKeyPair('RS256');
    const jwt = await token(clock).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const verifier = createTokenVerifier(jwtSettings({ algorithms: ['HS256', 'RS256'] }), clock);
    expect((await rejection(verifier.verify(jwt))).message).toBe('token algorithm not allowed');
  });

  it('refuses an ES256 token against an RSA key even when ES256 is listed', async () => {
    const clock = new ManualClock();
    const rsa = await generateKeyPair('RS256');
    const ec = await generateKeyPair('ES256');
    const jwt = await token(clock).setProtectedHeader({ alg: 'ES256' }).sign(ec.privateKey);
    const verifier = createTokenVerifier(
      jwtSettings({ secret: undefined, publicKeyPem: await exportSPKI(rsa.publicKey), algorithms: ['RS256', 'ES256'] }),
      clock,
    );
    expect((await rejection(verifier.verify(jwt))).message).toBe('token algorithm not allowed');
  });
});

describe('settings that cannot verify anything', () => {
  it('refuse "none", unknown algorithms and algorithms without a key, naming auth.jwt.algorithms', () => {
    for (const algorithms of [['none'], ['HS257'], ['RS256']]) {
      expect(() => createTokenVerifier(jwtSettings({ algorithms }))).toThrow(InvalidArgument);
      try {
        createTokenVerifier(jwtSettings({ algorithms }));
      } catch (err) {
        expect((err as InvalidArgument).field).toBe('auth.jwt.algorithms');
      }
    }
  });

  it('refuse a public key that is not PEM', () => {
    expect(() => createTokenVerifier(jwtSettings({ secret: undefined, publicKeyPem: 'nope', algorithms: ['RS256'] }))).toThrow(
      InvalidArgument,
    );
  });
});

describe('JWKS', () => {
  async function signingKey(kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    return { privateKey, jwk };
  }

  it('verifies with keys from the URL and picks up a rotated key by refetching on an unknown kid', async () => {
    const clock = new ManualClock(Date.now());
    const first = await signingKey('key-1');
    const second = await signingKey('key-2');
    let published: JWK[] = [first.jwk];
    let fetches = 0;
    const jwks = await useBackend((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: published }));
    });

    const verifier = createTokenVerifier(
      jwtSettings({ secret: undefined, jwksUrl: `${jwks.url}/.well-known/jwks.json`, algorithms: ['RS256'] }),
      clock,
      { jwksCooldownMs: 0 },
    );
    const byFirst = await token(clock).setProtectedHeader({ alg: 'RS256', kid: 'key-1' }).sign(first.privateKey);
    await expect(verifier.verify(byFirst)).resolves.toMatchObject({ tenantId: 'acme', userId: 'alice' });
    await expect(verifier.verify(byFirst)).resolves.toMatchObject({ tenantId: 'acme' });
    expect(fetches).toBe(1);

    // The issuer rotates: key-2 signs from now on and key-1 is withdrawn.
    published = [second.jwk];
    const bySecond = await token(clock).setProtectedHeader({ alg: 'RS256', kid: 'key-2' }).sign(second.privateKey);
    await expect(verifier.verify(bySecond)).resolves.toMatchObject({ tenantId: 'acme', userId: 'alice' });
    expect(fetches).toBe(2);

    const unknown = await signingKey('key-3');
    const byUnknown = await token(clock).setProtectedHeader({ alg: 'RS256', kid: 'key-3' }).sign(unknown.privateKey);
    expect((await rejection(verifier.verify(byUnknown))).message).toBe('token signing key unknown');
  });

  it('says the keys are unavailable when the JWKS URL does not answer with a key set', async () => {
    const jwks = await useBackend((_req, res) => {
      res.writeHead(500);
      res.end('down');
    });
    const clock = new ManualClock(Date.now());
    const key = await signingKey('key-1');
    const verifier = createTokenVerifier(
      jwtSettings({ secret: undefined, jwksUrl: `${jwks.url}/jwks`, algorithms: ['RS256'] }),
      clock,
    );
    const jwt = await token(clock).setProtectedHeader({ alg: 'RS256', kid: 'key-1' }).sign(key.privateKey);
    expect((await rejection(verifier.verify(jwt))).message).toBe('token signing keys unavailable');
  });
});
