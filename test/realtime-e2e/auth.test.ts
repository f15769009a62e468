import { describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { connectClient, eventually } from '../support/harness.js';
import { forSuite, useBackend, useClient, useNode, useStarted } from '../support/scoped.js';
import { connectRealtime, realtimeSpec, realtimeUrl, startRealtimeNode, type Envelope } from './support.js';
import { JWT_SECRET, jwtSettings, signToken } from '../support/tokens.js';

const secretBytes = new TextEncoder().encode(JWT_SECRET);

/** Connects and resolves with how the server closed the socket right after the handshake. */
async function closedWith(url: string): Promise<{ code: number; reason: string }> {
  const client = await connectClient(url);
  const closed = await client.closed;
  return closed;
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('realtime connect with an HS256 JWT', () => {
  const node = forSuite(() => startRealtimeNode());

  const url = (query: Record<string, string>): string => realtimeUrl(node, query);

  it('accepts a token whose claims match the query and greets with connected {connectionId, tenantId, userId}', async () => {
    const token = await signToken('acme', 'alice');
    const client = await useClient(url({ tenantId: 'acme', userId: 'alice', token }));
    const connected = await client.nextJson<Envelope>();
    expect(connected).toMatchObject({ type: 'connected', tenantId: 'acme', userId: 'alice', data: { tenantId: 'acme', userId: 'alice' } });
    expect(connected.data.connectionId).toBe(client.upgradeHeaders['x-yc-apigateway-websocket-connection-id']);
    expect(typeof connected.timestamp).toBe('string');
    expect(connected.requestId).toBeUndefined();
    const view = await node.api('GET', `/apigateways/websocket/v1/connections/${connected.data.connectionId as string}?view=FULL`);
    expect(view.json).toMatchObject({ tenantId: 'acme', userId: 'alice', subscriptions: [], isAlive: true });
  });

  it('closes with 1008 "token expired" for an expired token', async () => {
    const token = await signToken('acme', 'alice', {}, Math.floor(Date.now() / 1000) - 60);
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token }))).toEqual({ code: 1008, reason: 'token expired' });
  });

  it('closes with 1008 "token signature invalid" for a token signed with another secret', async () => {
    const token = await new SignJWT({ tid: 'acme', sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-of-at-least-thirty-two-bytes'));
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token }))).toEqual({ code: 1008, reason: 'token signature invalid' });
  });

  it('closes with 1008 for an alg "none" token, signed or unsigned', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ tid: 'acme', sub: 'alice' })}.`;
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token: unsigned }))).toEqual({ code: 1008, reason: 'token algorithm not allowed' });
    // The "none" header glued onto a real HS256 signature is refused too.
    const real = (await signToken('acme', 'alice')).split('.');
    const forged = `${b64url({ alg: 'none' })}.${real[1]}.${real[2]}`;
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token: forged }))).toEqual({ code: 1008, reason: 'token algorithm not allowed' });
  });

  it('closes with 1008 when the token tenant or user differs from the query', async () => {
    const token = await signToken('acme', 'alice');
    expect(await closedWith(url({ tenantId: 'globex', userId: 'alice', token }))).toEqual({
      code: 1008,
      reason: 'token tenant does not match query parameter "tenantId"',
    });
    expect(await closedWith(url({ tenantId: 'acme', userId: 'bob', token }))).toEqual({
      code: 1008,
      reason: 'token user does not match query parameter "userId"',
    });
  });

  it('closes with 1008 naming the missing query parameter: token, tenantId, userId', async () => {
    const token = await signToken('acme', 'alice');
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice' }))).toEqual({ code: 1008, reason: 'missing query parameter "token"' });
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token: '' }))).toEqual({ code: 1008, reason: 'missing query parameter "token"' });
    expect(await closedWith(url({ userId: 'alice', token }))).toEqual({ code: 1008, reason: 'missing query parameter "tenantId"' });
    expect(await closedWith(url({ tenantId: 'acme', token }))).toEqual({ code: 1008, reason: 'missing query parameter "userId"' });
  });

  it('closes with 1008 for garbage, a token without the tenant claim, and a tenant id holding ":"', async () => {
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token: 'not-a-jwt' }))).toEqual({ code: 1008, reason: 'token malformed' });
    const noTenant = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(secretBytes);
    expect(await closedWith(url({ tenantId: 'acme', userId: 'alice', token: noTenant }))).toEqual({ code: 1008, reason: 'token claim "tid" missing' });
    const colon = await signToken('acme:x', 'alice');
    const closed = await closedWith(url({ tenantId: 'acme:x', userId: 'alice', token: colon }));
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain('tenantId');
  });

  it('registers nothing for a refused connection', async () => {
    await closedWith(url({ tenantId: 'acme', userId: 'mallory', token: 'x.y.z' }));
    const list = await node.api('GET', '/apigateways/websocket/v1/connections?userId=mallory');
    expect(list.json).toEqual({ connections: [], nextPageToken: '' });
  });
});

describe('realtime connect with other key settings', () => {
  // RSA key generation is slow: one pair per algorithm for the whole block.
  const pairs = new Map<string, ReturnType<typeof generateKeyPair>>();
  const keyPair = (alg: 'RS256' | 'ES256'): ReturnType<typeof generateKeyPair> => {
    let pair = pairs.get(alg);
    if (pair === undefined) {
      pair = generateKeyPair(alg);
      pairs.set(alg, pair);
    }
    return pair;
  };

  it('reads custom claim names and checks issuer and audience', async () => {
    const node = await useStarted(startRealtimeNode({
      auth: { jwt: jwtSettings({ claims: { tenantId: 'org', userId: 'uid' }, issuer: 'https://issuer.test', audience: 'switchboard' }) },
    }));
    const sign = (claims: Record<string, unknown>, issuer: string, audience: string): Promise<string> =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(issuer).setAudience(audience).setExpirationTime('1h').sign(secretBytes);
    const good = await sign({ org: 'acme', uid: 'alice' }, 'https://issuer.test', 'switchboard');
    const client = await connectClient(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token: good }));
    expect(await client.nextJson()).toMatchObject({ type: 'connected', data: { tenantId: 'acme', userId: 'alice' } });
    await client.close();

    const wrongIssuer = await sign({ org: 'acme', uid: 'alice' }, 'https://evil.test', 'switchboard');
    expect(await closedWith(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token: wrongIssuer }))).toEqual({ code: 1008, reason: 'token issuer mismatch' });
    const wrongAudience = await sign({ org: 'acme', uid: 'alice' }, 'https://issuer.test', 'other');
    expect(await closedWith(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token: wrongAudience }))).toEqual({ code: 1008, reason: 'token audience mismatch' });
    // Default claim names are not read when others are configured.
    const defaults = await sign({ tid: 'acme', sub: 'alice' }, 'https://issuer.test', 'switchboard');
    expect(await closedWith(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token: defaults }))).toEqual({ code: 1008, reason: 'token claim "org" missing' });
  });

  for (const alg of ['ES256', 'RS256'] as const) {
    it(`accepts ${alg} tokens from the configured public key and refuses an HS256 token`, async () => {
      const { publicKey, privateKey } = await keyPair(alg);
      const node = await useStarted(startRealtimeNode({
        auth: { jwt: jwtSettings({ secret: undefined, publicKeyPem: await exportSPKI(publicKey), algorithms: [alg] }) },
      }));
      const token = await new SignJWT({ tid: 'acme', sub: 'alice' }).setProtectedHeader({ alg }).setExpirationTime('1h').sign(privateKey);
      const client = await connectClient(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token }));
      expect(await client.nextJson()).toMatchObject({ type: 'connected' });
      await client.close();
      const hs = await signToken('acme', 'alice');
      expect(await closedWith(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token: hs }))).toEqual({ code: 1008, reason: 'token algorithm not allowed' });
    });
  }

  it('accepts RS256 tokens whose key comes from a JWKS URL and refuses unknown keys', async () => {
    const { publicKey, privateKey } = await keyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwks = await useBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    const node = await useStarted(startRealtimeNode({
      auth: { jwt: jwtSettings({ secret: undefined, jwksUrl: `${jwks.url}/jwks.json`, algorithms: ['RS256'] }) },
    }));
    const token = await new SignJWT({ tid: 'acme', sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('1h').sign(privateKey);
    const client = await connectClient(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token }));
    expect(await client.nextJson()).toMatchObject({ type: 'connected', data: { tenantId: 'acme', userId: 'alice' } });
    await client.close();
    const stranger = await new SignJWT({ tid: 'acme', sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k2' }).setExpirationTime('1h').sign(privateKey);
    expect(await closedWith(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token: stranger }))).toEqual({ code: 1008, reason: 'token signing key unknown' });
  });
});

describe('realtime connect without auth.jwt', () => {
  it('takes tenant and user from the query unverified, still requiring both', async () => {
    const node = await useNode({ spec: realtimeSpec() });
    const client = await connectClient(realtimeUrl(node, { tenantId: 'acme', userId: 'alice' }));
    expect(await client.nextJson()).toMatchObject({ type: 'connected', data: { tenantId: 'acme', userId: 'alice' } });
    await client.close();
    expect(await closedWith(realtimeUrl(node, { userId: 'alice' }))).toEqual({ code: 1008, reason: 'missing query parameter "tenantId"' });
  });
});

describe('realtime connection limits', () => {
  it('closes the connection over the per-tenant limit with 1013, other tenants unaffected', async () => {
    const node = await useStarted(startRealtimeNode({ limits: { maxConnectionsPerTenant: 2 } }));
    const first = await connectRealtime(node, 'acme', 'a1');
    const second = await connectRealtime(node, 'acme', 'a2');
    const token = await signToken('acme', 'a3');
    expect(await closedWith(realtimeUrl(node, { tenantId: 'acme', userId: 'a3', token }))).toEqual({ code: 1013, reason: 'tenant connection limit reached' });
    const other = await connectRealtime(node, 'globex', 'g1');
    // A slot freed by a disconnect is usable again.
    await first.close();
    await eventually(() => node.api('GET', '/apigateways/websocket/v1/connections?tenantId=acme'), (r) => (r.json as { connections: unknown[] }).connections.length === 1);
    const third = await connectRealtime(node, 'acme', 'a3');
    await Promise.all([second.close(), other.close(), third.close()]);
  });

  it('closes the connection over the node limit with 1013', async () => {
    const node = await useStarted(startRealtimeNode({ limits: { maxConnections: 1 } }));
    const first = await connectRealtime(node, 'acme', 'a1');
    const token = await signToken('globex', 'g1');
    expect(await closedWith(realtimeUrl(node, { tenantId: 'globex', userId: 'g1', token }))).toEqual({ code: 1013, reason: 'server connection limit reached' });
    await first.close();
  });
});
