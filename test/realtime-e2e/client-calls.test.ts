import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, type TestClient, type TestNode, V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, topic, type RealtimeClient } from './support.js';

describe('client publish, presence and history over the realtime protocol', () => {
  const clients: TestClient[] = [];
  const connect = async (tenantId: string, userId: string): Promise<RealtimeClient> => {
    const client = await connectRealtime(node, tenantId, userId);
    clients.push(client);
    return client;
  };

  const node = forSuite(() => startRealtimeNode({ topics: [topic('acme:*'), topic('globex:*'), topic('acme-quiet:*', { presence: false })] }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('publishes any JSON value through the API path: offsets, history, realtime and raw subscribers', async () => {
    const publisher = await connect('acme', 'alice');
    const listener = await connect('acme', 'bob');
    const raw = await connectClient(node.wsUrl('/raw'));
    clients.push(raw);
    const rawId = raw.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
    await expectApi(node, 200, 'POST', `${V1}/connections/${rawId}:subscribe`, { topic: 'acme:orders' });
    const subscribed = await listener.request({ type: 'subscribe', data: { topic: 'orders' } });

    const published = await publisher.request({ type: 'publish', requestId: 'p-1', data: { topic: 'orders', data: { order: 42, big: [1, 'x'] } } });
    expect(published).toMatchObject({ type: 'published', requestId: 'p-1', tenantId: 'acme', data: { topic: 'acme:orders', offset: 1, epoch: subscribed.data.epoch } });
    expect(await listener.nextEnvelope()).toMatchObject({ type: 'publication', data: { topic: 'acme:orders', offset: 1, payload: { order: 42, big: [1, 'x'] } } });
    const rawFrame = await raw.next();
    expect(rawFrame.binary).toBe(false);
    expect(rawFrame.text).toBe('{"order":42,"big":[1,"x"]}');

    // A plain string is a JSON value too: its JSON text is what is stored.
    expect(await publisher.request({ type: 'publish', data: { topic: 'acme:orders', data: 'hi' } })).toMatchObject({ type: 'published', data: { offset: 2 } });
    const history = await expectApi(node, 200, 'GET', `${V1}/topics/acme:orders/history`);
    expect((history.publications as { data: string }[]).map((p) => Buffer.from(p.data, 'base64').toString('utf8'))).toEqual(['{"order":42,"big":[1,"x"]}', '"hi"']);
  });

  it('publishes once per idempotency key and answers the first position again', async () => {
    const publisher = await connect('acme', 'alice');
    const listener = await connect('acme', 'bob');
    await listener.request({ type: 'subscribe', data: { topic: 'once' } });
    const first = await publisher.request({ type: 'publish', data: { topic: 'once', data: 1, idempotencyKey: 'k-1' } });
    const again = await publisher.request({ type: 'publish', data: { topic: 'once', data: 1, idempotencyKey: 'k-1' } });
    expect(again.data).toEqual(first.data);
    expect(await listener.nextEnvelope()).toMatchObject({ type: 'publication', data: { offset: 1 } });
    expect(await listener.drain()).toEqual([]);
  });

  it("refuses another tenant's topic and bad publish data with error envelopes naming the field", async () => {
    const client = await connect('acme', 'alice');
    expect(await client.request({ type: 'publish', requestId: 'x', data: { topic: 'globex:orders', data: 1 } })).toMatchObject({
      type: 'error',
      requestId: 'x',
      data: { code: 'FORBIDDEN_TENANT', field: 'data.topic' },
    });
    expect(await client.request({ type: 'publish', data: { topic: 'orders' } })).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST', field: 'data.data' } });
    expect(await client.request({ type: 'publish', data: { topic: 'orders', data: 1, idempotencyKey: '' } })).toMatchObject({
      type: 'error',
      data: { code: 'BAD_REQUEST', field: 'data.idempotencyKey' },
    });
    expect(await expectApi(node, 200, 'GET', `${V1}/topics/globex:orders/history`)).toMatchObject({ offset: 0, publications: [] });
  });

  it('answers presence as the management API does, and BAD_REQUEST for a topic that keeps none', async () => {
    const alice = await connect('acme', 'alice');
    const bob = await connect('acme', 'bob');
    await alice.request({ type: 'subscribe', data: { topic: 'room' } });
    await bob.request({ type: 'subscribe', data: { topic: 'room' } });
    const presence = await alice.request({ type: 'presence', requestId: 'pr', data: { topic: 'room' } });
    const api = await expectApi(node, 200, 'GET', `${V1}/topics/acme:room/presence`);
    expect(presence).toMatchObject({ type: 'presence', requestId: 'pr', data: { topic: 'acme:room', connections: api.connections } });
    expect((presence.data.users as string[]).sort()).toEqual(['alice', 'bob']);
    expect(await alice.request({ type: 'presence', data: { topic: 'globex:room' } })).toMatchObject({ type: 'error', data: { code: 'FORBIDDEN_TENANT' } });
    const quiet = await connect('acme-quiet', 'carol');
    expect(await quiet.request({ type: 'presence', data: { topic: 'room' } })).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST' } });
  });

  it('answers history with since and limit as the management API does', async () => {
    const client = await connect('acme', 'alice');
    for (const n of [1, 2, 3]) await client.request({ type: 'publish', data: { topic: 'log', data: { n } } });
    const all = await client.request({ type: 'history', requestId: 'h', data: { topic: 'log' } });
    expect(all).toMatchObject({ type: 'history', requestId: 'h', data: { topic: 'acme:log', offset: 3, complete: true } });
    expect((all.data.publications as { payload: unknown }[]).map((p) => p.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const epoch = all.data.epoch as string;
    const since = await client.request({ type: 'history', data: { topic: 'log', since: { offset: 1, epoch }, limit: 1 } });
    const api = await expectApi(node, 200, 'GET', `${V1}/topics/acme:log/history?sinceOffset=1&epoch=${epoch}&limit=1`);
    expect((since.data.publications as { offset: number }[]).map((p) => p.offset)).toEqual((api.publications as { offset: number }[]).map((p) => p.offset));
    expect(since.data).toMatchObject({ offset: api.offset, epoch: api.epoch, complete: api.complete });
    expect(await client.request({ type: 'history', data: { topic: 'log', since: { offset: 1, epoch: 'other' } } })).toMatchObject({ data: { complete: false } });
    expect(await client.request({ type: 'history', data: { topic: 'log', limit: 0 } })).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST', field: 'data.limit' } });
  });
});

describe('client publish and the message rate limit', () => {
  let node: TestNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
  });

  it('counts publish envelopes against messagesPerSecond and closes with 1008 past it', async () => {
    node = await startRealtimeNode({ topics: [topic('acme:*')], limits: { messagesPerSecond: 5 } });
    const client = await connectRealtime(node, 'acme', 'alice');
    for (let i = 0; i < 10; i++) client.send({ type: 'publish', data: { topic: 'flood', data: i } });
    const closed = await client.closed;
    expect(closed).toMatchObject({ code: 1008, reason: 'message rate limit exceeded' });
    const history = await expectApi(node, 200, 'GET', `${V1}/topics/acme:flood/history`);
    expect(history.offset as number).toBeLessThanOrEqual(5);
  });
});
