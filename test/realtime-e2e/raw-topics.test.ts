import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, eventually, type TestClient, V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, text, topic } from './support.js';

describe('topics on paths without the realtime protocol', () => {
  const clients: TestClient[] = [];
  const connectRaw = async (): Promise<{ client: TestClient; id: string }> => {
    const client = await connectClient(node.wsUrl('/raw'));
    clients.push(client);
    return { client, id: client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string };
  };

  const node = forSuite(() => startRealtimeNode({ topics: [topic('news*', { historySize: 10 })] }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('delivers publications as raw frames, text as text and binary as binary, after a management subscribe', async () => {
    const { client, id } = await connectRaw();
    expect(await expectApi(node, 200, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'news' })).toMatchObject({ topic: 'news', offset: 0 });
    expect(await expectApi(node, 200, 'POST', `${V1}/topics/news:publish`, text('{"headline":"raw"}'))).toMatchObject({ offset: 1, delivered: 1 });
    const textFrame = await client.next();
    expect(textFrame.binary).toBe(false);
    // Exactly the published bytes: no envelope around them.
    expect(textFrame.text).toBe('{"headline":"raw"}');

    const bytes = Buffer.from([0, 1, 2, 250]);
    await expectApi(node, 200, 'POST', `${V1}/topics/news:publish`, { data: bytes.toString('base64'), type: 'BINARY' });
    const binaryFrame = await client.next();
    expect(binaryFrame.binary).toBe(true);
    expect(Buffer.compare(binaryFrame.data, bytes)).toBe(0);

    await expectApi(node, 200, 'POST', `${V1}/connections/${id}:unsubscribe`, { topic: 'news' });
    expect(await expectApi(node, 200, 'POST', `${V1}/topics/news:publish`, text('gone'))).toMatchObject({ delivered: 0 });
    expect(await client.silentFor(50)).toBe(true);
  });

  it('serves raw and realtime subscribers of one topic each in their own form', async () => {
    const { client: raw, id } = await connectRaw();
    const realtime = await connectRealtime(node, 'acme', 'alice');
    clients.push(realtime);
    await expectApi(node, 200, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'acme:mixed' });
    await realtime.request({ type: 'subscribe', data: { topic: 'mixed' } });
    expect(await expectApi(node, 200, 'POST', `${V1}/topics/acme:mixed:publish`, text('[1,2]'))).toMatchObject({ delivered: 2 });
    expect((await raw.next()).text).toBe('[1,2]');
    expect(await realtime.nextEnvelope()).toMatchObject({ type: 'publication', data: { topic: 'acme:mixed', payload: [1, 2] } });
  });

  it('still sends the raw path its usual integration answers while subscribed', async () => {
    const { client, id } = await connectRaw();
    await expectApi(node, 200, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'news.sport' });
    client.ws.send('hello');
    expect((await client.next()).text).toBe('ok');
    await expectApi(node, 200, 'POST', `${V1}/topics/news.sport:publish`, text('goal'));
    expect((await client.next()).text).toBe('goal');
  });

  it('writes the frames of one turn to each subscriber in its own order, shared runs and a private send interleaved', async () => {
    const subscribers = await Promise.all([connectRaw(), connectRaw(), connectRaw(), connectRaw()]);
    for (const { id } of subscribers) await expectApi(node, 200, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'news.turn' });
    const loner = await connectRaw();
    const hub = node.node.hub;
    const payload = (s: string): { data: Buffer; binary: boolean } => ({ data: Buffer.from(s), binary: false });
    // One turn: every subscriber queues p1 p2 p3, the third also a private frame, and a socket
    // that subscribed to nothing queues three frames of its own. Sockets that queued the same
    // frames may share one joined buffer; the third and the loner may not.
    const calls = [hub.publish('news.turn', payload('p1')), hub.send(loner.id, payload('x1')), hub.publish('news.turn', payload('p2'))];
    calls.push(hub.send(subscribers[2]!.id, payload('private')), hub.send(loner.id, payload('x2')));
    calls.push(hub.publish('news.turn', payload('p3')), hub.send(loner.id, payload('x3')));
    await Promise.all(calls);
    const frames = async (client: TestClient, count: number): Promise<string[]> => {
      const got: string[] = [];
      for (let n = 0; n < count; n++) got.push((await client.next()).text);
      expect(await client.silentFor(30)).toBe(true);
      return got;
    };
    for (const [i, { client }] of subscribers.entries()) {
      const got = await frames(client, i === 2 ? 4 : 3);
      if (i === 2) {
        expect(got).toContain('private');
        got.splice(got.indexOf('private'), 1);
      }
      expect(got).toEqual(['p1', 'p2', 'p3']);
    }
    expect(await frames(loner.client, 3)).toEqual(['x1', 'x2', 'x3']);
  });

  it('forgets the subscriptions of a raw connection that disconnects', async () => {
    const { client, id } = await connectRaw();
    await expectApi(node, 200, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'news.gone' });
    await client.close();
    await eventually(
      () => expectApi(node, 200, 'GET', `${V1}/connections?topic=news.gone`),
      (body) => (body.connections as unknown[]).length === 0,
    );
    expect(await expectApi(node, 200, 'POST', `${V1}/topics/news.gone:publish`, text('x'))).toMatchObject({ delivered: 0 });
    await expectApi(node, 404, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'news.gone' });
  });
});
