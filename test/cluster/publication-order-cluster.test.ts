/**
 * README, "Order": each node hands a topic's publications to its subscribers in offset order,
 * even when several nodes publish at once, from the first publication of a new topic on and
 * after a topic was quiet long enough for a node to forget it. Three Hubs on a private
 * redis-server or nats-server: A and C publish, subscribers sit on A (a publisher) and B (a third
 * node). The order state's idle-forget interval is shortened so "long idle" takes milliseconds.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backplane } from '../../src/cluster/backplane.js';
import { NodeHub, NatsBackplane, RedisBackplane } from '../../src/cluster/index.js';
import { ConnectionRecord, ConnectionRegistry, newConnectionId } from '../../src/connections/index.js';
import { createLogger } from '../../src/observability/index.js';
import { systemClock } from '../../src/time/index.js';
import { startNatsServer } from '../support/nats-server.js';
import { startRedisServer } from '../support/redis-server.js';
import { FakeTransport } from '../support/fake-transport.js';
import { framer, topicSettings } from './hub-contract.js';

const log = createLogger('silent');
const IDLE_MS = 60;
const TOPICS = 8;
const PER_PUBLISHER = 10;
/** Within the order's gap wait (250 ms), so an overtaken publication is waited for, not skipped. */
const SLOW_FANOUT_MS = 100;

interface Node {
  hub: NodeHub;
  registry: ConnectionRegistry;
  nodeId: string;
}

