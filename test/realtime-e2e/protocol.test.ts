import { afterEach, describe, expect, it } from 'vitest';
import { V1 } from '../support/harness.js';
import { forSuite, suiteBackend } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, text, topic, type RealtimeClient } from './support.js';

describe('the realtime envelope protocol', () => {
  const clients: RealtimeClient[] = [];
  const connect = async (tenantId: string, userId: string, path = '/rt'): Promise<RealtimeClient> => {
    const client = await connectRealtime(node, tenantId, userId, path);
    clients.push(client);
    return client;
  };

  const backend = suiteBackend();
  const node = forSuite(() => startRealtimeNode({ topics: [topic('acme:*')] }, `${backend.url}/forward`));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    backend.setHandler((_req, res) => {
      res.end();
    });
  });

  it('answers ping with pong, echoing requestId and stamping tenant, user and time', async () => {
    const client = await connect('acme', 'alice');
    const pong = await client.request({ type: 'ping', requestId: 'p-1', data: {} });
    expect(pong).toMatchObject({ type: 'pong', data: {}, tenantId: 'acme', userId: 'alice', requestId: 'p-1' });
    expect(Date.parse(pong.timestamp)).not.toBeNaN();
    // Without a requestId the answer has none.
    client.send({ type: 'ping' });
    expect((await client.nextEnvelope()).requestId).toBeUndefined();
  });

  it('subscribes to a bare name as the tenant-scoped topic and unsubscribes from it', async () => {
    const client = await connect('acme', 'alice');
    const subscribed = await client.request({ type: 'subscribe', requestId: 's-1', data: { topic: 'chat.lobby' } });
    expect(subscribed).toMatchObject({ type: 'subscribed', requestId: 's-1', tenantId: 'acme', data: { topic: 'acme:chat.lobby', offset: 0 } });
    expect(typeof subscribed.data.epoch).toBe('string');
    expect(subscribed.data).not.toHaveProperty('recovered');
    // An already scoped name of the own tenant is the same topic.
    expect(await client.request({ type: 'subscribe', data: { topic: 'acme:chat.lobby' } })).toMatchObject({ type: 'subscribed', data: { topic: 'acme:chat.lobby' } });
    const view = await expectApi(node, 200, 'GET', `${V1}/connections/${client.connectionId}?view=FULL`);
    expect(view.subscriptions).toEqual(['acme:chat.lobby']);

    const published = await expectApi(node, 200, 'POST', `${V1}/topics/acme:chat.lobby:publish`, text('{"hello":"world"}'));
    expect(published).toMatchObject({ offset: 1, epoch: subscribed.data.epoch, delivered: 1 });
    const publication = await client.nextEnvelope();
    expect(publication).toMatchObject({
      type: 'publication',
      tenantId: 'acme',
      data: { topic: 'acme:chat.lobby', offset: 1, epoch: subscribed.data.epoch, payload: { hello: 'world' } },
    });

    const unsubscribed = await client.request({ type: 'unsubscribe', requestId: 'u-1', data: { topic: 'chat.lobby' } });
    expect(unsubscribed).toMatchObject({ type: 'unsubscribed', requestId: 'u-1', data: { topic: 'acme:chat.lobby' } });
    expect(await expectApi(node, 200, 'POST', `${V1}/topics/acme:chat.lobby:publish`, text('after'))).toMatchObject({ delivered: 0 });
    expect(await client.drain()).toEqual([]);
  });

  it('delivers binary and plain-text publications inside the envelope', async () => {
    const client = await connect('acme', 'alice');
    await client.request({ type: 'subscribe', data: { topic: 'bin' } });
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:bin:publish`, { data: Buffer.from([0, 1, 255]).toString('base64'), type: 'BINARY' });
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:bin:publish`, text('just words'));
    const [binary, plain] = [await client.nextEnvelope(), await client.nextEnvelope()];
    expect(binary.data).toMatchObject({ payload: Buffer.from([0, 1, 255]).toString('base64'), encoding: 'base64', offset: 1 });
    expect(plain.data).toMatchObject({ payload: 'just words', offset: 2 });
    expect(plain.data).not.toHaveProperty('encoding');
  });

  it("answers a subscribe to another tenant's topic with FORBIDDEN_TENANT and delivers nothing from it", async () => {
    const client = await connect('acme', 'alice');
    const error = await client.request({ type: 'subscribe', requestId: 'x-1', data: { topic: 'globex:chat' } });
    expect(error).toMatchObject({ type: 'error', requestId: 'x-1', tenantId: 'acme', data: { code: 'FORBIDDEN_TENANT', field: 'data.topic' } });
    expect(await expectApi(node, 200, 'POST', `${V1}/topics/globex:chat:publish`, text('secret'))).toMatchObject({ delivered: 0 });
    expect(await client.drain()).toEqual([]);
  });

  it('answers an envelope naming another tenant with FORBIDDEN_TENANT, whatever its type', async () => {
    const client = await connect('acme', 'alice');
    for (const type of ['ping', 'subscribe', 'unsubscribe', 'custom']) {
      const error = await client.request({ type, requestId: `t-${type}`, tenantId: 'globex', data: { topic: 'chat' } });
      expect(error).toMatchObject({ type: 'error', requestId: `t-${type}`, data: { code: 'FORBIDDEN_TENANT', field: 'tenantId' } });
    }
    const view = await expectApi(node, 200, 'GET', `${V1}/connections/${client.connectionId}?view=FULL`);
    expect(view.subscriptions).toEqual([]);
    // Its own tenant named explicitly is fine.
    expect(await client.request({ type: 'ping', tenantId: 'acme' })).toMatchObject({ type: 'pong' });
  });

  it('answers bad JSON, a non-object and a missing type with BAD_REQUEST naming the field', async () => {
    const client = await connect('acme', 'alice');
    client.ws.send('{not json');
    expect(await client.nextEnvelope()).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST', field: 'envelope' } });
    client.ws.send('[1,2]');
    expect(await client.nextEnvelope()).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST', field: 'envelope' } });
    client.ws.send(JSON.stringify({ requestId: 'm-1', data: {} }));
    const missingType = await client.nextEnvelope();
    expect(missingType).toMatchObject({ type: 'error', requestId: 'm-1', data: { code: 'BAD_REQUEST', field: 'type' } });
    client.ws.send(JSON.stringify({ type: 'ping', requestId: 42 }));
    const badRequestId = await client.nextEnvelope();
    expect(badRequestId).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST', field: 'requestId' } });
    expect(badRequestId.requestId).toBeUndefined();
    // The connection stays usable.
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('answers subscribe and unsubscribe with bad data with BAD_REQUEST and the requestId', async () => {
    const client = await connect('acme', 'alice');
    const cases: [unknown, string][] = [
      [undefined, 'data'],
      ['chat', 'data'],
      [{}, 'data.topic'],
      [{ topic: 'has space' }, 'data.topic'],
      [{ topic: 'x'.repeat(257) }, 'data.topic'],
      [{ topic: 'acme:' }, 'data.topic'],
      [{ topic: 'chat', since: 5 }, 'data.since'],
      [{ topic: 'chat', since: { offset: -1, epoch: 'e' } }, 'data.since.offset'],
      [{ topic: 'chat', since: { offset: 1 } }, 'data.since.epoch'],
    ];
    for (const [data, field] of cases) {
      const error = await client.request({ type: 'subscribe', requestId: `bad-${field}`, data });
      expect(error, JSON.stringify(data)).toMatchObject({ type: 'error', requestId: `bad-${field}`, data: { code: 'BAD_REQUEST', field } });
    }
    expect(await client.request({ type: 'unsubscribe', requestId: 'bad-u', data: {} })).toMatchObject({
      type: 'error',
      requestId: 'bad-u',
      data: { code: 'BAD_REQUEST', field: 'data.topic' },
    });
    const view = await expectApi(node, 200, 'GET', `${V1}/connections/${client.connectionId}?view=FULL`);
    expect(view.subscriptions).toEqual([]);
  });

  it('answers a binary frame with BAD_REQUEST and stays open', async () => {
    const client = await connect('acme', 'alice');
    client.ws.send(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true });
    expect(await client.nextEnvelope()).toMatchObject({ type: 'error', tenantId: 'acme', data: { code: 'BAD_REQUEST' } });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('answers other types with UNKNOWN_TYPE when the path forwards nothing', async () => {
    const client = await connect('acme', 'alice');
    expect(await client.request({ type: 'chat.say', requestId: 'c-1', data: { text: 'hi' } })).toMatchObject({
      type: 'error',
      requestId: 'c-1',
      data: { code: 'UNKNOWN_TYPE', field: 'type' },
    });
  });

  it('sends other types to a dummy forward integration and relays its answer', async () => {
    const client = await connect('acme', 'alice', '/rt-dummy');
    client.send({ type: 'chat.say', data: { text: 'hi' } });
    expect(await client.nextEnvelope()).toEqual({ type: 'forwarded' });
    // The protocol's own types are still handled by the protocol.
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('sends other types to an http forward integration with the envelope and identity, in order', async () => {
    backend.setHandler((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ type: 'reply', data: { echo: JSON.parse(req.body.toString('utf8')).data } }));
    });
    const client = await connect('acme', 'alice', '/rt-http');
    client.send({ type: 'chat.say', requestId: 'f-1', data: { n: 1 } });
    client.send({ type: 'chat.say', requestId: 'f-2', data: { n: 2 } });
    expect(await client.nextEnvelope()).toEqual({ type: 'reply', data: { echo: { n: 1 } } });
    expect(await client.nextEnvelope()).toEqual({ type: 'reply', data: { echo: { n: 2 } } });
    const request = await backend.waitFor((r) => r.url === '/forward');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-yc-apigateway-websocket-event-type']).toBe('MESSAGE');
    expect(request.headers['x-yc-apigateway-websocket-connection-id']).toBe(client.connectionId);
    expect(request.headers['x-switchboard-tenant-id']).toBe('acme');
    expect(request.headers['x-switchboard-user-id']).toBe('alice');
    expect(JSON.parse(request.body.toString('utf8'))).toEqual({ type: 'chat.say', requestId: 'f-1', data: { n: 1 } });
  });

  it('answers a forwarded message the backend fails with a BACKEND_ERROR envelope echoing the requestId', async () => {
    backend.setHandler((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const client = await connect('acme', 'alice', '/rt-http');
    const error = await client.request({ type: 'chat.say', requestId: 'f-err', data: {} });
    expect(error).toMatchObject({ type: 'error', requestId: 'f-err', tenantId: 'acme', userId: 'alice', data: { code: 'BACKEND_ERROR' } });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('forwards nothing from a frame naming another tenant', async () => {
    const client = await connect('acme', 'alice', '/rt-http');
    const before = backend.requests.length;
    expect(await client.request({ type: 'chat.say', tenantId: 'globex', data: {} })).toMatchObject({ type: 'error', data: { code: 'FORBIDDEN_TENANT' } });
    expect(backend.requests.length).toBe(before);
  });

  it('recovers through a subscribe with since: missed publications in the reply, recovered true', async () => {
    const client = await connect('acme', 'alice');
    const first = await client.request({ type: 'subscribe', data: { topic: 'since' } });
    const epoch = first.data.epoch as string;
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:since:publish`, text('{"n":1}'));
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:since:publish`, text('{"n":2}'));
    expect((await client.drain()).map((e) => e.data.offset)).toEqual([1, 2]);
    const again = await client.request({ type: 'subscribe', requestId: 'again', data: { topic: 'since', since: { offset: 1, epoch } } });
    expect(again).toMatchObject({
      type: 'subscribed',
      requestId: 'again',
      data: { topic: 'acme:since', offset: 2, epoch, recovered: true, publications: [{ offset: 2, payload: { n: 2 } }] },
    });
  });

  it('a stored JSON payload nested too deeply to re-encode gets an error envelope for history and recovery, never silence or a crash', async () => {
    // Live delivery splices the text as it came; history and recovery parse it, and encoding
    // it again overflowed the stack inside a promise callback: an unhandled rejection.
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:deep:publish`, text(deep));
    const client = await connect('acme', 'alice');
    const history = await client.request({ type: 'history', requestId: 'h', data: { topic: 'deep' } });
    expect(history).toMatchObject({ type: 'error', requestId: 'h', data: { code: 'INTERNAL', message: 'the history answer could not be encoded: a payload nests too deeply' } });
    const { epoch } = await expectApi(node, 200, 'GET', `${V1}/topics/acme:deep/history`);
    const recovery = await client.request({ type: 'subscribe', requestId: 's', data: { topic: 'deep', since: { offset: 0, epoch } } });
    expect(recovery.type).toBe('error');
    expect(recovery.requestId).toBe('s');
    expect((await client.request({ type: 'ping', requestId: 'p' })).type).toBe('pong');
  });
});
