/**
 * Tokens expire and can be refreshed in place: `refresh_required` before `exp`, `refresh` →
 * `refreshed`, and close 4401 `token expired` when `exp` passes unrefreshed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/edge/index.js';
import { connectClient } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { realtimeUrl, startRealtimeNode, topic, wrapRealtime, type Envelope, type RealtimeClient } from './support.js';
import { jwtSettings, signToken } from '../support/tokens.js';

describe('token refresh', () => {
  const clients: RealtimeClient[] = [];

  const node = forSuite(() => startRealtimeNode({
    auth: { jwt: jwtSettings({ refreshNoticeSeconds: 1 }) },
    topics: [topic('*:room.*', { permissions: { subscribe: 'token', publish: 'token', presence: 'token', history: 'token' } })],
  }));
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  /** Connects with a token valid for `seconds` (exp has whole-second precision: 1 s less at worst). */
  async function connectExpiring(userId: string, seconds: number, claims: Record<string, unknown> = {}): Promise<RealtimeClient> {
    const token = await signToken('acme', userId, claims, `${seconds}s`);
    const client = await connectClient(realtimeUrl(node, { tenantId: 'acme', userId, token }));
    const connected = await client.nextJson<Envelope>();
    expect(connected.type).toBe('connected');
    const wrapped = wrapRealtime(client, connected.data.connectionId as string, 'acme', userId);
    clients.push(wrapped);
    return wrapped;
  }

  it('asks for a refresh before exp; a new token for the same user is answered refreshed and keeps the connection past the old exp', async () => {
    const client = await connectExpiring('alice', 3);
    const notice = await client.nextEnvelope(4000);
    expect(notice.type).toBe('refresh_required');
    const expiresAt = Date.parse(notice.data.expiresAt as string);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(1100);
    expect(expiresAt - Date.now()).toBeGreaterThan(0);

    const fresh = await signToken('acme', 'alice', { topics: ['room.1'] }, '1h');
    const answer = await client.request({ type: 'refresh', requestId: 'rf1', data: { token: fresh } });
    expect(answer).toMatchObject({ type: 'refreshed', requestId: 'rf1' });
    expect(Date.parse(answer.data.expiresAt as string)).toBeGreaterThan(Date.now() + 3_500_000);
    // The new token's grants apply at once.
    expect((await client.request({ type: 'subscribe', data: { topic: 'room.1' } })).type).toBe('subscribed');

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 300));
    expect((await client.request({ type: 'ping' })).type).toBe('pong');
  });

  it('closes with 4401 "token expired" when exp passes unrefreshed', async () => {
    const client = await connectExpiring('bob', 2);
    expect((await client.nextEnvelope(3000)).type).toBe('refresh_required');
    const closed = await client.closed;
    expect(closed).toEqual({ code: CloseCode.TOKEN_EXPIRED, reason: 'token expired' });
    expect(CloseCode.TOKEN_EXPIRED).toBe(4401);
  });

  it('refuses a token for another user, an expired token and a malformed one, and the connection still expires', async () => {
    const client = await connectExpiring('carol', 2);
    const other = await client.request({ type: 'refresh', requestId: 'x1', data: { token: await signToken('acme', 'mallory', {}, '1h') } });
    expect(other).toMatchObject({ type: 'error', requestId: 'x1', data: { code: 'UNAUTHORIZED', message: 'token is for another user than this connection' } });
    const otherTenant = await client.request({ type: 'refresh', data: { token: await signToken('globex', 'carol', {}, '1h') } });
    expect(otherTenant.data).toMatchObject({ code: 'UNAUTHORIZED', message: 'token is for another tenant than this connection' });
    const expired = await client.request({ type: 'refresh', data: { token: await signToken('acme', 'carol', {}, Math.floor(Date.now() / 1000) - 10) } });
    expect(expired.data).toMatchObject({ code: 'UNAUTHORIZED', message: 'token expired' });
    const malformed = await client.request({ type: 'refresh', data: { token: 42 } });
    expect(malformed.data).toMatchObject({ code: 'BAD_REQUEST', field: 'data.token' });
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
  });
});

describe('token refresh on a node without auth', () => {
  it('answers refresh with an error naming why', async () => {
    const node = await startRealtimeNode({ auth: {} });
    try {
      const client = await connectClient(realtimeUrl(node, { tenantId: 'acme', userId: 'alice' }));
      await client.nextJson();
      const wrapped = wrapRealtime(client, '', 'acme', 'alice');
      const answer = await wrapped.request({ type: 'refresh', data: { token: 'x' } });
      expect(answer.data).toMatchObject({ code: 'BAD_REQUEST', message: 'this connection was not opened with a token: nothing to refresh' });
      await client.close();
    } finally {
      await node.close();
    }
  });
});