interface Subscriber {
  id: string;
  transport: FakeTransport;
  node: Node;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const environments: { name: string; start(): Promise<{ create(namespace: string): Backplane; stop(): Promise<void> }> }[] = [
  {
    name: 'Redis',
    async start() {
      const server = await startRedisServer();
      return { create: (namespace) => new RedisBackplane(server.url, { keyPrefix: `${namespace}:`, maxReconnectDelayMs: 100 }), stop: () => server.stop() };
    },
  },
  {
    name: 'NATS',
    async start() {
      const server = await startNatsServer();
      return {
        create: (namespace) => new NatsBackplane(server.url, { subjectPrefix: namespace, reconnectTimeWaitMs: 100, operationTimeoutMs: 3000 }),
        stop: () => server.stop(),
      };
    },
  },
];

for (const environment of environments) {
  describe(`publication order across nodes on ${environment.name}`, () => {
    let backplanes: Awaited<ReturnType<(typeof environment)['start']>>;
    let nodes: Node[] = [];
    let run = 0;

    beforeAll(async () => {
      backplanes = await environment.start();
    });
    afterEach(async () => {
      await Promise.allSettled(nodes.map((node) => node.hub.close()));
      nodes = [];
    });
    afterAll(async () => {
      await backplanes.stop();
    });

    async function startCluster(): Promise<[Node, Node, Node]> {
      const namespace = `o${randomBytes(3).toString('hex')}${++run}`;
      for (const suffix of ['a', 'b', 'c']) {
        const nodeId = `${namespace}${suffix}`;
        const registry = new ConnectionRegistry();
        const backplane = suffix === 'c' ? withSlowFanout(backplanes.create(namespace), SLOW_FANOUT_MS) : backplanes.create(namespace);
        const hub = new NodeHub({ nodeId, registry, backplane, topics: [topicSettings('*', { historySize: 100 })], framer: framer(), log, requestTimeoutMs: 3000, orderIdleMs: IDLE_MS });
        await hub.start();
        nodes.push({ hub, registry, nodeId });
      }
      return nodes as [Node, Node, Node];
    }

    function connect(node: Node): Subscriber {
      const transport = new FakeTransport();
      const record = new ConnectionRecord(newConnectionId(node.nodeId), 'gw', '127.0.0.1', 'order-test', systemClock.now(), 'realtime', transport, 'acme');
      node.registry.add(record);
      return { id: record.id, transport, node };
    }

    /** Subscribes everyone to every topic; answers the position the subscribe gave (the same for all). */
    async function subscribeAll(subscribers: Subscriber[], topics: string[]): Promise<Map<string, number>> {
      const positions = new Map<string, number>();
      for (const topic of topics) {
        for (const subscriber of subscribers) positions.set(topic, (await subscriber.node.hub.subscribe(subscriber.id, topic)).offset);
      }
      return positions;
    }

    /** Offsets a realtime subscriber got for a topic, in arrival order, from its publication envelopes. */
    const received = (subscriber: Subscriber, topic: string): number[] =>
      subscriber.transport
        .envelopes()
        .filter((envelope) => envelope.type === 'publication' && envelope.data.topic === topic)
        .map((envelope) => envelope.data.offset as number);

    /**
     * C publishes PER_PUBLISHER to every topic over a slow link (stored at once, fanned out
     * SLOW_FANOUT_MS later), then A publishes as many: A's later offsets overtake C's earlier
     * ones on the way to A's and B's subscribers, as publications from busy nodes do.
     */
    async function publishFromTwoNodes(a: Node, c: Node, topics: string[], positions: Map<string, number>): Promise<void> {
      const fromC: Promise<unknown>[] = [];
      for (const topic of topics) for (let i = 0; i < PER_PUBLISHER; i++) fromC.push(c.hub.publish(topic, { data: Buffer.from(`"c${i}"`), binary: false }));
      const deadline = Date.now() + 5000;
      for (;;) {
        const heads = await Promise.all(topics.map((topic) => a.hub.history(topic, { limit: 0 })));
        if (heads.every((head, i) => head.offset >= positions.get(topics[i]!)! + PER_PUBLISHER)) break;
        if (Date.now() > deadline) throw new Error('C never stored its publications');
        await sleep(5);
      }
      for (const topic of topics) for (let i = 0; i < PER_PUBLISHER; i++) await a.hub.publish(topic, { data: Buffer.from(`"a${i}"`), binary: false });
      await Promise.all(fromC);
    }

    /** Every subscriber got every topic's publications after its subscribe position, each once, in offset order. */
    async function expectInOrder(subscribers: Subscriber[], topics: string[], positions: Map<string, number>, before = 0): Promise<void> {
      const wanted = (topic: string): number[] => Array.from({ length: 2 * PER_PUBLISHER }, (_, i) => positions.get(topic)! + i + 1);
      const deadline = Date.now() + 5000;
      while (!subscribers.every((s) => topics.every((topic) => received(s, topic).length >= before + 2 * PER_PUBLISHER)) && Date.now() < deadline) await sleep(20);
      for (const subscriber of subscribers) {
        for (const topic of topics) expect(received(subscriber, topic).slice(before), `${subscriber.id} ${topic}`).toEqual(wanted(topic));
      }
    }

    /** Publications on a topic nobody here subscribes to: each one lets the nodes sweep idle order state. */
    async function idleFor(ms: number, a: Node, c: Node): Promise<void> {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await Promise.all([a.hub.publish('acme:filler', { data: Buffer.from('"f"'), binary: false }), c.hub.publish('acme:filler', { data: Buffer.from('"f"'), binary: false })]);
        await sleep(5);
      }
    }

    it('delivers the first publications of fresh topics in offset order on the publishing node and on a third node', async () => {
      const [a, b, c] = await startCluster();
      const topics = Array.from({ length: TOPICS }, (_, i) => `acme:fresh${i}`);
      const subscribers = [connect(a), connect(b)];
      const positions = await subscribeAll(subscribers, topics);
      expect([...positions.values()]).toEqual(topics.map(() => 0));
      await publishFromTwoNodes(a, c, topics, positions);
      await expectInOrder(subscribers, topics, positions);
    });

    it('keeps offset order on a topic that was quiet for longer than the idle-forget interval', async () => {
      const [a, b, c] = await startCluster();
      const topics = [`acme:quiet`];
      const subscribers = [connect(a), connect(b)];
      const positions = await subscribeAll(subscribers, topics);
      await publishFromTwoNodes(a, c, topics, positions);
      await expectInOrder(subscribers, topics, positions);
      await idleFor(IDLE_MS * 4, a, c);
      const later = new Map(topics.map((topic) => [topic, positions.get(topic)! + 2 * PER_PUBLISHER]));
      await publishFromTwoNodes(a, c, topics, later);
      await expectInOrder(subscribers, topics, later, 2 * PER_PUBLISHER);
    });

    it('starts a topic forgotten while nobody here listened from the next subscribe position, not from the first arrival', async () => {
      const [a, b, c] = await startCluster();
      const topics = [`acme:relearned`];
      const first = [connect(a), connect(b)];
      const positions = await subscribeAll(first, topics);
      await publishFromTwoNodes(a, c, topics, positions);
      for (const subscriber of first) await subscriber.node.hub.unsubscribe(subscriber.id, topics[0]!);
      // Publications nobody on A or B hears, then long enough for both to forget the topic.
      for (let i = 0; i < 3; i++) await c.hub.publish(topics[0]!, { data: Buffer.from('"unheard"'), binary: false });
      await idleFor(IDLE_MS * 4, a, c);
      const again = [connect(a), connect(b)];
      const resumed = await subscribeAll(again, topics);
      expect(resumed.get(topics[0]!)).toBe(2 * PER_PUBLISHER + 3);
      await publishFromTwoNodes(a, c, topics, resumed);
      await expectInOrder(again, topics, resumed);
    });
  });
}

/** The backplane with every fan-out from this node held back for a while: a slow link. */
function withSlowFanout(backplane: Backplane, delayMs: number): Backplane {
  return new Proxy(backplane, {
    get(target, property) {
      if (property === 'fanout') {
        return async (...args: Parameters<Backplane['fanout']>) => {
          await sleep(delayMs);
          return target.fanout(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
