/**
 * Topic permissions on a real node, with real JWTs and a real authorize backend: a refused
 * subscribe answers FORBIDDEN with the requestId and delivers nothing afterwards; the
 * management API is not bound by client permissions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicSettings } from '../../src/config/index.js';
import { connectClient, startBackend, type TestNode, V1 } from '../support/harness.js';
import { suiteBackend } from '../support/scoped.js';
import { expectApi, realtimeUrl, startRealtimeNode, text, topic, wrapRealtime, type Envelope, type RealtimeClient } from './support.js';
import { signToken } from '../support/tokens.js';

async function connectWith(node: TestNode, tenantId: string, userId: string, extraClaims: Record<string, unknown> = {}): Promise<RealtimeClient> {
  const token = await signToken(tenantId, userId, extraClaims);
  const client = await connectClient(realtimeUrl(node, { tenantId, userId, token }));
  const connected = await client.nextJson<Envelope>();
  return wrapRealtime(client, connected.data.connectionId as string, tenantId, userId);
}

describe('topic permissions on a node', () => {
  let node: TestNode;
  let downUrl: string;
  const clients: RealtimeClient[] = [];

  const backend = suiteBackend((request, res) => {
    const { topic: name } = JSON.parse(request.body.toString()) as { topic: string };
    res.statusCode = request.headers['x-switchboard-user-id'] === 'alice' && name.endsWith('.open') ? 200 : 403;
    res.end();
  });
  beforeAll(async () => {
    const down = await startBackend();
    downUrl = `${down.url}/authorize`;
    await down.close();
    const topics: TopicSettings[] = [
      topic('{tenantId}:user.{userId}', { permissions: { subscribe: 'tenant', publish: 'none', presence: 'none', history: 'tenant' } }),
      topic('*:room.*', { permissions: { subscribe: 'token', publish: 'token', presence: 'token', history: 'token' } }),
      topic('*:doc.*', {
        permissions: { subscribe: 'backend', publish: 'backend', presence: 'backend', history: 'backend' },
        authorize: { url: `${backend.url}/authorize`, timeoutSeconds: 2, cacheSeconds: 60 },
      }),
      topic('*:ops.*', { permissions: { subscribe: 'backend', publish: 'none', presence: 'none', history: 'none' }, authorize: { url: downUrl, timeoutSeconds: 1, cacheSeconds: 60 } }),
    ];
    node = await startRealtimeNode({ topics });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await node?.close();
  });

  const client = async (tenantId: string, userId: string, claims: Record<string, unknown> = {}): Promise<RealtimeClient> => {
    const connected = await connectWith(node, tenantId, userId, claims);
    clients.push(connected);
    return connected;
  };

  async function expectForbidden(who: RealtimeClient, name: string, message: string | RegExp): Promise<void> {
    const answer = await who.request({ type: 'subscribe', requestId: `sub-${name}`, data: { topic: name } });
    expect(answer.type).toBe('error');
    expect(answer.requestId).toBe(`sub-${name}`);
    expect(answer.data.code).toBe('FORBIDDEN');
    expect(answer.data.message).toMatch(message);
  }

  async function expectNoDelivery(who: RealtimeClient, name: string): Promise<void> {
    await expectApi(node, 200, 'POST', `${V1}/topics/${name}:publish`, text('"not for you"'));
    const seen = await who.drain();
    expect(seen.filter((envelope) => envelope.type === 'publication')).toEqual([]);
  }

  it('a room granted by the token is subscribed; one it does not grant is FORBIDDEN and delivers nothing', async () => {
    const alice = await client('acme', 'alice', { topics: ['acme:room.42', 'acme:doc.*'] });
    const granted = await alice.request({ type: 'subscribe', data: { topic: 'room.42' } });
    expect(granted.type).toBe('subscribed');
    await expectForbidden(alice, 'acme:room.43', 'token does not grant subscribe on topic "acme:room.43" (claim "topics")');
    await expectNoDelivery(alice, 'acme:room.43');
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.42:publish`, text('"hello room"'));
    const delivered = await alice.nextEnvelope();
    expect(delivered).toMatchObject({ type: 'publication', data: { topic: 'acme:room.42', payload: 'hello room' } });

    const bob = await client('acme', 'bob');
    await expectForbidden(bob, 'acme:room.42', /^token does not grant subscribe/);
    await expectNoDelivery(bob, 'acme:room.42');
  });

  it('a private per-user topic is only its owner\'s; the management API subscribes anyone', async () => {
    const alice = await client('acme', 'alice');
    const bob = await client('acme', 'bob');
    expect((await alice.request({ type: 'subscribe', data: { topic: 'user.alice' } })).type).toBe('subscribed');
    await expectForbidden(bob, 'acme:user.alice', 'topic "acme:user.alice" belongs to another user (pattern "{tenantId}:user.{userId}")');
    await expectNoDelivery(bob, 'acme:user.alice');
    // The server is not bound by client permissions.
    await expectApi(node, 200, 'POST', `${V1}/connections/${bob.connectionId}:subscribe`, { topic: 'acme:user.alice' });
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:user.alice:publish`, text('"server says"'));
    expect(await bob.nextEnvelope()).toMatchObject({ type: 'publication', data: { topic: 'acme:user.alice' } });
    expect(await alice.nextEnvelope()).toMatchObject({ type: 'publication', data: { topic: 'acme:user.alice' } });
  });

  it('a backend-authorized topic asks the backend with the connection\'s identity: 2xx allows, 403 refuses', async () => {
    const alice = await client('acme', 'alice');
    expect((await alice.request({ type: 'subscribe', data: { topic: 'doc.open' } })).type).toBe('subscribed');
    const asked = await backend.waitFor((request) => request.body.toString().includes('acme:doc.open'));
    expect(asked.headers['x-yc-apigateway-websocket-connection-id']).toBe(alice.connectionId);
    expect(asked.headers['x-yc-apigateway-websocket-event-type']).toBe('AUTHORIZE');
    expect(JSON.parse(asked.body.toString())).toEqual({ action: 'subscribe', topic: 'acme:doc.open' });
    await expectForbidden(alice, 'acme:doc.secret', `authorize backend ${backend.url}/authorize answered 403: subscribe on topic "acme:doc.secret" denied`);
    const bob = await client('acme', 'bob');
    await expectForbidden(bob, 'acme:doc.open', /answered 403/);
    await expectNoDelivery(bob, 'acme:doc.open');
  });

  it('a backend that is down denies, with an error that says so', async () => {
    const alice = await client('acme', 'alice');
    await expectForbidden(alice, 'acme:ops.deploys', `authorize backend ${downUrl} unavailable: subscribe on topic "acme:ops.deploys" denied`);
    await expectNoDelivery(alice, 'acme:ops.deploys');
  });

  it('topics without rules keep today\'s behaviour', async () => {
    const alice = await client('acme', 'alice');
    expect((await alice.request({ type: 'subscribe', data: { topic: 'lobby' } })).type).toBe('subscribed');
    const other = await alice.request({ type: 'subscribe', data: { topic: 'globex:lobby' } });
    expect(other.data.code).toBe('FORBIDDEN_TENANT');
  });
});
