/**
 * The Redis backplane against private redis-servers on free loopback ports: the backplane
 * contract (classic and sharded pub/sub), the key layout docs/redis-layout.md promises, and
 * what happens when Redis goes away and comes back.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackplaneHandlers, FanoutEvent, RemoteAnswer } from '../../src/cluster/backplane.js';
import { RedisBackplane, type RedisBackplaneOptions } from '../../src/cluster/redis-backplane.js';
import { RedisLayout } from '../../src/cluster/redis-layout.js';
import { Unavailable } from '../../src/errors/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { describeBackplaneContract } from './backplane-contract.js';

/** Fast reconnects and a short connect timeout keep the fault tests quick. */
const TEST_OPTIONS: RedisBackplaneOptions = { maxReconnectDelayMs: 100, connectTimeoutMs: 3000 };

for (const shardedPubSub of [false, true]) {
  describeBackplaneContract(shardedPubSub ? 'redis (sharded pub/sub)' : 'redis', {
    faults: { silentPeer: true, outage: true },
    async setup() {
      const server = await startRedisServer();
      return {
        create: () => new RedisBackplane(server.url, { ...TEST_OPTIONS, shardedPubSub }),
        teardown: () => server.stop(),
        inFlight: (backplane) => {
          if (!(backplane instanceof RedisBackplane)) throw new Error(`${backplane.name} is not a Redis backplane`);
          return { ...backplane.diagnostics };
        },
        outage: async () => {
          const faulty = await startRedisServer();
          return {
            create: () => new RedisBackplane(faulty.url, { ...TEST_OPTIONS, shardedPubSub }),
            down: () => faulty.stop(),
            up: () => faulty.restart(),
            historySurvives: false,
            close: () => faulty.stop(),
          };
        },
        // A subscriber to the fan-out channel that never acknowledges: PUBLISH counts it.
        silentPeer: async () => {
          const silent = new Redis(server.url);
          const channel = new RedisLayout('sb:').fanoutChannel;
          await (shardedPubSub ? silent.ssubscribe(channel) : silent.subscribe(channel));
          return async () => {
            silent.disconnect();
          };
        },
      };
    },
  });
}

const echo: BackplaneHandlers = {
  request: async (request): Promise<RemoteAnswer> => ({ ok: true, value: request.op }),
  fanout: (events) => events.map(() => 1),
};

const event: FanoutEvent = { kind: 'tenant', tenantId: 'acme', data: 'aGk=', binary: false };

