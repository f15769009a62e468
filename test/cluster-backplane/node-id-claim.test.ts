/**
 * A node id names one live node on the backplane: a second node that starts with an id a live
 * node holds is refused (NodeIdInUse, naming the id and the holder), atomically even when both
 * start at once; the id is free again as soon as its holder stops, or once the liveness of a
 * holder that crashed lapses. Against private redis-server and nats-server instances.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backplane, BackplaneHandlers, RemoteAnswer } from '../../src/cluster/backplane.js';
import { NatsBackplane, RedisBackplane } from '../../src/cluster/index.js';
import { NodeIdInUse } from '../../src/errors/index.js';
import { startNatsServer } from '../support/nats-server.js';
import { startRedisServer } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const TTL_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const handlersOf = (name: string): BackplaneHandlers => ({
  request: async (): Promise<RemoteAnswer> => ({ ok: true, value: name }),
  fanout: (events) => events.map(() => 1),
});

interface Environment {
  name: string;
  start(): Promise<{ port: number; create(namespace: string, port?: number): Backplane; stop(): Promise<void> }>;
}

const environments: Environment[] = [
  {
    name: 'Redis',
    async start() {
      const server = await startRedisServer();
      return {
        port: server.port,
        create: (namespace, port = server.port) =>
          new RedisBackplane(`redis://127.0.0.1:${port}`, { keyPrefix: `${namespace}:`, livenessTtlMs: TTL_MS, maxReconnectDelayMs: 100, connectTimeoutMs: 3000 }),
        stop: () => server.stop(),
      };
    },
  },
  {
    name: 'NATS',
    async start() {
      const server = await startNatsServer();
      const port = Number(new URL(server.url).port);
      return {
        port,
        create: (namespace, via = port) =>
          new NatsBackplane(`nats://127.0.0.1:${via}`, { subjectPrefix: namespace, livenessTtlMs: TTL_MS, reconnectTimeWaitMs: 100, operationTimeoutMs: 3000 }),
        stop: () => server.stop(),
      };
    },
  },
];

for (const environment of environments) {
  describe(`node id claim on ${environment.name}`, () => {
    let server: Awaited<ReturnType<Environment['start']>>;
    const started: Backplane[] = [];
    const proxies: TcpProxy[] = [];
    let run = 0;
    let namespace = '';

    beforeAll(async () => {
      server = await environment.start();
    });
    afterEach(async () => {
      await Promise.allSettled(started.splice(0).map((backplane) => backplane.stop()));
      await Promise.allSettled(proxies.splice(0).map((proxy) => proxy.close()));
    });
    afterAll(async () => {
      await server.stop();
    });

    const fresh = (): void => {
      namespace = `claim${process.pid}x${++run}`;
    };

    async function startNode(nodeId: string, holder: { listen: string; hostname: string; pid: number }, port?: number): Promise<Backplane> {
      const backplane = server.create(namespace, port);
      started.push(backplane);
      await backplane.start(nodeId, handlersOf(holder.listen), holder);
      return backplane;
    }

    const refusal = async (promise: Promise<unknown>): Promise<NodeIdInUse> => {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NodeIdInUse);
      return err as NodeIdInUse;
    };

    it('refuses a second node with a live node’s id, naming the id and the holder, and the first keeps working', async () => {
      fresh();
      const first = await startNode('node-a', { listen: '127.0.0.1:8080', hostname: 'host-one', pid: 4242 });
      const err = await refusal(startNode('node-a', { listen: '127.0.0.1:9090', hostname: 'host-two', pid: 5353 }));
      expect(err.nodeId).toBe('node-a');
      expect(err.message).toContain('"node-a"');
      expect(err.message).toContain('127.0.0.1:8080');
      expect(err.message).toContain('host-one');
      expect(err.message).toContain('4242');
      // The refused node withdrew nothing of the first one's, and did not answer for it.
      await sleep(TTL_MS + 200);
      const observer = await startNode('node-o', { listen: '127.0.0.1:7070', hostname: 'host-o', pid: 1 });
      expect(first.healthy).toBe(true);
      expect(await observer.isLive('node-a')).toBe(true);
      expect(await observer.liveNodes()).toEqual(['node-a', 'node-o']);
      for (let i = 0; i < 5; i++) expect(await observer.request('node-a', { op: 'presence', topic: 't' }, 2000)).toEqual({ ok: true, value: '127.0.0.1:8080' });
    });

    it('lets exactly one of two nodes starting at once with the same id win', async () => {
      fresh();
      const results = await Promise.allSettled([
        startNode('node-b', { listen: '127.0.0.1:1', hostname: 'h1', pid: 1 }),
        startNode('node-b', { listen: '127.0.0.1:2', hostname: 'h2', pid: 2 }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(NodeIdInUse);
    });

    it('frees the id at once when its holder stops', async () => {
      fresh();
      const first = await startNode('node-c', { listen: '127.0.0.1:1', hostname: 'h1', pid: 1 });
      await first.stop();
      const second = await startNode('node-c', { listen: '127.0.0.1:2', hostname: 'h2', pid: 2 });
      expect(second.healthy).toBe(true);
    });

    it('frees the id of a holder that crashed once its liveness lapses, not before', async () => {
      fresh();
      const proxy = await startTcpProxy(server.port);
      proxies.push(proxy);
      await startNode('node-d', { listen: '127.0.0.1:1', hostname: 'h1', pid: 1 }, proxy.port);
      await proxy.cut();
      const crashedAt = Date.now();
      await refusal(startNode('node-d', { listen: '127.0.0.1:2', hostname: 'h2', pid: 2 }));
      let second: Backplane | undefined;
      while (second === undefined && Date.now() - crashedAt < TTL_MS + 4000) {
        await sleep(100);
        second = await startNode('node-d', { listen: '127.0.0.1:2', hostname: 'h2', pid: 2 }).catch((err: unknown) => {
          if (!(err instanceof NodeIdInUse)) throw err;
          return undefined;
        });
      }
      expect(second?.healthy).toBe(true);
      expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(TTL_MS - 100);
    });
  });
}
