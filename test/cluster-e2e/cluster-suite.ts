/**
 * Three real nodes on one private backplane server, clients on real sockets, calls on the real
 * management API: what any node must be able to do for a connection or topic on another.
 * Called once per backplane by redis.test.ts and nats.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { forSuite, useStarted } from '../support/scoped.js';
import {
  api,
  connectionPath,
  connectRealtimeAt,
  expectApi,
  nextPublication,
  startBackplaneServer,
  startClusterNode,
  subscribe,
  text,
  V1,
  type BackplaneKind,
  type RealtimeClient,
  type TestNode,
} from './support.js';

export function describeClusterCore(kind: BackplaneKind): void {
  describe(`three nodes on ${kind}`, () => {
    const server = forSuite(() => startBackplaneServer(kind));
    const [a, b, c] = ['node-a', 'node-b', 'node-c'].map((id) => forSuite(() => startClusterNode(server.url, id))) as [TestNode, TestNode, TestNode];
    let counter = 0;
    /** A tenant of its own per case, so no case sees another's connections or topics. */
    const tenant = (): string => `t${kind}${++counter}`;
    /** A client closed when the case ends. */
    const connect = (node: TestNode, tenantId: string, userId: string): Promise<RealtimeClient> => useStarted(connectRealtimeAt(node, tenantId, userId));

    it('routes get, send and disconnect from A to a client on C, answering exactly as C does', async () => {
      const acme = tenant();
      const alice = await connect(c, acme, 'alice');
      const id = alice.connectionId;
      expect(id.startsWith('node-c.')).toBe(true);
      for (const view of ['', '?view=FULL']) {
        const [fromA, fromC] = await Promise.all([api(a, 'GET', connectionPath(id) + view), api(c, 'GET', connectionPath(id) + view)]);
        expect(fromA.status).toBe(200);
        expect(fromA.json).toEqual(fromC.json);
      }
      expect(await expectApi(a, 200, 'GET', `${connectionPath(id)}?view=FULL`)).toMatchObject({ id, tenantId: acme, userId: 'alice', subscriptions: [] });

      expect(await expectApi(a, 200, 'POST', `${connectionPath(id)}:send`, text('hello from A'))).toEqual({});
      expect((await alice.next()).text).toBe('hello from A');
      await expectApi(b, 200, 'POST', `${connectionPath(id)}:send`, { data: Buffer.from([1, 2, 255]).toString('base64'), type: 'BINARY' });
      const binary = await alice.next();
      expect([binary.binary, [...binary.data]]).toEqual([true, [1, 2, 255]]);

      // Errors raised on C come back through A unchanged.
      for (const [method, path, body] of [
        ['POST', `${connectionPath(id)}:subscribe`, { topic: 'globex:news' }],
        ['GET', connectionPath('node-c.AAAAAAAAAAAAAAAAAAAAAA'), undefined],
        ['POST', `${connectionPath('node-c.AAAAAAAAAAAAAAAAAAAAAA')}:send`, text('x')],
        ['DELETE', connectionPath('node-c.AAAAAAAAAAAAAAAAAAAAAA'), undefined],
      ] as const) {
        const [fromA, fromC] = await Promise.all([api(a, method, path, body), api(c, method, path, body)]);
        expect([fromA.status, fromA.json], `${method} ${path}`).toEqual([fromC.status, fromC.json]);
        expect(fromA.status).toBeGreaterThanOrEqual(400);
      }
      expect((await api(a, 'GET', connectionPath('node-c.AAAAAAAAAAAAAAAAAAAAAA'))).json).toMatchObject({ code: 5 });
      // Ids of a node that is not in the cluster, and ids that name no node at all.
      for (const unknown of ['node-x.AAAAAAAAAAAAAAAAAAAAAA', 'not-an-id']) {
        const response = await api(a, 'GET', connectionPath(unknown));
        expect([response.status, (response.json as { code: number }).code], unknown).toEqual([404, 5]);
      }

      expect(await expectApi(a, 200, 'DELETE', connectionPath(id))).toEqual({});
      expect((await alice.closed).code).toBe(1000);
      for (const node of [a, b, c]) expect((await api(node, 'GET', connectionPath(id))).status).toBe(404);
    });

    it('publishes from B to realtime subscribers on A and C once each, and to a raw subscriber C was told to subscribe by A', async () => {
      const acme = tenant();
      const onA = await connect(a, acme, 'u1');
      const onC = await connect(c, acme, 'u2');
      await subscribe(onA, 'news');
      const position = await subscribe(onC, 'news');
      expect(position).toMatchObject({ topic: `${acme}:news`, offset: 0 });
      const served = await connect(c, acme, 'u3');
      expect(await expectApi(a, 200, 'POST', `${connectionPath(served.connectionId)}:subscribe`, { topic: `${acme}:news` })).toEqual({ topic: `${acme}:news`, offset: 0, epoch: position.epoch });

      const published = await expectApi(b, 200, 'POST', `${V1}/topics/${acme}:news:publish`, text('{"n":1}'));
      expect(published).toEqual({ offset: 1, epoch: position.epoch, delivered: 3 });
      for (const client of [onA, onC, served]) {
        const envelope = await nextPublication(client);
        expect(envelope.data).toMatchObject({ topic: `${acme}:news`, offset: 1, epoch: position.epoch, payload: { n: 1 } });
      }
      await expectApi(c, 200, 'POST', `${V1}/topics/${acme}:news:publish`, text('{"n":2}'));
      for (const client of [onA, onC, served]) expect((await client.drain()).map((e) => [e.type, e.data.offset])).toEqual([['publication', 2]]);
      // An idempotent publish retried on another node delivers nothing more.
      const first = await expectApi(a, 200, 'POST', `${V1}/topics/${acme}:news:publish`, { ...text('{"n":3}'), idempotencyKey: 'once' });
      expect(await expectApi(b, 200, 'POST', `${V1}/topics/${acme}:news:publish`, { ...text('{"n":3}'), idempotencyKey: 'once' })).toEqual({ ...first, delivered: 0 });
      for (const client of [onA, onC, served]) expect((await client.drain()).map((e) => e.data.offset)).toEqual([3]);
      expect(await expectApi(a, 200, 'GET', `${V1}/topics/${acme}:news/history`)).toMatchObject({ offset: 3, complete: true });
    });

    it('sends to a user and broadcasts to a tenant across every node', async () => {
      const acme = tenant();
      const other = tenant();
      const aliceA = await connect(a, acme, 'alice');
      const aliceC = await connect(c, acme, 'alice');
      const bobB = await connect(b, acme, 'bob');
      const aliceElsewhere = await connect(c, other, 'alice');
      expect(await expectApi(b, 200, 'POST', `${V1}/users/alice:send`, { ...text('for alice'), tenantId: acme })).toEqual({ delivered: 2 });
      for (const client of [aliceA, aliceC]) expect((await client.next()).text).toBe('for alice');
      expect(await expectApi(c, 200, 'POST', `${V1}/tenants/${acme}:broadcast`, text('all of acme'))).toEqual({ delivered: 3 });
      for (const client of [aliceA, aliceC, bobB]) expect((await client.next()).text).toBe('all of acme');
      expect(await expectApi(a, 200, 'POST', `${V1}/users/alice:send`, text('every alice'))).toEqual({ delivered: 3 });
      // The first thing the other tenant's alice hears is the send that named no tenant.
      expect((await aliceElsewhere.next()).text).toBe('every alice');
    });

    it('disconnects a user on every node with 4001, from any node, leaving other users and tenants connected', async () => {
      const acme = tenant();
      const other = tenant();
      const user = `mallory-${acme}`;
      const cutOff = [await connect(a, acme, user), await connect(b, acme, user), await connect(c, acme, user), await connect(c, acme, user)];
      const bob = await connect(b, acme, 'bob');
      const elsewhere = await connect(a, other, user);
      expect(await expectApi(b, 200, 'POST', `${V1}/users/${user}:disconnect`, { tenantId: acme })).toEqual({ disconnected: 4 });
      for (const client of cutOff) expect(await client.closed).toEqual({ code: 4001, reason: 'user disconnected' });
      for (const client of cutOff) expect((await api(a, 'GET', connectionPath(client.connectionId))).status).toBe(404);
      for (const client of [bob, elsewhere]) expect((await api(c, 'GET', connectionPath(client.connectionId))).status).toBe(200);
      // No tenant named: the user's connections in every tenant.
      expect(await expectApi(c, 200, 'POST', `${V1}/users/${user}:disconnect`)).toEqual({ disconnected: 1 });
      expect((await elsewhere.closed).code).toBe(4001);
    });

    it('lists connections and presence of every node, paging across nodes', async () => {
      const acme = tenant();
      const placed: [TestNode, string][] = [[a, 'u1'], [a, 'u2'], [b, 'u1'], [c, 'u3'], [c, 'u4']];
      const made = [];
      for (const [node, user] of placed) made.push(await connect(node, acme, user));
      for (const client of made) await subscribe(client, 'room');
      const ids = made.map((client) => client.connectionId).sort();

      for (const node of [a, b, c]) {
        const seen: string[] = [];
        let pageToken = '';
        for (let page = 0; page < 10; page++) {
          const listed = await expectApi(node, 200, 'GET', `${V1}/connections?tenantId=${acme}&pageSize=2${pageToken ? `&pageToken=${pageToken}` : ''}`);
          const connections = listed.connections as { id: string }[];
          expect(connections.length).toBeLessThanOrEqual(2);
          seen.push(...connections.map((view) => view.id));
          pageToken = listed.nextPageToken as string;
          if (pageToken === '') break;
        }
        expect(seen.sort()).toEqual(ids);
        const byTopic = await expectApi(node, 200, 'GET', `${V1}/connections?topic=${acme}:room&userId=u1`);
        expect((byTopic.connections as { id: string }[]).map((view) => view.id).sort()).toEqual([made[0]!.connectionId, made[2]!.connectionId].sort());
        const presence = await expectApi(node, 200, 'GET', `${V1}/topics/${acme}:room/presence`);
        expect((presence.connections as { connectionId: string }[]).map((entry) => entry.connectionId).sort()).toEqual(ids);
        expect((presence.users as string[]).sort()).toEqual(['u1', 'u2', 'u3', 'u4']);
      }

      // A page token from one node is good on any other.
      const seen: string[] = [];
      let pageToken = '';
      for (let page = 0; page < 10; page++) {
        const node = [a, b, c][page % 3]!;
        const listed = await expectApi(node, 200, 'GET', `${V1}/connections?tenantId=${acme}&pageSize=2${pageToken ? `&pageToken=${pageToken}` : ''}`);
        seen.push(...(listed.connections as { id: string }[]).map((view) => view.id));
        pageToken = listed.nextPageToken as string;
        if (pageToken === '') break;
      }
      expect(seen.sort()).toEqual(ids);

      await made[3]!.close();
      const presence = await expectApi(a, 200, 'GET', `${V1}/topics/${acme}:room/presence`);
      expect((presence.connections as unknown[]).length).toBe(4);
      expect((presence.users as string[]).sort()).toEqual(['u1', 'u2', 'u4']);
    });

    it('recovers on C what a client missed after leaving A, then delivers live', async () => {
      const acme = tenant();
      const first = await connect(a, acme, 'reader');
      const { epoch } = (await subscribe(first, 'feed')) as { epoch: string };
      for (let n = 1; n <= 3; n++) await expectApi(b, 200, 'POST', `${V1}/topics/${acme}:feed:publish`, text(JSON.stringify({ n })));
      const seen = [];
      while (seen.length < 3) seen.push((await nextPublication(first)).data.offset as number);
      expect(seen).toEqual([1, 2, 3]);
      await first.close();

      for (let n = 4; n <= 6; n++) await expectApi(c, 200, 'POST', `${V1}/topics/${acme}:feed:publish`, text(JSON.stringify({ n })));
      const second = await connect(c, acme, 'reader');
      const recovered = await subscribe(second, 'feed', { offset: 3, epoch });
      expect(recovered).toMatchObject({ topic: `${acme}:feed`, offset: 6, epoch, recovered: true });
      expect(recovered.publications).toEqual([4, 5, 6].map((n) => ({ offset: n, payload: { n } })));

      await expectApi(a, 200, 'POST', `${V1}/topics/${acme}:feed:publish`, text('{"n":7}'));
      expect((await nextPublication(second)).data).toMatchObject({ offset: 7, payload: { n: 7 } });
    });
  });
}