describe('RedisBackplane', () => {
  let server: RedisServer;
  let raw: Redis;
  const started: RedisBackplane[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50, lazyConnect: true });
    raw.on('error', () => {});
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await Promise.allSettled(started.splice(0).map((backplane) => backplane.stop()));
    expect(unhandled.map(String)).toEqual([]);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    raw?.disconnect();
    await server?.stop();
  });

  async function startNode(nodeId: string, options: RedisBackplaneOptions = {}, handlers: BackplaneHandlers = echo): Promise<RedisBackplane> {
    const backplane = new RedisBackplane(server.url, { ...TEST_OPTIONS, ...options });
    started.push(backplane);
    await backplane.start(nodeId, handlers);
    return backplane;
  }

  it('is named by its URL without credentials', () => {
    expect(new RedisBackplane('redis://:secret@127.0.0.1:1234').name).toBe('redis://127.0.0.1:1234');
    expect(new RedisBackplane('redis://user:secret@127.0.0.1:1234/2?password=x').name).toBe('redis://127.0.0.1:1234/2');
  });

  it('rejects start with UNAVAILABLE when Redis cannot be reached, leaving nothing armed', async () => {
    const nowhere = await startRedisServer();
    await nowhere.stop();
    const backplane = new RedisBackplane(nowhere.url, { connectTimeoutMs: 300, maxReconnectDelayMs: 50 });
    const before = Date.now();
    await expect(backplane.start('lonely', echo)).rejects.toThrow(new Unavailable(`backplane ${nowhere.url} unavailable`));
    expect(Date.now() - before).toBeLessThan(2000);
    expect(backplane.healthy).toBe(false);
    expect(backplane.diagnostics).toMatchObject({ pendingRequests: 0, pendingFanouts: 0, timers: 0 });
  });

  it('keeps the keys and channels docs/redis-layout.md describes', async () => {
    await raw.connect().catch(() => {});
    const a = await startNode('layout-a', { keyPrefix: 'lay:', livenessTtlMs: 3000 });
    await a.history.append('acme:chat', { data: Buffer.from('hi'), binary: false }, { historySize: 10, historyTtlSeconds: 60 });
    await a.history.append('acme:idem', { data: Buffer.from('once'), binary: false }, { historySize: 10, historyTtlSeconds: 60 }, { key: 'acme:idem\u0000k1', ttlSeconds: 30 });

    expect(await raw.type('lay:{t:acme:chat}:stream')).toBe('stream');
    expect(await raw.get('lay:{t:acme:chat}:offset')).toBe('1');
    expect(await raw.get('lay:{t:acme:chat}:epoch')).toMatch(/^[0-9a-f]{16}$/);
    for (const key of ['stream', 'offset', 'epoch']) {
      const ttl = await raw.pttl(`lay:{t:acme:chat}:${key}`);
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    const [entry] = await raw.xrange('lay:{t:acme:chat}:stream', '-', '+');
    expect(entry![0]).toBe('1-0');
    expect(entry![1].filter((_, i) => i % 2 === 0)).toEqual(['d', 'b', 't', 'x']);

    expect(await raw.get('lay:{live}:node:layout-a')).not.toBeNull();
    expect(await raw.pttl('lay:{live}:node:layout-a')).toBeLessThanOrEqual(3000);
    expect(await raw.zrange('lay:{live}:nodes', '0', '-1')).toEqual(['layout-a']);
    expect(await raw.pttl('lay:{t:acme:idem}:idem:acme:idem\u0000k1')).toBeGreaterThan(25_000);
    expect(await raw.hgetall('lay:{t:acme:idem}:idem:acme:idem\u0000k1')).toMatchObject({ o: '1' });
    expect((await raw.pubsub('CHANNELS', 'lay:*')).sort()).toEqual(['lay:{fanout}:events', 'lay:{n:layout-a}:inbox']);

    await a.stop();
    expect(await raw.exists('lay:{live}:node:layout-a')).toBe(0);
    expect(await raw.zrange('lay:{live}:nodes', '0', '-1')).toEqual([]);
  });

  it('keeps two clusters with different key prefixes apart on one Redis', async () => {
    const seen: FanoutEvent[][] = [];
    const x = await startNode('same-id', { keyPrefix: 'x:' });
    await startNode('same-id', { keyPrefix: 'y:' }, { ...echo, fanout: (events) => { seen.push(events); return events.map(() => 1); } });
    expect(await x.fanout(event, 1000)).toBe(0);
    expect(await x.liveNodes()).toEqual(['same-id']);
    await x.history.append('acme:t', { data: Buffer.from('1'), binary: false }, { historySize: 5, historyTtlSeconds: 60 });
    const y = started[1]!;
    expect((await y.history.position('acme:t')).offset).toBe(0);
    expect(seen).toEqual([]);
  });

  it('runs its scripts again after the server forgot them', async () => {
    await raw.connect().catch(() => {});
    const a = await startNode('forgetful');
    await a.history.append('acme:s', { data: Buffer.from('1'), binary: false }, { historySize: 5, historyTtlSeconds: 60 });
    await raw.script('FLUSH');
    const { publication } = await a.history.append('acme:s', { data: Buffer.from('2'), binary: false }, { historySize: 5, historyTtlSeconds: 60 });
    expect(publication.offset).toBe(2);
    expect(await a.liveNodes()).toEqual(['forgetful']);
  });

  it('sends the script calls of one tick together, in order, and runs them again when the server forgot them', async () => {
    await raw.connect().catch(() => {});
    const a = await startNode('bursty');
    const retention = { historySize: 50, historyTtlSeconds: 60 };
    const burst = async (from: number): Promise<number[]> => {
      const appends = [];
      for (let i = from; i < from + 20; i++) appends.push(a.history.append('acme:burst', { data: Buffer.from(String(i)), binary: false }, retention));
      // A read and a liveness lookup in the same tick ride in the same pipeline.
      const [results, position, live] = await Promise.all([Promise.all(appends), a.history.position('acme:burst'), a.liveNodes()]);
      expect(live).toEqual(['bursty']);
      expect(position.offset).toBeGreaterThanOrEqual(from);
      return results.map((r) => r.publication.offset);
    };
    const offsets = (from: number): number[] => Array.from({ length: 20 }, (_, i) => from + i);
    expect(await burst(1)).toEqual(offsets(1));
    await raw.script('FLUSH');
    expect(await burst(21)).toEqual(offsets(21));
    const stored = await a.history.read('acme:burst', {});
    expect(stored.publications.map((p) => p.data.toString())).toEqual(offsets(1).concat(offsets(21)).map(String));
  });
});
