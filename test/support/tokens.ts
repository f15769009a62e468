/**
 * Signed tokens for tests: one HS256 secret, the JWT settings a test node verifies it with,
 * and a signer for a tenant's user.
 */
import { SignJWT } from 'jose';
import type { JwtSettings } from '../../src/config/index.js';

export const JWT_SECRET = 'switchboard-tests-shared-secret-of-32-bytes-or-more';
const secretBytes = new TextEncoder().encode(JWT_SECRET);

/** HS256 with JWT_SECRET, the tenant in `tid` and the user in `sub`; `overrides` merge over that. */
export function jwtSettings(overrides: Partial<JwtSettings> = {}): JwtSettings {
  return {
    secret: JWT_SECRET,
    algorithms: ['HS256'],
    claims: { tenantId: 'tid', userId: 'sub' },
    clockToleranceSeconds: 0,
    ...overrides,
  };
}

/** An HS256 token for `tid`/`sub` plus `extra` claims, valid for an hour unless `expiresIn` (a duration or epoch seconds) says otherwise. */
export function signToken(tenantId: string, userId: string, extra: Record<string, unknown> = {}, expiresIn: string | number = '1h'): Promise<string> {
  return new SignJWT({ tid: tenantId, sub: userId, ...extra })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(secretBytes);
}
