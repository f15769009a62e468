/**
 * limits.maxSubscriptionsPerConnection: one connection cannot hold topics without bound, whether
 * it subscribes itself (realtime protocol) or a backend subscribes it (management API).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, topic, type RealtimeClient } from './support.js';

const ADMIN = 'admin-key';
const LIMIT = 3;

describe('limits.maxSubscriptionsPerConnection', () => {
  const clients: RealtimeClient[] = [];
  const connect = async (userId: string): Promise<RealtimeClient> => {
    const client = await connectRealtime(node, 'acme', userId);
    clients.push(client);
    return client;
  };

  const node = forSuite(() => startRealtimeNode({
    management: { apiKeys: [{ key: ADMIN, scopes: ['read', 'write', 'broadcast'] }] },
    limits: { maxSubscriptionsPerConnection: LIMIT },
    topics: [topic('acme:*')],
  }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('answers the subscribe past the limit with LIMIT_EXCEEDED echoing the requestId, and keeps the connection', async () => {
    const client = await connect('alice');
    for (let i = 0; i < LIMIT; i++) {
      expect(await client.request({ type: 'subscribe', data: { topic: `room${i}` } })).toMatchObject({ type: 'subscribed' });
    }
    const refused = await client.request({ type: 'subscribe', requestId: 'over', data: { topic: 'room-extra' } });
    expect(refused).toMatchObject({
      type: 'error',
      requestId: 'over',
      data: { code: 'LIMIT_EXCEEDED', field: 'limits.maxSubscriptionsPerConnection', message: expect.stringContaining(`${LIMIT} subscriptions`) },
    });
    const view = await expectApi(node, 200, 'GET', `${V1}/connections/${client.connectionId}?view=FULL`, undefined, ADMIN);
    expect(view.subscriptions).toHaveLength(LIMIT);
    // Still open and served; after an unsubscribe the same subscribe succeeds.
    expect(await client.request({ type: 'unsubscribe', data: { topic: 'room0' } })).toMatchObject({ type: 'unsubscribed' });
    expect(await client.request({ type: 'subscribe', data: { topic: 'room-extra' } })).toMatchObject({ type: 'subscribed' });
  });

  it('answers :subscribe past the limit with 400 FAILED_PRECONDITION naming the limit', async () => {
    const client = await connect('bob');
    for (let i = 0; i < LIMIT; i++) {
      await expectApi(node, 200, 'POST', `${V1}/connections/${client.connectionId}:subscribe`, { topic: `acme:srv${i}` }, ADMIN);
    }
    const response = await node.api('POST', `${V1}/connections/${client.connectionId}:subscribe`, { topic: 'acme:srv-extra' }, { authorization: `Bearer ${ADMIN}` });
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ code: 9, message: expect.stringContaining('limits.maxSubscriptionsPerConnection') });
    // The two paths share one allowance: the client cannot add a topic either.
    expect(await client.request({ type: 'subscribe', data: { topic: 'room-client' } })).toMatchObject({ type: 'error', data: { code: 'LIMIT_EXCEEDED' } });
  });
});
