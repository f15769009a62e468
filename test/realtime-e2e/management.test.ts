import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, eventually, type TestClient, type TestNode, V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { GATEWAY_ID, connectRealtime, expectApi, startRealtimeNode, text, topic, type RealtimeClient } from './support.js';

const KEYS = {
  admin: { key: 'admin-key', scopes: ['read', 'write', 'broadcast'] as const },
  reader: { key: 'reader-key', scopes: ['read'] as const },
  writer: { key: 'writer-key', scopes: ['write'] as const },
  broadcaster: { key: 'broadcaster-key', scopes: ['broadcast'] as const },
  acme: { key: 'acme-key', scopes: ['read', 'write', 'broadcast'] as const, tenantId: 'acme' },
};
const ADMIN = KEYS.admin.key;

interface ListBody {
  connections: Record<string, unknown>[];
  nextPageToken: string;
}

describe('management API extensions', () => {
  const opened: TestClient[] = [];
  let acmeAlice: RealtimeClient;
  let acmeBob: RealtimeClient;
  let globexAlice: RealtimeClient;
  let raw: TestClient;
  let rawId: string;

  const node = forSuite(() => startRealtimeNode({
    management: { apiKeys: Object.values(KEYS).map((k) => ({ ...k, scopes: [...k.scopes] })) },
    topics: [topic('*:hist.*', { historySize: 3 }), topic('*:room.*', { historySize: 10, presence: true }), topic('*:nopresence', { presence: false })],
  }));
  beforeAll(async () => {
    acmeAlice = await connectRealtime(node, 'acme', 'alice');
    acmeBob = await connectRealtime(node, 'acme', 'bob');
    globexAlice = await connectRealtime(node, 'globex', 'alice');
    raw = await connectClient(node.wsUrl('/raw'));
    rawId = raw.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
    opened.push(acmeAlice, acmeBob, globexAlice, raw);
  });
  afterEach(async () => {
    // Every test leaves the long-lived clients with nothing unread and no subscriptions.
    for (const client of [acmeAlice, acmeBob, globexAlice]) {
      const view = await expectApi(node, 200, 'GET', `${V1}/connections/${client.connectionId}?view=FULL`, undefined, ADMIN);
      for (const subscription of view.subscriptions as string[]) {
        await expectApi(node, 200, 'POST', `${V1}/connections/${client.connectionId}:unsubscribe`, { topic: subscription }, ADMIN);
      }
      await client.drain();
    }
  });
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
  });

  const call = (method: string, path: string, body?: unknown, key: string = ADMIN) =>
    node.api(method, path, body, { authorization: `Bearer ${key}` });

  async function expectStatus(status: number, code: number, method: string, path: string, body?: unknown, key: string = ADMIN): Promise<Record<string, unknown>> {
    const response = await call(method, path, body, key);
    expect(response.status, `${method} ${path} ${response.text}`).toBe(status);
    expect(response.json).toMatchObject({ code, message: expect.any(String), details: expect.any(Array) });
    return response.json as Record<string, unknown>;
  }

  describe('authentication and scopes', () => {
    it('answers 401 code 16 without a key or with an unknown one', async () => {
      const none = await node.api('GET', `${V1}/connections`);
      expect(none.status).toBe(401);
      expect(none.json).toMatchObject({ code: 16 });
      await expectStatus(401, 16, 'GET', `${V1}/connections`, undefined, 'wrong-key');
    });

    it('needs read for list, get, presence and history', async () => {
      for (const path of [`${V1}/connections`, `${V1}/connections/${acmeAlice.connectionId}`, `${V1}/topics/acme:room.x/presence`, `${V1}/topics/acme:room.x/history`]) {
        await expectStatus(403, 7, 'GET', path, undefined, KEYS.writer.key);
        await expectStatus(403, 7, 'GET', path, undefined, KEYS.broadcaster.key);
        expect((await call('GET', path, undefined, KEYS.reader.key)).status).toBe(200);
      }
    });

    it('needs write for subscribe and unsubscribe', async () => {
      for (const verb of ['subscribe', 'unsubscribe']) {
        const path = `${V1}/connections/${acmeAlice.connectionId}:${verb}`;
        await expectStatus(403, 7, 'POST', path, { topic: 'acme:room.a' }, KEYS.reader.key);
        await expectStatus(403, 7, 'POST', path, { topic: 'acme:room.a' }, KEYS.broadcaster.key);
        expect((await call('POST', path, { topic: 'acme:room.a' }, KEYS.writer.key)).status).toBe(200);
      }
    });

    it('needs broadcast for publish, user send and tenant broadcast', async () => {
      const calls: [string, unknown][] = [
        [`${V1}/topics/acme:room.a:publish`, text('"scoped"')],
        [`${V1}/users/alice:send`, text('"scoped"')],
        [`${V1}/tenants/acme:broadcast`, text('"scoped"')],
      ];
      for (const [path, body] of calls) {
        await expectStatus(403, 7, 'POST', path, body, KEYS.reader.key);
        await expectStatus(403, 7, 'POST', path, body, KEYS.writer.key);
        expect((await call('POST', path, body, KEYS.broadcaster.key)).status).toBe(200);
      }
    });
  });

  describe('GET /connections', () => {
    it('lists every connection and filters by gatewayId, tenantId, userId and topic', async () => {
      const ids = (body: ListBody): string[] => body.connections.map((c) => c.id as string).sort();
      const all = (await expectApi(node, 200, 'GET', `${V1}/connections`, undefined, ADMIN)) as unknown as ListBody;
      expect(ids(all)).toEqual([acmeAlice.connectionId, acmeBob.connectionId, globexAlice.connectionId, rawId].sort());
      expect(all.nextPageToken).toBe('');
      // The seed's Connection JSON exactly, unless view=FULL.
      expect(Object.keys(all.connections[0]!).sort()).toEqual(['connectedAt', 'gatewayId', 'id', 'identity', 'lastActiveAt']);

      const list = async (query: string): Promise<string[]> => ids((await expectApi(node, 200, 'GET', `${V1}/connections?${query}`, undefined, ADMIN)) as unknown as ListBody);
      expect(await list(`gatewayId=${GATEWAY_ID}`)).toHaveLength(4);
      expect(await list('gatewayId=other')).toEqual([]);
      expect(await list('tenantId=acme')).toEqual([acmeAlice.connectionId, acmeBob.connectionId].sort());
      expect(await list('userId=alice')).toEqual([acmeAlice.connectionId, globexAlice.connectionId].sort());
      expect(await list('tenantId=acme&userId=alice')).toEqual([acmeAlice.connectionId]);
      expect(await list('tenantId=nobody')).toEqual([]);

      await acmeBob.request({ type: 'subscribe', data: { topic: 'room.list' } });
      await expectApi(node, 200, 'POST', `${V1}/connections/${rawId}:subscribe`, { topic: 'acme:room.list' }, ADMIN);
      expect(await list('topic=acme:room.list')).toEqual([acmeBob.connectionId, rawId].sort());
      expect(await list('topic=acme:room.list&tenantId=acme')).toEqual([acmeBob.connectionId]);
      expect(await list('topic=acme:room.none')).toEqual([]);
      await expectApi(node, 200, 'POST', `${V1}/connections/${rawId}:unsubscribe`, { topic: 'acme:room.list' }, ADMIN);

      const full = (await expectApi(node, 200, 'GET', `${V1}/connections?userId=bob&view=FULL`, undefined, ADMIN)) as unknown as ListBody;
      expect(full.connections[0]).toMatchObject({ tenantId: 'acme', userId: 'bob', subscriptions: ['acme:room.list'], isAlive: true });
    });

    it('refuses bad paging parameters with 400', async () => {
      for (const query of ['pageSize=0', 'pageSize=1001', 'pageSize=abc', 'pageSize=-1', 'pageSize=1.5', 'pageToken=garbage', `pageToken=${Buffer.from('seq:abc').toString('base64url')}`, 'view=SOME']) {
        await expectStatus(400, 3, 'GET', `${V1}/connections?${query}`);
      }
    });

    it('pages through 25 connections 10 at a time, each exactly once, in connection order', async () => {
      const extra: TestClient[] = [];
      try {
        for (let i = 0; i < 25; i++) extra.push(await connectRealtime(node, 'paging', `u${i}`));
        const expected = extra.map((c) => (c as RealtimeClient).connectionId);
        for (const query of ['tenantId=paging', '']) {
          const seen: string[] = [];
          const sizes: number[] = [];
          let token = '';
          for (let page = 0; page < 10; page++) {
            const body = (await expectApi(node, 200, 'GET', `${V1}/connections?pageSize=10&${query}${token ? `&pageToken=${token}` : ''}`, undefined, ADMIN)) as unknown as ListBody;
            sizes.push(body.connections.length);
            seen.push(...body.connections.map((c) => c.id as string));
            token = body.nextPageToken;
            if (token === '') break;
          }
          if (query === '') {
            expect(sizes).toEqual([10, 10, 9]);
            expect(seen.slice(4)).toEqual(expected);
          } else {
            expect(sizes).toEqual([10, 10, 5]);
            expect(seen).toEqual(expected);
          }
          expect(new Set(seen).size).toBe(seen.length);
        }
        // Paging a topic's subscribers, whose index is in subscription order, still goes by connection order.
        for (const client of [...extra].reverse()) await (client as RealtimeClient).request({ type: 'subscribe', data: { topic: 'room.paged' } });
        const first = (await expectApi(node, 200, 'GET', `${V1}/connections?topic=paging:room.paged&pageSize=10`, undefined, ADMIN)) as unknown as ListBody;
        const second = (await expectApi(node, 200, 'GET', `${V1}/connections?topic=paging:room.paged&pageSize=20&pageToken=${first.nextPageToken}`, undefined, ADMIN)) as unknown as ListBody;
        expect([...first.connections, ...second.connections].map((c) => c.id)).toEqual(expected);
        expect(second.nextPageToken).toBe('');
      } finally {
        await Promise.all(extra.map((c) => c.close()));
      }
    });
  });

  describe('GET /connections/{id}', () => {
    it('adds tenantId, userId, subscriptions and isAlive for view=FULL, and keeps the seed shape otherwise', async () => {
      await acmeAlice.request({ type: 'subscribe', data: { topic: 'room.view' } });
      const basic = await expectApi(node, 200, 'GET', `${V1}/connections/${acmeAlice.connectionId}`, undefined, ADMIN);
      expect(Object.keys(basic).sort()).toEqual(['connectedAt', 'gatewayId', 'id', 'identity', 'lastActiveAt']);
      expect(basic).toMatchObject({ id: acmeAlice.connectionId, gatewayId: GATEWAY_ID, identity: { sourceIp: '127.0.0.1' } });
      const full = await expectApi(node, 200, 'GET', `${V1}/connections/${acmeAlice.connectionId}?view=FULL`, undefined, ADMIN);
      expect(full).toMatchObject({ ...basic, tenantId: 'acme', userId: 'alice', subscriptions: ['acme:room.view'], isAlive: true, lastActiveAt: expect.any(String) });
      // The seed's ConnectionInfo: lastPing is set at connect, before any heartbeat.
      expect(full.lastPing).toBe(full.connectedAt);
      const rawView = await expectApi(node, 200, 'GET', `${V1}/connections/${rawId}?view=FULL`, undefined, ADMIN);
      expect(rawView).toMatchObject({ subscriptions: [], isAlive: true });
      expect(rawView).not.toHaveProperty('tenantId');
      await expectStatus(404, 5, 'GET', `${V1}/connections/node-x.AAAAAAAAAAAAAAAAAAAAAA?view=FULL`);
    });
  });

  describe('POST /connections/{id}:subscribe and :unsubscribe', () => {
    it('subscribes a realtime connection server-side and answers with the stream position', async () => {
      const position = await expectApi(node, 200, 'POST', `${V1}/connections/${acmeAlice.connectionId}:subscribe`, { topic: 'acme:room.server' }, ADMIN);
      expect(position).toEqual({ topic: 'acme:room.server', offset: 0, epoch: expect.any(String) });
      const published = await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.server:publish`, text('"hi"'), ADMIN);
      expect(published).toEqual({ offset: 1, epoch: position.epoch, delivered: 1 });
      expect(await acmeAlice.nextEnvelope()).toMatchObject({ type: 'publication', data: { topic: 'acme:room.server', payload: 'hi', offset: 1 } });
      expect(await expectApi(node, 200, 'POST', `${V1}/connections/${acmeAlice.connectionId}:unsubscribe`, { topic: 'acme:room.server' }, ADMIN)).toEqual({});
      expect(await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.server:publish`, text('"again"'), ADMIN)).toMatchObject({ delivered: 0 });
      // Unsubscribing from a topic it is not subscribed to is not an error.
      expect(await expectApi(node, 200, 'POST', `${V1}/connections/${acmeAlice.connectionId}:unsubscribe`, { topic: 'acme:room.server' }, ADMIN)).toEqual({});
    });

    it('answers 404 for unknown connections and verbs, 400 for bad bodies', async () => {
      const path = `${V1}/connections/${acmeAlice.connectionId}`;
      await expectStatus(404, 5, 'POST', `${V1}/connections/node-x.AAAAAAAAAAAAAAAAAAAAAA:subscribe`, { topic: 'acme:room.a' });
      await expectStatus(404, 5, 'POST', `${path}:follow`, { topic: 'acme:room.a' });
      await expectStatus(400, 3, 'POST', `${path}:subscribe`, {});
      await expectStatus(400, 3, 'POST', `${path}:subscribe`, { topic: 'has space' });
      await expectStatus(400, 3, 'POST', `${path}:subscribe`, { topic: 42 });
      await expectStatus(400, 3, 'POST', `${path}:subscribe`, { topic: 'acme:room.a', extra: 1 });
      await expectStatus(400, 3, 'POST', `${path}:subscribe`, '[1]');
      await expectStatus(400, 3, 'POST', `${path}:subscribe`, '{bad json');
    });

    it("refuses to subscribe a tenant's connection to another tenant's topic, so nothing crosses", async () => {
      await expectStatus(403, 7, 'POST', `${V1}/connections/${acmeAlice.connectionId}:subscribe`, { topic: 'globex:room.a' });
      await expectStatus(403, 7, 'POST', `${V1}/connections/${acmeAlice.connectionId}:subscribe`, { topic: 'untenanted' });
      expect(await expectApi(node, 200, 'POST', `${V1}/topics/globex:room.a:publish`, text('secret'), ADMIN)).toMatchObject({ delivered: 0 });
      expect(await acmeAlice.drain()).toEqual([]);
    });
  });

  describe('POST /topics/{topic}:publish', () => {
    it('answers {offset, epoch, delivered}, offsets counting up per topic', async () => {
      await acmeAlice.request({ type: 'subscribe', data: { topic: 'room.pub' } });
      await acmeBob.request({ type: 'subscribe', data: { topic: 'room.pub' } });
      const first = await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.pub:publish`, text('1'), ADMIN);
      const second = await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.pub:publish`, { data: Buffer.from('2').toString('base64'), type: 'BINARY' }, ADMIN);
      expect(first).toEqual({ offset: 1, epoch: expect.any(String), delivered: 2 });
      expect(second).toEqual({ offset: 2, epoch: first.epoch, delivered: 2 });
      for (const client of [acmeAlice, acmeBob]) {
        expect((await client.drain()).map((e) => [e.type, e.data.offset])).toEqual([
          ['publication', 1],
          ['publication', 2],
        ]);
      }
      expect(await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.empty:publish`, text('x'), ADMIN)).toMatchObject({ offset: 1, delivered: 0 });
    });

    it('answers 400 for bad data, type, idempotencyKey or fields, 404 for another verb', async () => {
      const path = `${V1}/topics/acme:room.bad:publish`;
      await expectStatus(400, 3, 'POST', path, { data: '***', type: 'TEXT' });
      await expectStatus(400, 3, 'POST', path, { data: 42, type: 'TEXT' });
      await expectStatus(400, 3, 'POST', path, { data: 'eA==', type: 'JSON' });
      await expectStatus(400, 3, 'POST', path, { data: Buffer.from([0xff, 0xfe]).toString('base64'), type: 'TEXT' });
      await expectStatus(400, 3, 'POST', path, { ...text('x'), idempotencyKey: '' });
      await expectStatus(400, 3, 'POST', path, { ...text('x'), idempotencyKey: 7 });
      await expectStatus(400, 3, 'POST', path, { ...text('x'), idempotencyKey: 'k'.repeat(257) });
      await expectStatus(400, 3, 'POST', path, { ...text('x'), topic: 'other' });
      await expectStatus(400, 3, 'POST', path, { data: Buffer.alloc(131_073).toString('base64'), type: 'BINARY' });
      await expectStatus(404, 5, 'POST', `${V1}/topics/acme:room.bad:shout`, text('x'));
      await expectStatus(404, 5, 'POST', `${V1}/topics/acme:room.bad`, text('x'));
      // Nothing was published by any of them.
      const history = await expectApi(node, 200, 'GET', `${V1}/topics/acme:room.bad/history`, undefined, ADMIN);
      expect(history).toMatchObject({ offset: 0, publications: [] });
    });

    it('publishes once per idempotencyKey and answers a repeat with the first position and delivered 0', async () => {
      await acmeAlice.request({ type: 'subscribe', data: { topic: 'room.idem' } });
      const path = `${V1}/topics/acme:room.idem:publish`;
      const first = await expectApi(node, 200, 'POST', path, { ...text('"once"'), idempotencyKey: 'key-1' }, ADMIN);
      const repeat = await expectApi(node, 200, 'POST', path, { ...text('"twice?"'), idempotencyKey: 'key-1' }, ADMIN);
      expect(first.delivered).toBe(1);
      expect(repeat).toEqual({ ...first, delivered: 0 });
      const other = await expectApi(node, 200, 'POST', path, { ...text('"other"'), idempotencyKey: 'key-2' }, ADMIN);
      expect(other).toMatchObject({ offset: (first.offset as number) + 1 });
      // The same key on another topic is another publication.
      expect(await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.idem2:publish`, { ...text('"x"'), idempotencyKey: 'key-1' }, ADMIN)).toMatchObject({ offset: 1 });
      expect((await acmeAlice.drain()).map((e) => e.data.payload)).toEqual(['once', 'other']);
      const history = await expectApi(node, 200, 'GET', `${V1}/topics/acme:room.idem/history`, undefined, ADMIN);
      expect((history.publications as unknown[]).length).toBe(2);
    });
  });

  describe('POST /users/{userId}:send and /tenants/{tenantId}:broadcast', () => {
    it('sends to every connection of a user as a raw frame, within one tenant when asked', async () => {
      const everywhere = await expectApi(node, 200, 'POST', `${V1}/users/alice:send`, text('{"to":"alice"}'), ADMIN);
      expect(everywhere).toEqual({ delivered: 2 });
      expect((await acmeAlice.nextEnvelope())).toEqual({ to: 'alice' });
      expect((await globexAlice.nextEnvelope())).toEqual({ to: 'alice' });
      expect(await expectApi(node, 200, 'POST', `${V1}/users/alice:send`, { ...text('{"to":"acme alice"}'), tenantId: 'acme' }, ADMIN)).toEqual({ delivered: 1 });
      expect(await acmeAlice.nextEnvelope()).toEqual({ to: 'acme alice' });
      expect(await globexAlice.drain()).toEqual([]);
      expect(await expectApi(node, 200, 'POST', `${V1}/users/nobody:send`, text('x'), ADMIN)).toEqual({ delivered: 0 });
      await expectStatus(400, 3, 'POST', `${V1}/users/alice:send`, { ...text('x'), tenantId: 5 });
      await expectStatus(404, 5, 'POST', `${V1}/users/alice:poke`, text('x'));
      const binary = await expectApi(node, 200, 'POST', `${V1}/users/bob:send`, { data: Buffer.from([1, 2]).toString('base64'), type: 'BINARY' }, ADMIN);
      expect(binary).toEqual({ delivered: 1 });
      const frame = await acmeBob.next();
      expect(frame.binary).toBe(true);
      expect([...frame.data]).toEqual([1, 2]);
    });

    it("broadcasts to a tenant's connections only", async () => {
      expect(await expectApi(node, 200, 'POST', `${V1}/tenants/acme:broadcast`, text('{"all":"acme"}'), ADMIN)).toEqual({ delivered: 2 });
      expect(await acmeAlice.nextEnvelope()).toEqual({ all: 'acme' });
      expect(await acmeBob.nextEnvelope()).toEqual({ all: 'acme' });
      expect(await globexAlice.drain()).toEqual([]);
      expect(await raw.silentFor(50)).toBe(true);
      expect(await expectApi(node, 200, 'POST', `${V1}/tenants/nobody:broadcast`, text('x'), ADMIN)).toEqual({ delivered: 0 });
      await expectStatus(400, 3, 'POST', `${V1}/tenants/acme:broadcast`, { ...text('x'), tenantId: 'acme' });
      await expectStatus(404, 5, 'POST', `${V1}/tenants/acme:shout`, text('x'));
    });
  });

  describe('GET /topics/{topic}/presence', () => {
    it('lists subscribed connections and distinct users', async () => {
      const extraAlice = await connectRealtime(node, 'acme', 'alice');
      try {
        for (const client of [acmeAlice, acmeBob, extraAlice]) await client.request({ type: 'subscribe', data: { topic: 'room.presence' } });
        const presence = await expectApi(node, 200, 'GET', `${V1}/topics/acme:room.presence/presence`, undefined, ADMIN);
        expect((presence.users as string[]).sort()).toEqual(['alice', 'bob']);
        expect(presence.connections).toHaveLength(3);
        expect(presence.connections).toContainEqual({ connectionId: acmeBob.connectionId, tenantId: 'acme', userId: 'bob' });
        await acmeBob.request({ type: 'unsubscribe', data: { topic: 'room.presence' } });
        await extraAlice.close();
        await eventually(
          () => expectApi(node, 200, 'GET', `${V1}/topics/acme:room.presence/presence`, undefined, ADMIN),
          (body) => (body.connections as unknown[]).length === 1,
        );
        expect(await expectApi(node, 200, 'GET', `${V1}/topics/acme:room.presence/presence`, undefined, ADMIN)).toEqual({
          connections: [{ connectionId: acmeAlice.connectionId, tenantId: 'acme', userId: 'alice' }],
          users: ['alice'],
        });
        expect(await expectApi(node, 200, 'GET', `${V1}/topics/acme:room.nobody/presence`, undefined, ADMIN)).toEqual({ connections: [], users: [] });
      } finally {
        await extraAlice.close();
      }
    });

    it('answers 400 FAILED_PRECONDITION for a topic whose settings keep no presence', async () => {
      await expectStatus(400, 9, 'GET', `${V1}/topics/acme:nopresence/presence`);
      await expectStatus(400, 9, 'GET', `${V1}/topics/acme:unconfigured/presence`);
      await expectStatus(400, 3, 'GET', `${V1}/topics/${encodeURIComponent('a b')}/presence`);
    });
  });

  describe('GET /topics/{topic}/history', () => {
    it('returns retained publications after sinceOffset, at most limit, with complete and the position', async () => {
      const path = `${V1}/topics/acme:hist.a`;
      const epoch = (await expectApi(node, 200, 'POST', `${path}:publish`, text('one'), ADMIN)).epoch;
      await expectApi(node, 200, 'POST', `${path}:publish`, { data: Buffer.from([7]).toString('base64'), type: 'BINARY' }, ADMIN);
      await expectApi(node, 200, 'POST', `${path}:publish`, text('three'), ADMIN);
      const all = await expectApi(node, 200, 'GET', `${path}/history`, undefined, ADMIN);
      expect(all).toMatchObject({ offset: 3, epoch, complete: true });
      expect(all.publications).toEqual([
        { offset: 1, data: Buffer.from('one').toString('base64'), type: 'TEXT', publishedAt: expect.any(String) },
        { offset: 2, data: Buffer.from([7]).toString('base64'), type: 'BINARY', publishedAt: expect.any(String) },
        { offset: 3, data: Buffer.from('three').toString('base64'), type: 'TEXT', publishedAt: expect.any(String) },
      ]);
      const since = await expectApi(node, 200, 'GET', `${path}/history?sinceOffset=1&epoch=${epoch as string}&limit=1`, undefined, ADMIN);
      expect(since).toMatchObject({ complete: true, publications: [{ offset: 2 }] });
      // historySize 3: a fourth publication evicts the first, so offset 0 is no longer covered.
      await expectApi(node, 200, 'POST', `${path}:publish`, text('four'), ADMIN);
      const evicted = await expectApi(node, 200, 'GET', `${path}/history?sinceOffset=0`, undefined, ADMIN);
      expect(evicted).toMatchObject({ offset: 4, complete: false });
      expect((evicted.publications as { offset: number }[]).map((p) => p.offset)).toEqual([2, 3, 4]);
      const otherEpoch = await expectApi(node, 200, 'GET', `${path}/history?sinceOffset=2&epoch=stale`, undefined, ADMIN);
      expect(otherEpoch).toMatchObject({ offset: 4, epoch, complete: false, publications: [] });
    });

    it('answers 400 for bad query parameters', async () => {
      for (const query of ['sinceOffset=-1', 'sinceOffset=x', 'limit=0', 'limit=10001', 'limit=1e3']) {
        await expectStatus(400, 3, 'GET', `${V1}/topics/acme:hist.a/history?${query}`);
      }
    });
  });

  describe('a tenant-bound key', () => {
    const ACME = KEYS.acme.key;

    it("sees another tenant's connections as not found", async () => {
      const id = globexAlice.connectionId;
      await expectStatus(404, 5, 'GET', `${V1}/connections/${id}`, undefined, ACME);
      await expectStatus(404, 5, 'POST', `${V1}/connections/${id}:send`, text('x'), ACME);
      await expectStatus(404, 5, 'POST', `${V1}/connections/${id}:subscribe`, { topic: 'acme:room.a' }, ACME);
      await expectStatus(404, 5, 'POST', `${V1}/connections/${id}:unsubscribe`, { topic: 'acme:room.a' }, ACME);
      await expectStatus(404, 5, 'DELETE', `${V1}/connections/${id}`, undefined, ACME);
      await expectStatus(404, 5, 'GET', `${V1}/connections/${rawId}`, undefined, ACME);
      expect(await globexAlice.drain()).toEqual([]);
      expect((await expectApi(node, 200, 'GET', `${V1}/connections/${acmeAlice.connectionId}`, undefined, ACME)).id).toBe(acmeAlice.connectionId);
    });

    it("lists only its tenant's connections and refuses another tenant's filter", async () => {
      const body = (await expectApi(node, 200, 'GET', `${V1}/connections`, undefined, ACME)) as unknown as ListBody;
      expect(body.connections.map((c) => c.id).sort()).toEqual([acmeAlice.connectionId, acmeBob.connectionId].sort());
      const alices = (await expectApi(node, 200, 'GET', `${V1}/connections?userId=alice`, undefined, ACME)) as unknown as ListBody;
      expect(alices.connections.map((c) => c.id)).toEqual([acmeAlice.connectionId]);
      await expectStatus(403, 7, 'GET', `${V1}/connections?tenantId=globex`, undefined, ACME);
    });

    it("refuses another tenant's topics with 403", async () => {
      await expectStatus(403, 7, 'POST', `${V1}/topics/globex:room.a:publish`, text('x'), ACME);
      await expectStatus(403, 7, 'POST', `${V1}/topics/untenanted:publish`, text('x'), ACME);
      await expectStatus(403, 7, 'GET', `${V1}/topics/globex:room.a/presence`, undefined, ACME);
      await expectStatus(403, 7, 'GET', `${V1}/topics/globex:hist.a/history`, undefined, ACME);
      await expectStatus(403, 7, 'POST', `${V1}/connections/${acmeAlice.connectionId}:subscribe`, { topic: 'globex:room.a' }, ACME);
      await expectStatus(403, 7, 'POST', `${V1}/tenants/globex:broadcast`, text('x'), ACME);
      await expectStatus(403, 7, 'POST', `${V1}/users/alice:send`, { ...text('x'), tenantId: 'globex' }, ACME);
      expect(await globexAlice.drain()).toEqual([]);
    });

    it('reaches its own tenant: user send stays inside it', async () => {
      expect(await expectApi(node, 200, 'POST', `${V1}/users/alice:send`, text('{"from":"acme key"}'), ACME)).toEqual({ delivered: 1 });
      expect(await acmeAlice.nextEnvelope()).toEqual({ from: 'acme key' });
      expect(await globexAlice.drain()).toEqual([]);
      await acmeBob.request({ type: 'subscribe', data: { topic: 'room.own' } });
      expect(await expectApi(node, 200, 'POST', `${V1}/topics/acme:room.own:publish`, text('1'), ACME)).toMatchObject({ delivered: 1 });
      expect(await expectApi(node, 200, 'GET', `${V1}/topics/acme:room.own/presence`, undefined, ACME)).toMatchObject({ users: ['bob'] });
    });
  });
});

describe('heartbeat state in view=FULL', () => {
  let node: TestNode | undefined;
  afterEach(async () => {
    await node?.close();
  });

  it('moves lastPing when the client answers a ping, and isAlive is true after the pong', async () => {
    node = await startRealtimeNode({ limits: { heartbeatSeconds: 0.1 } });
    const client = await connectRealtime(node, 'acme', 'alice');
    const view = await eventually(
      () => expectApi(node!, 200, 'GET', `${V1}/connections/${client.connectionId}?view=FULL`),
      (body) => typeof body.lastPing === 'string' && body.lastPing !== body.connectedAt && body.isAlive === true,
    );
    expect(Date.parse(view.lastPing as string)).toBeGreaterThan(Date.parse(view.connectedAt as string));
    await client.close();
  });
});
