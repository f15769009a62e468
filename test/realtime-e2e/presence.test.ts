import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, topic, type RealtimeClient } from './support.js';

describe('join and leave events', () => {
  const clients: RealtimeClient[] = [];
  const connect = async (userId: string, tenantId = 'acme'): Promise<RealtimeClient> => {
    const client = await connectRealtime(node, tenantId, userId);
    clients.push(client);
    return client;
  };

  const node = forSuite(() => startRealtimeNode({ topics: [topic('*:lobby.*', { joinLeave: true }), topic('*:quiet.*', { joinLeave: false })] }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('tells realtime subscribers who joins, unsubscribes and disconnects', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    await alice.request({ type: 'subscribe', data: { topic: 'lobby.main' } });

    const subscribed = await bob.request({ type: 'subscribe', requestId: 'b-sub', data: { topic: 'lobby.main' } });
    // The answer to bob's own subscribe comes first; he is not told of his own join.
    expect(subscribed).toMatchObject({ type: 'subscribed', requestId: 'b-sub' });
    expect(await bob.drain()).toEqual([]);
    expect(await alice.nextEnvelope()).toMatchObject({
      type: 'join',
      tenantId: 'acme',
      data: { topic: 'acme:lobby.main', connectionId: bob.connectionId, userId: 'bob' },
    });

    await bob.request({ type: 'unsubscribe', data: { topic: 'lobby.main' } });
    expect(await alice.nextEnvelope()).toMatchObject({ type: 'leave', data: { topic: 'acme:lobby.main', connectionId: bob.connectionId, userId: 'bob' } });

    await bob.request({ type: 'subscribe', data: { topic: 'lobby.main' } });
    expect(await alice.nextEnvelope()).toMatchObject({ type: 'join', data: { connectionId: bob.connectionId } });
    await bob.close();
    expect(await alice.nextEnvelope()).toMatchObject({ type: 'leave', data: { topic: 'acme:lobby.main', connectionId: bob.connectionId } });
    expect(await alice.drain()).toEqual([]);
  });

  it('announces a repeated subscribe once and server-side subscribes too', async () => {
    const alice = await connect('alice');
    const carol = await connect('carol');
    await alice.request({ type: 'subscribe', data: { topic: 'lobby.api' } });
    await expectApi(node, 200, 'POST', `${V1}/connections/${carol.connectionId}:subscribe`, { topic: 'acme:lobby.api' });
    await expectApi(node, 200, 'POST', `${V1}/connections/${carol.connectionId}:subscribe`, { topic: 'acme:lobby.api' });
    expect((await alice.drain()).map((e) => [e.type, e.data.userId])).toEqual([['join', 'carol']]);
    await expectApi(node, 200, 'POST', `${V1}/connections/${carol.connectionId}:unsubscribe`, { topic: 'acme:lobby.api' });
    expect((await alice.drain()).map((e) => [e.type, e.data.userId])).toEqual([['leave', 'carol']]);
  });

  it('sends no events where the topic pattern does not enable them', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    await alice.request({ type: 'subscribe', data: { topic: 'quiet.room' } });
    await bob.request({ type: 'subscribe', data: { topic: 'quiet.room' } });
    await bob.close();
    expect(await alice.drain()).toEqual([]);
  });

  it('sends no events to raw subscribers and none across tenants', async () => {
    const alice = await connect('alice');
    const raw = await connectClient(node.wsUrl('/raw'));
    try {
      const rawId = raw.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
      await expectApi(node, 200, 'POST', `${V1}/connections/${rawId}:subscribe`, { topic: 'acme:lobby.mixed' });
      const eve = await connect('eve', 'globex');
      await eve.request({ type: 'subscribe', data: { topic: 'lobby.mixed' } });
      await alice.request({ type: 'subscribe', data: { topic: 'lobby.mixed' } });
      await alice.close();
      expect(await raw.silentFor(100)).toBe(true);
      expect(await eve.drain()).toEqual([]);
    } finally {
      await raw.close();
    }
  });

  it('presence follows subscribes, unsubscribes and disconnects', async () => {
    const presence = () => expectApi(node, 200, 'GET', `${V1}/topics/acme:lobby.who/presence`);
    const alice = await connect('alice');
    const alice2 = await connect('alice');
    const bob = await connect('bob');
    for (const client of [alice, alice2, bob]) await client.request({ type: 'subscribe', data: { topic: 'lobby.who' } });
    const all = await presence();
    expect((all.users as string[]).sort()).toEqual(['alice', 'bob']);
    expect((all.connections as { connectionId: string }[]).map((c) => c.connectionId).sort()).toEqual(
      [alice.connectionId, alice2.connectionId, bob.connectionId].sort(),
    );
    await alice.request({ type: 'unsubscribe', data: { topic: 'lobby.who' } });
    expect((await presence()).users).toEqual(expect.arrayContaining(['alice', 'bob']));
    await alice2.close();
    // The registry entry goes when the server starts closing; by then alice2 had asked nothing more.
    const afterClose = await presence();
    expect(afterClose).toEqual({ connections: [{ connectionId: bob.connectionId, tenantId: 'acme', userId: 'bob' }], users: ['bob'] });
  });
});
