/**
 * Faults of a three-node cluster on a private backplane server: a node that crashes (a
 * process of its own, SIGKILLed), the backplane stopped and restarted mid-traffic, and one
 * node cut off from it by a network partition. Called once per backplane.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LIVENESS_TTL_MS } from '../../src/cluster/backplane.js';
import { eventually } from '../support/harness.js';
import { forSuite, useStarted } from '../support/scoped.js';
import { startNodeProcess, transpileSources, type NodeProcess, type SourceBuild } from '../support/node-process.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import {
  api,
  connectionPath,
  connectRealtimeAt,
  expectApi,
  expectUnavailable,
  nextPublication,
  nodeProcessFiles,
  sleep,
  startBackplaneServer,
  startClusterNode,
  subscribe,
  text,
  V1,
  type BackplaneKind,
  type RealtimeClient,
  type TestNode,
} from './support.js';

/** The NodeHub's default: how long a cross-node call or a fan-out waits for an answer. */
const REQUEST_TIMEOUT_MS = 2000;

export function describeClusterFaults(kind: BackplaneKind): void {
  describe(`faults of three nodes on ${kind}`, () => {
    const server = forSuite(() => startBackplaneServer(kind));
    let counter = 0;
    const unique = (stem: string): string => `${stem}${kind[0]}${++counter}`;
    /** Nodes and clients of a case stop when it ends. */
    const start = (id: string, backplane = server.url): Promise<TestNode> => useStarted(startClusterNode(backplane, id));
    const connect = (node: { wsUrl(path: string): string; apiUrl: string }, tenantId: string, userId: string): Promise<RealtimeClient> =>
      useStarted(connectRealtimeAt(node, tenantId, userId));

    describe('a node that crashes', () => {
      let build: SourceBuild | undefined;
      beforeAll(async () => {
        build = await transpileSources();
      });
      afterAll(async () => {
        await build?.remove();
      });

      it('takes only its own sockets; its ids answer 404 within the liveness TTL and its presence entries vanish', async () => {
        const tenant = unique('crash');
        const [idA, idB, idC] = [unique('a'), unique('b'), unique('c')];
        const a = await start(idA);
        const b = await start(idB);
        const files = await nodeProcessFiles();
        onTestFinished(files.remove);
        // Started as an operator would: the Redis node with the flags, the NATS one with the environment.
        const flags = ['--config', files.config, '--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0'];
        const c: NodeProcess = await useStarted(
          kind === 'redis'
            ? startNodeProcess(build!, [...flags, '--backplane', server.url, '--node-id', idC])
            : startNodeProcess(build!, flags, { SWITCHBOARD_BACKPLANE: server.url, SWITCHBOARD_NODE_ID: idC }),
        );
        expect(c.nodeId).toBe(idC);

        const onA = await connect(a, tenant, 'ann');
        const onC = await connect(c, tenant, 'cid');
        expect(onC.connectionId.startsWith(`${idC}.`)).toBe(true);
        await subscribe(onA, 'room');
        await subscribe(onC, 'room');
        expect(await expectApi(a, 200, 'GET', `${connectionPath(onC.connectionId)}?view=FULL`)).toMatchObject({ userId: 'cid', subscriptions: [`${tenant}:room`] });
        const presenceOf = async (): Promise<string[] | number> => {
          const response = await api(b, 'GET', `${V1}/topics/${tenant}:room/presence`);
          if (response.status !== 200) return response.status;
          return ((response.json as { connections: { connectionId: string }[] }).connections).map((e) => e.connectionId).sort();
        };
        const listOf = async (): Promise<string[] | number> => {
          const response = await api(a, 'GET', `${V1}/connections?tenantId=${tenant}`);
          if (response.status !== 200) return response.status;
          return ((response.json as { connections: { id: string }[] }).connections).map((view) => view.id).sort();
        };
        expect(await presenceOf()).toEqual([onA.connectionId, onC.connectionId].sort());
        expect(await listOf()).toEqual([onA.connectionId, onC.connectionId].sort());
        expect(await expectApi(b, 200, 'POST', `${V1}/topics/${tenant}:room:publish`, text('1'))).toMatchObject({ delivered: 2 });

        const crashedAt = Date.now();
        await c.kill();
        expect((await onC.closed).code).toBe(1006);

        // Nothing listens for C on the backplane any more: list and presence leave it out at
        // once, without waiting for its liveness to lapse.
        const onlyA = (ids: string[] | number): boolean => Array.isArray(ids) && ids.length === 1 && ids[0] === onA.connectionId;
        await eventually(presenceOf, onlyA, 2000);
        await eventually(listOf, onlyA, 2000);
        expect(Date.now() - crashedAt).toBeLessThan(LIVENESS_TTL_MS / 2);

        // Until its liveness lapses, calls for its ids answer at once with an error, never hang.
        const lapsed = await eventually(
          async () => {
            const before = Date.now();
            const response = await api(a, 'GET', connectionPath(onC.connectionId));
            expect(Date.now() - before).toBeLessThan(2500);
            return response.status;
          },
          (status) => status === 404,
          LIVENESS_TTL_MS + 3000,
        );
        expect(lapsed).toBe(404);
        // Within the TTL of its last refresh, plus one probe's time.
        expect(Date.now() - crashedAt).toBeLessThanOrEqual(LIVENESS_TTL_MS + 500);
        for (const node of [a, b]) {
          expect((await api(node, 'POST', `${connectionPath(onC.connectionId)}:send`, text('x'))).status).toBe(404);
          expect((await api(node, 'DELETE', connectionPath(onC.connectionId))).status).toBe(404);
        }
        expect(await presenceOf()).toEqual([onA.connectionId]);
        expect(await listOf()).toEqual([onA.connectionId]);

        // The survivors and their sockets carry on.
        expect(await expectApi(b, 200, 'POST', `${V1}/topics/${tenant}:room:publish`, text('2'))).toMatchObject({ offset: 2, delivered: 1 });
        expect((await onA.drain()).map((e) => e.data.offset)).toEqual([1, 2]);
        expect(await expectApi(b, 200, 'GET', `${connectionPath(onA.connectionId)}`)).toMatchObject({ id: onA.connectionId });
      });
    });

    it('keeps local calls working through a backplane outage, answers cross-node calls 503 naming it, and heals by itself', async () => {
      const tenant = unique('outage');
      const a = await start(unique('a'));
      const b = await start(unique('b'));
      const c = await start(unique('c'));
      const onA = await connect(a, tenant, 'ann');
      const onC = await connect(c, tenant, 'cid');
      const { epoch } = (await subscribe(onA, 'feed')) as { epoch: string };
      await subscribe(onC, 'feed');

      // Traffic from B all along: every publish answers 200 or 503, none hangs or fails otherwise.
      const statuses: number[] = [];
      let publishing = true;
      const publisher = (async () => {
        let n = 0;
        while (publishing) {
          const response = await api(b, 'POST', `${V1}/topics/${tenant}:feed:publish`, text(JSON.stringify({ n: ++n })));
          statuses.push(response.status);
          await sleep(20);
        }
      })();
      await eventually(() => statuses.filter((s) => s === 200).length, (ok) => ok >= 3);

      const backplaneUp = async (node: typeof a): Promise<string | undefined> =>
        /switchboard_backplane_up\{backplane="[^"]+"\} ([01])/.exec((await api(node, 'GET', '/metrics')).text)?.[1];
      expect(await backplaneUp(a)).toBe('1');
      await server.stop();
      const cross = await eventually(() => api(a, 'GET', connectionPath(onC.connectionId)), (response) => response.status === 503);
      expect(await backplaneUp(a)).toBe('0');
      expectUnavailable(cross, server.url);
      expectUnavailable(await api(c, 'POST', `${connectionPath(onA.connectionId)}:send`, text('x')), server.url);
      expectUnavailable(await api(a, 'POST', `${V1}/topics/${tenant}:feed:publish`, text('{}')), server.url);
      expectUnavailable(await api(a, 'GET', `${V1}/connections?tenantId=${tenant}`), server.url);
      expectUnavailable(await api(a, 'GET', `${V1}/topics/${tenant}:feed/presence`), server.url);
      expectUnavailable(await api(a, 'POST', `${V1}/tenants/${tenant}:broadcast`, text('x')), server.url);
      // Local sockets and calls for them do not need the backplane.
      expect(await expectApi(a, 200, 'GET', connectionPath(onA.connectionId))).toMatchObject({ id: onA.connectionId });
      expect(await expectApi(c, 200, 'GET', connectionPath(onC.connectionId))).toMatchObject({ id: onC.connectionId });
      await expectApi(a, 200, 'POST', `${connectionPath(onA.connectionId)}:send`, text('still here'));
      let message = await onA.next();
      while (message.text.startsWith('{"type":"publication"')) message = await onA.next();
      expect(message.text).toBe('still here');

      await sleep(300);
      await server.start();
      await eventually(() => api(a, 'GET', connectionPath(onC.connectionId)), (response) => response.status === 200, 15_000);
      await eventually(() => api(c, 'GET', connectionPath(onA.connectionId)), (response) => response.status === 200, 15_000);
      await eventually(() => statuses.slice(-3), (last) => last.length === 3 && last.every((s) => s === 200), 15_000);
      expect(await backplaneUp(a)).toBe('1');
      publishing = false;
      await publisher;
      expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
      expect(statuses).toContain(503);

      // After the restart publications reach both nodes again.
      const after = await expectApi(b, 200, 'POST', `${V1}/topics/${tenant}:feed:publish`, text('"after"'));
      // Offsets taken by publications whose fan-out the outage lost leave a gap that each node
      // waits out briefly (it keeps offset order) before delivering what comes after it.
      for (const client of [onA, onC]) {
        let seen = await client.nextEnvelope();
        while (!(seen.type === 'publication' && seen.data.offset === after.offset && seen.data.epoch === after.epoch)) seen = await client.nextEnvelope();
      }
      // A client resubscribing from before the outage recovers, or is told it cannot: the
      // private Redis restarts empty (a new epoch), NATS keeps its store.
      const resumed = await subscribe(onC, 'feed', { offset: 1, epoch });
      if (server.historySurvivesRestart) {
        expect(resumed).toMatchObject({ epoch, recovered: true });
        expect((resumed.publications as { offset: number }[])[0]!.offset).toBe(2);
      } else {
        expect(resumed).toMatchObject({ recovered: false, publications: [] });
        expect(resumed.epoch).not.toBe(epoch);
      }
    });

    it('lets a node cut off from the backplane serve its own clients, then heal, its subscribers recovering what they missed', async () => {
      const tenant = unique('cut');
      const proxy: TcpProxy = await useStarted(startTcpProxy(server.port));
      const viaProxy = server.urlAt(proxy.port);
      const a = await start(unique('a'));
      const b = await start(unique('b'));
      const c = await start(unique('c'), viaProxy);
      const onA = await connect(a, tenant, 'ann');
      const onC = await connect(c, tenant, 'cid');
      const { epoch } = (await subscribe(onA, 'feed')) as { epoch: string };
      await subscribe(onC, 'feed');
      for (let n = 1; n <= 2; n++) expect(await expectApi(b, 200, 'POST', `${V1}/topics/${tenant}:feed:publish`, text(JSON.stringify({ n })))).toMatchObject({ delivered: 2 });
      expect((await nextPublication(onC)).data.offset).toBe(1);
      expect((await nextPublication(onC)).data.offset).toBe(2);

      await proxy.cut();
      expectUnavailable(await eventually(() => api(c, 'GET', connectionPath(onA.connectionId)), (response) => response.status === 503), viaProxy);
      expectUnavailable(await api(c, 'POST', `${V1}/topics/${tenant}:feed:publish`, text('{}')), viaProxy);
      expect(await expectApi(c, 200, 'GET', connectionPath(onC.connectionId))).toMatchObject({ id: onC.connectionId });
      await expectApi(c, 200, 'POST', `${connectionPath(onC.connectionId)}:send`, text('local'));
      expect((await onC.next()).text).toBe('local');
      // The rest of the cluster carries on without C's subscribers, and without waiting for C
      // on every publish: at most the first one waits for C's acknowledgement until it times out.
      const publishedAt = Date.now();
      for (let n = 3; n <= 5; n++) expect(await expectApi(b, 200, 'POST', `${V1}/topics/${tenant}:feed:publish`, text(JSON.stringify({ n })))).toMatchObject({ offset: n, delivered: 1 });
      expect(Date.now() - publishedAt).toBeLessThan(REQUEST_TIMEOUT_MS + 1000);

      await proxy.restore();
      await eventually(() => api(c, 'GET', connectionPath(onA.connectionId)), (response) => response.status === 200, 15_000);
      expect((await onC.drain()).filter((e) => e.type === 'publication')).toEqual([]);
      const resumed = await subscribe(onC, 'feed', { offset: 2, epoch });
      expect(resumed).toMatchObject({ offset: 5, epoch, recovered: true });
      expect(resumed.publications).toEqual([3, 4, 5].map((n) => ({ offset: n, payload: { n } })));
      await expectApi(a, 200, 'POST', `${V1}/topics/${tenant}:feed:publish`, text('{"n":6}'));
      expect((await nextPublication(onC)).data).toMatchObject({ offset: 6, payload: { n: 6 } });
    });
  });
}
