import { afterEach, describe, expect, it } from 'vitest';
import { V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, text, topic, type Envelope, type RealtimeClient } from './support.js';

interface Recovered {
  topic: string;
  offset: number;
  epoch: string;
  recovered: boolean;
  publications: { offset: number; payload: unknown; encoding?: string }[];
}

describe('recovery on resubscribe', () => {
  const clients: RealtimeClient[] = [];
  const connect = async (userId = 'alice'): Promise<RealtimeClient> => {
    const client = await connectRealtime(node, 'acme', userId);
    clients.push(client);
    return client;
  };
  const publish = (name: string, body: string) => expectApi(node, 200, 'POST', `${V1}/topics/acme:${name}:publish`, text(body));

  const node = forSuite(() => startRealtimeNode({ topics: [topic('acme:small.*', { historySize: 3 }), topic('acme:*', { historySize: 50 })] }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('after a disconnect: every missed publication once, in order, then live ones without a gap', async () => {
    const first = await connect();
    const subscribed = await first.request({ type: 'subscribe', data: { topic: 'feed' } });
    const epoch = subscribed.data.epoch as string;
    for (let i = 1; i <= 3; i++) await publish('feed', JSON.stringify({ n: i }));
    const seen = await first.drain();
    expect(seen.map((e) => e.data.offset)).toEqual([1, 2, 3]);
    const last = seen[seen.length - 1]!.data.offset as number;
    await first.close();

    // Published while nobody listens.
    for (let i = 4; i <= 8; i++) await publish('feed', JSON.stringify({ n: i }));

    const second = await connect();
    const reply = await second.request({ type: 'subscribe', requestId: 'resub', data: { topic: 'feed', since: { offset: last, epoch } } });
    expect(reply).toMatchObject({ type: 'subscribed', requestId: 'resub' });
    const data = reply.data as unknown as Recovered;
    expect(data).toMatchObject({ topic: 'acme:feed', recovered: true, offset: 8, epoch });
    expect(data.publications).toEqual([4, 5, 6, 7, 8].map((n) => ({ offset: n, payload: { n } })));

    for (let i = 9; i <= 10; i++) await publish('feed', JSON.stringify({ n: i }));
    const live = await second.drain();
    expect(live.map((e) => [e.type, e.data.offset, e.data.payload])).toEqual([
      ['publication', 9, { n: 9 }],
      ['publication', 10, { n: 10 }],
    ]);
    // Offsets seen over both connections: each one exactly once, no gap.
    const all = [...seen.map((e) => e.data.offset), ...data.publications.map((p) => p.offset), ...live.map((e) => e.data.offset)];
    expect(all).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('loses nothing and repeats nothing while publications keep coming during the reconnect', async () => {
    const TOTAL = 40;
    const first = await connect();
    const { data } = await first.request({ type: 'subscribe', data: { topic: 'busy' } });
    let published = 0;
    const publisher = (async () => {
      while (published < TOTAL) {
        await publish('busy', JSON.stringify({ n: ++published }));
      }
    })();
    const seenLive: number[] = [];
    while (seenLive.length < 10) seenLive.push((await first.nextEnvelope()).data.offset as number);
    await first.close();
    const second = await connect();
    const reply = await second.request({ type: 'subscribe', data: { topic: 'busy', since: { offset: seenLive[seenLive.length - 1], epoch: data.epoch } } });
    expect(reply).toMatchObject({ type: 'subscribed', data: { recovered: true } });
    const recovered = (reply.data as unknown as Recovered).publications.map((p) => p.offset);
    const after: number[] = [];
    let last = recovered[recovered.length - 1] ?? seenLive[seenLive.length - 1]!;
    while (last < TOTAL) {
      const envelope = await second.nextEnvelope();
      expect(envelope.type).toBe('publication');
      last = envelope.data.offset as number;
      after.push(last);
    }
    await publisher;
    expect([...seenLive, ...recovered, ...after]).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  });

  it('recovers binary and text payloads as the live envelope carries them', async () => {
    const client = await connect();
    const { data } = await client.request({ type: 'subscribe', data: { topic: 'mixed' } });
    await client.close();
    await expectApi(node, 200, 'POST', `${V1}/topics/acme:mixed:publish`, { data: Buffer.from([9, 8]).toString('base64'), type: 'BINARY' });
    await publish('mixed', 'plain words');
    const again = await connect();
    const reply = await again.request({ type: 'subscribe', data: { topic: 'mixed', since: { offset: data.offset, epoch: data.epoch } } });
    expect((reply.data as unknown as Recovered).publications).toEqual([
      { offset: 1, payload: Buffer.from([9, 8]).toString('base64'), encoding: 'base64' },
      { offset: 2, payload: 'plain words' },
    ]);
  });

  it('says recovered false when history no longer covers the position, and still delivers live ones', async () => {
    const client = await connect();
    const { data } = await client.request({ type: 'subscribe', data: { topic: 'small.feed' } });
    await publish('small.feed', '1');
    const seen = await client.drain();
    await client.close();
    // historySize 3: five more publications push offset 2 out of history.
    for (let i = 2; i <= 6; i++) await publish('small.feed', String(i));

    const again = await connect();
    const reply = await again.request({ type: 'subscribe', data: { topic: 'small.feed', since: { offset: seen[0]!.data.offset, epoch: data.epoch } } });
    const recovered = reply.data as unknown as Recovered;
    expect(recovered.recovered).toBe(false);
    expect(recovered.offset).toBe(6);
    // No partial tail: a client told to reload must not apply a history with a gap first.
    expect(recovered.publications).toEqual([]);
    await publish('small.feed', '7');
    expect((await again.drain()).map((e) => e.data.offset)).toEqual([7]);
  });

  it('says recovered false for another epoch and for an offset beyond the stream', async () => {
    const client = await connect();
    await client.request({ type: 'subscribe', data: { topic: 'epochs' } });
    await publish('epochs', '1');
    await client.drain();
    const stale = await client.request({ type: 'subscribe', data: { topic: 'epochs', since: { offset: 0, epoch: 'not-this-one' } } });
    expect(stale.data).toMatchObject({ recovered: false, publications: [] });
    const current = stale.data.epoch as string;
    const ahead = await client.request({ type: 'subscribe', data: { topic: 'epochs', since: { offset: 99, epoch: current } } });
    expect(ahead.data).toMatchObject({ recovered: false });
    const upToDate = await client.request({ type: 'subscribe', data: { topic: 'epochs', since: { offset: 1, epoch: current } } });
    expect(upToDate.data).toMatchObject({ recovered: true, publications: [], offset: 1 });
    // Resubscribing on a live connection keeps one subscription: a publication arrives once.
    await publish('epochs', '2');
    expect((await client.drain()).map((e: Envelope) => e.data.offset)).toEqual([2]);
  });

  it('a position past the stream (an old epoch\'s, or a bogus one) is not taken as delivered: live publications still arrive', async () => {
    const client = await connect();
    const { data } = await client.request({ type: 'subscribe', data: { topic: 'reset' } });
    await publish('reset', '1');
    await client.drain();
    // A client back from before a history reset: its offset is far ahead of this epoch's stream.
    for (const since of [{ offset: 500, epoch: 'an-epoch-gone' }, { offset: 500, epoch: data.epoch as string }]) {
      const reply = await client.request({ type: 'subscribe', data: { topic: 'reset', since } });
      expect(reply.data).toMatchObject({ recovered: false, publications: [], offset: 1, epoch: data.epoch });
    }
    await publish('reset', '2');
    await publish('reset', '3');
    expect((await client.drain()).map((e: Envelope) => e.data.offset)).toEqual([2, 3]);
  });

  it('recovers nothing twice when a client resubscribes from an offset it already had', async () => {
    const client = await connect();
    const { data } = await client.request({ type: 'subscribe', data: { topic: 'twice' } });
    for (let i = 1; i <= 4; i++) await publish('twice', String(i));
    const live = await client.drain();
    await client.request({ type: 'unsubscribe', data: { topic: 'twice' } });
    await publish('twice', '5');
    const reply = await client.request({ type: 'subscribe', data: { topic: 'twice', since: { offset: live[live.length - 1]!.data.offset, epoch: data.epoch } } });
    expect(reply.data).toMatchObject({ recovered: true, publications: [{ offset: 5, payload: 5 }] });
    expect(await client.drain()).toEqual([]);
  });
});
