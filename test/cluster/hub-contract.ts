/**
 * What every Hub must do, as one vitest suite: the memory Hub alone, and the NodeHub on each
 * backplane with connections on its own node and on another one. The calls and their errors
 * are those src/cluster/hub.ts documents; the management API and the realtime protocol rely
 * on nothing else. Call describeHubContract from a test file with an environment.
 *
 * A cluster environment runs two nodes; `hub` is the first one's, and every "wherever it
 * lives" case runs once with the connection on that node and once on the other.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Backplane } from '../../src/cluster/backplane.js';
import { MemoryBackplane, MemoryBus, NodeHub, USER_DISCONNECTED, viewOf, type Hub, type Publication } from '../../src/cluster/index.js';
import type { TopicSettings } from '../../src/config/index.js';
import { ConnectionRecord, ConnectionRegistry, newConnectionId, type ConnectionProtocol } from '../../src/connections/index.js';
import { FailedPrecondition, InvalidArgument, LimitExceeded, NotFound, PermissionDenied } from '../../src/errors/index.js';
import { createLogger } from '../../src/observability/index.js';
import { createRealtime } from '../../src/realtime/index.js';
import { systemClock } from '../../src/time/index.js';
import { FakeTransport } from '../support/fake-transport.js';

export type Place = 'local' | 'remote';

/** One node of the cluster under test: its Hub and its registry (where its sockets live). */
export interface HubNode {
  nodeId: string;
  hub: Hub & { connectionGone(record: ConnectionRecord): void };
  registry: ConnectionRegistry;
}

export interface HubCluster {
  /** nodes[0] is the node whose Hub is under test ("local"); nodes[1], when present, is "remote". */
  nodes: HubNode[];
  close(): Promise<void>;
}

/** Limits every node of a test cluster enforces. */
export interface HubLimits {
  maxSubscriptionsPerConnection?: number;
}

export interface HubEnvironment {
  /** Where connections can live relative to the Hub under test. */
  places: Place[];
  /** Starts what the Hubs need (a server); once per file. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A fresh cluster (one node for memory, two for a backplane) that shares nothing with earlier ones. */
  createCluster(topics: TopicSettings[], limits?: HubLimits): Promise<HubCluster>;
}

/** A socket stand-in that records every frame; closing it takes it out of the registry as the edge does. */
export function topicSettings(pattern: string, overrides: Partial<TopicSettings> = {}): TopicSettings {
  return { pattern, historySize: 10, historyTtlSeconds: 300, presence: true, joinLeave: false, ...overrides };
}

const log = createLogger('silent');

/** What each test node answers as its Prometheus text: its id, so a test can tell whose it got. */
export const metricsTextOf = (nodeId: string) => (): Promise<string> => Promise.resolve(`# node ${nodeId}\nswitchboard_connections ${nodeId.length}\n`);

/** The envelope framer of the realtime protocol, as the composition root injects it. */
export function framer() {
  return createRealtime({ jwt: undefined, clock: systemClock, log }).framer;
}

/** The memory backplane: one node alone (the embedded default), nothing remote. */
export function memoryEnvironment(): HubEnvironment {
  let counter = 0;
  return {
    places: ['local'],
    async createCluster(topics, limits = {}) {
      const nodeId = `mem${++counter}`;
      const registry = new ConnectionRegistry();
      const hub = new NodeHub({ nodeId, registry, backplane: new MemoryBackplane(new MemoryBus(systemClock)), topics, framer: framer(), log, metricsText: metricsTextOf(nodeId), ...limits });
      await hub.start();
      return { nodes: [{ nodeId, hub, registry }], close: () => hub.close() };
    },
  };
}

/** Two nodes on one memory bus: the in-process backplane with a node to call across. */
export function memoryBusEnvironment(): HubEnvironment {
  // The two nodes of a cluster share their namespace, and so their bus.
  const buses = new Map<string, MemoryBus>();
  return clusterEnvironment({
    setup: async () => {},
    teardown: async () => buses.clear(),
    create(namespace) {
      let bus = buses.get(namespace);
      if (bus === undefined) buses.set(namespace, (bus = new MemoryBus(systemClock)));
      return new MemoryBackplane(bus);
    },
  });
}

/**
 * Two Hubs on one backplane server. `create(namespace)` builds an unstarted backplane
 * whose keys or subjects start with the namespace, so each cluster sees only itself.
 */
export function clusterEnvironment(options: {
  setup(): Promise<void>;
  teardown(): Promise<void>;
  create(namespace: string): Backplane;
}): HubEnvironment {
  const run = randomBytes(3).toString('hex');
  let counter = 0;
  return {
    places: ['local', 'remote'],
    setup: options.setup,
    teardown: options.teardown,
    async createCluster(topics, limits = {}) {
      const namespace = `h${run}n${++counter}`;
      const nodes: HubNode[] = [];
      try {
        for (const suffix of ['a', 'b']) {
          const nodeId = `${namespace}${suffix}`;
          const registry = new ConnectionRegistry();
          const hub = new NodeHub({ nodeId, registry, backplane: options.create(namespace), topics, framer: framer(), log, requestTimeoutMs: 3000, metricsText: metricsTextOf(nodeId), ...limits });
          await hub.start();
          nodes.push({ nodeId, hub, registry });
        }
      } catch (err) {
        await Promise.allSettled(nodes.map((node) => node.hub.close()));
        throw err;
      }
      return { nodes, close: async () => void (await Promise.allSettled(nodes.map((node) => node.hub.close()))) };
    },
  };
}

interface Connected {
  id: string;
  record: ConnectionRecord;
  transport: FakeTransport;
  node: HubNode;
}

interface ConnectOptions {
  tenantId?: string;
  userId?: string;
  protocol?: ConnectionProtocol;
  gatewayId?: string;
}

const text = (value: string): { data: Buffer; binary: boolean } => ({ data: Buffer.from(value), binary: false });
const offsets = (publications: Publication[]): number[] => publications.map((p) => p.offset);
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

export function describeHubContract(name: string, env: HubEnvironment): void {
  describe(`${name} Hub contract`, () => {
    const clusters: HubCluster[] = [];
    let topicCounter = 0;
    /** Topics unique per test, under the tenant `acme`, so clusters sharing a server never meet. */
    const unique = (stem: string): string => `acme:${stem}${++topicCounter}`;

    beforeAll(async () => {
      await env.setup?.();
    });
    afterEach(async () => {
      await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
    });
    afterAll(async () => {
      await env.teardown?.();
    });

    async function start(topics: TopicSettings[] = [topicSettings('*')], limits: HubLimits = {}) {
      const cluster = await env.createCluster(topics, limits);
      clusters.push(cluster);
      const hub = cluster.nodes[0]!.hub;
      const nodeAt = (place: Place): HubNode => (place === 'local' ? cluster.nodes[0]! : cluster.nodes[1]!);
      const connect = (place: Place, options: ConnectOptions = {}): Connected => {
        const node = nodeAt(place);
        const transport = new FakeTransport();
        const record = new ConnectionRecord(
          newConnectionId(node.nodeId),
          options.gatewayId ?? 'gw',
          '127.0.0.1',
          'contract-test',
          systemClock.now(),
          options.protocol ?? 'realtime',
          transport,
          options.tenantId,
          options.userId,
        );
        transport.onClose = () => {
          if (node.registry.remove(record)) node.hub.connectionGone(record);
        };
        node.registry.add(record);
        return { id: record.id, record, transport, node };
      };
      /** A well-formed id of that node that was never registered. */
      const unknownId = (place: Place): string => newConnectionId(nodeAt(place).nodeId);
      return { cluster, hub, connect, unknownId, nodes: cluster.nodes };
    }

    /** Places for "wherever it lives" cases; each runs once per place. */
    const places = env.places;

    describe('get, send and disconnect', () => {
      for (const place of places) {
        it(`get answers the connection resource and its realtime fields (${place})`, async () => {
          const { hub, connect } = await start();
          const c = connect(place, { tenantId: 'acme', userId: 'alice' });
          const view = await hub.get(c.id);
          expect(view).toEqual(viewOf(c.record));
          expect(view).toEqual({
            id: c.id,
            gatewayId: 'gw',
            identity: { sourceIp: '127.0.0.1', userAgent: 'contract-test' },
            connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/),
            lastActiveAt: expect.any(String),
            tenantId: 'acme',
            userId: 'alice',
            subscriptions: [],
            isAlive: true,
            // The seed's ConnectionInfo: set at connect, before any heartbeat.
            lastPing: view.connectedAt,
          });
          const anonymous = connect(place, { protocol: 'raw' });
          expect(await hub.get(anonymous.id)).not.toHaveProperty('tenantId');
        });

        it(`send delivers the bytes as text or binary (${place})`, async () => {
          const { hub, connect } = await start();
          const c = connect(place);
          await hub.send(c.id, text('héllo'));
          await hub.send(c.id, { data: Buffer.from([0, 255, 1]), binary: true });
          expect(c.transport.frames.map((f) => [f.data, f.binary])).toEqual([
            [Buffer.from('héllo'), false],
            [Buffer.from([0, 255, 1]), true],
          ]);
        });

        it(`disconnect closes with the code and reason, and the id is then not found (${place})`, async () => {
          const { hub, connect } = await start();
          const c = connect(place);
          await hub.disconnect(c.id, 4000, 'bye');
          expect(c.transport.closedWith).toEqual({ code: 4000, reason: 'bye' });
          await expect(hub.get(c.id)).rejects.toBeInstanceOf(NotFound);
          await expect(hub.send(c.id, text('x'))).rejects.toBeInstanceOf(NotFound);
          await expect(hub.disconnect(c.id)).rejects.toBeInstanceOf(NotFound);
          const d = connect(place);
          await hub.disconnect(d.id);
          expect(d.transport.closedWith).toEqual({ code: 1000, reason: '' });
        });

        it(`answers NOT_FOUND for an id never seen, for every call (${place})`, async () => {
          const { hub, unknownId } = await start();
          const id = unknownId(place);
          await expect(hub.get(id)).rejects.toBeInstanceOf(NotFound);
          await expect(hub.send(id, text('x'))).rejects.toBeInstanceOf(NotFound);
          await expect(hub.disconnect(id)).rejects.toBeInstanceOf(NotFound);
          await expect(hub.subscribe(id, 'acme:t')).rejects.toBeInstanceOf(NotFound);
          await expect(hub.unsubscribe(id, 'acme:t')).rejects.toBeInstanceOf(NotFound);
        });

        it(`answers NOT_FOUND to a send the transport refuses (${place})`, async () => {
          const { hub, connect } = await start();
          const c = connect(place);
          c.transport.open = false;
          await expect(hub.send(c.id, text('x'))).rejects.toBeInstanceOf(NotFound);
        });
      }

      it('answers NOT_FOUND for ids that name no node, and for ids of a node that is not there', async () => {
        const { hub } = await start();
        for (const id of ['garbage', '', 'UPPER.AAAAAAAAAAAAAAAAAAAAAA', 'a.short', `${'x'.repeat(21)}.AAAAAAAAAAAAAAAAAAAAAA`, 'ghost-node.AAAAAAAAAAAAAAAAAAAAAA']) {
          await expect(hub.get(id), id).rejects.toBeInstanceOf(NotFound);
          await expect(hub.send(id, text('x')), id).rejects.toBeInstanceOf(NotFound);
          await expect(hub.disconnect(id), id).rejects.toBeInstanceOf(NotFound);
        }
      });
    });

    describe('subscribe and unsubscribe', () => {
      for (const place of places) {
        it(`subscribe returns the position and shows in the resource; both calls are idempotent (${place})`, async () => {
          const { hub, connect } = await start();
          const topic = unique('sub');
          const c = connect(place, { protocol: 'raw' });
          const first = await hub.subscribe(c.id, topic);
          expect(first).toEqual({ offset: 0, epoch: expect.any(String), publications: [] });
          expect(first).not.toHaveProperty('recovered');
          expect((await hub.get(c.id)).subscriptions).toEqual([topic]);
          expect(await hub.publish(topic, text('1'))).toMatchObject({ offset: 1, epoch: first.epoch, delivered: 1 });
          const again = await hub.subscribe(c.id, topic);
          expect(again).toMatchObject({ offset: 1, epoch: first.epoch });
          // However often it subscribed, one subscription: one delivery.
          expect(await hub.publish(topic, text('2'))).toMatchObject({ delivered: 1 });
          expect(c.transport.texts()).toEqual(['1', '2']);
          await hub.unsubscribe(c.id, topic);
          await hub.unsubscribe(c.id, topic);
          expect((await hub.get(c.id)).subscriptions).toEqual([]);
          expect(await hub.publish(topic, text('3'))).toMatchObject({ offset: 3, delivered: 0 });
          expect(c.transport.frames).toHaveLength(2);
        });

        it(`refuses a subscription past maxSubscriptionsPerConnection with LimitExceeded naming the limit, on the owning node (${place})`, async () => {
          const { hub, connect } = await start([topicSettings('*')], { maxSubscriptionsPerConnection: 3 });
          const c = connect(place, { tenantId: 'acme' });
          const topics = [unique('cap'), unique('cap'), unique('cap')];
          for (const topic of topics) await hub.subscribe(c.id, topic);
          const extra = unique('cap');
          const refused = await hub.subscribe(c.id, extra).then(
            () => undefined,
            (err: unknown) => err,
          );
          expect(refused).toBeInstanceOf(LimitExceeded);
          expect(refused).toBeInstanceOf(FailedPrecondition);
          expect((refused as LimitExceeded).field).toBe('limits.maxSubscriptionsPerConnection');
          expect((refused as Error).message).toMatch(/3 subscriptions.*limits\.maxSubscriptionsPerConnection/);
          await expect(hub.subscribe(c.id, extra, { since: { offset: 0, epoch: 'x' } })).rejects.toBeInstanceOf(LimitExceeded);
          expect((await hub.get(c.id)).subscriptions.sort()).toEqual([...topics].sort());
          // A topic it already has is no new subscription; after an unsubscribe there is room again.
          await expect(hub.subscribe(c.id, topics[0]!)).resolves.toMatchObject({ offset: 0 });
          await hub.unsubscribe(c.id, topics[0]!);
          await expect(hub.subscribe(c.id, extra)).resolves.toMatchObject({ offset: 0 });
          // Another connection has its own allowance.
          const other = connect(place, { tenantId: 'acme' });
          for (const topic of topics) await hub.subscribe(other.id, topic);
        });

        it(`refuses a tenant's connection the topics of other tenants (${place})`, async () => {
          const { hub, connect } = await start();
          const acme = connect(place, { tenantId: 'acme' });
          for (const topic of ['globex:t', 'acmex:t', 'acme', 'news']) {
            await expect(hub.subscribe(acme.id, topic), topic).rejects.toBeInstanceOf(PermissionDenied);
          }
          expect((await hub.get(acme.id)).subscriptions).toEqual([]);
          const untenanted = connect(place, { protocol: 'raw' });
          await hub.subscribe(untenanted.id, 'globex:t');
          expect((await hub.get(untenanted.id)).subscriptions).toEqual(['globex:t']);
        });

        it(`with since, returns what was missed and whether that is all of it (${place})`, async () => {
          const { hub, connect } = await start([topicSettings('*', { historySize: 3 })]);
          const topic = unique('recover');
          const c = connect(place, { tenantId: 'acme' });
          const start0 = await hub.subscribe(c.id, topic);
          await hub.unsubscribe(c.id, topic);
          for (let i = 1; i <= 3; i++) await hub.publish(topic, text(`"p${i}"`));
          const resumed = await hub.subscribe(c.id, topic, { since: { offset: 1, epoch: start0.epoch } });
          expect(resumed).toMatchObject({ offset: 3, epoch: start0.epoch, recovered: true });
          expect(offsets(resumed.publications)).toEqual([2, 3]);
          expect(resumed.publications.map((p) => [p.data, p.binary])).toEqual([
            [Buffer.from('"p2"'), false],
            [Buffer.from('"p3"'), false],
          ]);
          expect(resumed.publications[0]!.publishedAt).toEqual(expect.any(Number));
          const nothingMissed = await hub.subscribe(c.id, topic, { since: { offset: 3, epoch: start0.epoch } });
          expect(nothingMissed).toMatchObject({ offset: 3, recovered: true, publications: [] });
          await hub.publish(topic, text('"p4"'));
          // Offset 1 has been evicted (historySize 3): a gap, so nothing partial is handed over.
          const gap = await hub.subscribe(c.id, topic, { since: { offset: 0, epoch: start0.epoch } });
          expect(gap).toMatchObject({ offset: 4, recovered: false, publications: [] });
          const otherEpoch = await hub.subscribe(c.id, topic, { since: { offset: 4, epoch: 'another-epoch' } });
          expect(otherEpoch).toMatchObject({ recovered: false, publications: [] });
          expect(await hub.publish(topic, text('"p5"'))).toMatchObject({ offset: 5, delivered: 1 });
        });

        it(`recovers binary publications as binary (${place})`, async () => {
          const { hub, connect } = await start();
          const topic = unique('bin');
          const c = connect(place, { tenantId: 'acme' });
          const { epoch } = await hub.subscribe(c.id, topic);
          await hub.unsubscribe(c.id, topic);
          await hub.publish(topic, { data: Buffer.from([0, 1, 254]), binary: true });
          const resumed = await hub.subscribe(c.id, topic, { since: { offset: 0, epoch } });
          expect(resumed.publications.map((p) => [p.offset, p.data, p.binary])).toEqual([[1, Buffer.from([0, 1, 254]), true]]);
        });

        it(`a recovering subscriber gets every publication exactly once while publishing goes on (${place})`, async () => {
          const { hub, connect, nodes } = await start([topicSettings('*', { historySize: 100 })]);
          const topic = unique('busy');
          const c = connect(place, { protocol: 'raw' });
          const { epoch } = await hub.subscribe(c.id, topic);
          await hub.unsubscribe(c.id, topic);
          for (let i = 1; i <= 5; i++) await hub.publish(topic, text(String(i)));
          const publishers = nodes.map(async (node, n) => {
            for (let i = 0; i < 10; i++) await node.hub.publish(topic, text(`n${n}-${i}`));
          });
          const resumed = await hub.subscribe(c.id, topic, { since: { offset: 2, epoch } });
          await Promise.all(publishers);
          const total = 5 + 10 * nodes.length;
          expect(resumed.recovered).toBe(true);
          const recovered = offsets(resumed.publications);
          const history = await hub.history(topic, {});
          const offsetOf = new Map(history.publications.map((p) => [p.data.toString(), p.offset]));
          const live = await vi.waitFor(() => {
            const seen = c.transport.texts().map((t) => offsetOf.get(t)!);
            expect(recovered.length + seen.length).toBeGreaterThanOrEqual(total - 2);
            return seen;
          });
          expect([...recovered, ...live].sort((a, b) => a - b)).toEqual(range(3, total));
          expect(recovered).toEqual(range(3, recovered.length + 2));
        });
      }
    });

    describe('publish', () => {
      it('reaches every subscriber wherever it lives: raw ones get the payload, realtime ones the envelope', async () => {
        const { hub, connect } = await start();
        const topic = unique('news');
        const subscribers = places.flatMap((place) => [connect(place, { tenantId: 'acme', userId: `rt-${place}` }), connect(place, { protocol: 'raw' })]);
        for (const c of subscribers) await hub.subscribe(c.id, topic);
        const bystander = connect(places[places.length - 1]!, { tenantId: 'acme' });
        const result = await hub.publish(topic, text('{"x":1}'));
        expect(result).toEqual({ offset: 1, epoch: expect.any(String), delivered: subscribers.length });
        for (const c of subscribers) {
          if (c.record.protocol === 'raw') {
            expect(c.transport.frames.map((f) => [f.data.toString(), f.binary])).toEqual([['{"x":1}', false]]);
          } else {
            expect(c.transport.envelopes()).toEqual([
              expect.objectContaining({ type: 'publication', tenantId: 'acme', data: expect.objectContaining({ topic, offset: 1, epoch: result.epoch, payload: { x: 1 } }) }),
            ]);
          }
        }
        expect(bystander.transport.frames).toEqual([]);
      });

      it('gives consecutive offsets in one epoch, whichever node publishes', async () => {
        const { hub, nodes } = await start();
        const topic = unique('seq');
        const results = [];
        for (let i = 0; i < 6; i++) results.push(await nodes[i % nodes.length]!.hub.publish(topic, text(String(i))));
        expect(results.map((r) => r.offset)).toEqual(range(1, 6));
        expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
        const concurrent = await Promise.all(range(1, 20).map((i) => nodes[i % nodes.length]!.hub.publish(topic, text(`c${i}`))));
        expect(concurrent.map((r) => r.offset).sort((a, b) => a - b)).toEqual(range(7, 26));
        expect((await hub.history(topic, {})).offset).toBe(26);
      });

      it('counts only the connections the frame was written to', async () => {
        const { hub, connect } = await start();
        const topic = unique('count');
        const open = places.map((place) => connect(place, { tenantId: 'acme' }));
        const refusing = places.map((place) => connect(place, { tenantId: 'acme' }));
        for (const c of [...open, ...refusing]) await hub.subscribe(c.id, topic);
        for (const c of refusing) c.transport.open = false;
        expect(await hub.publish(topic, text('x'))).toMatchObject({ delivered: open.length });
      });

      it('answers a repeated idempotency key with the first position and delivered 0, and delivers once, per topic, from any node', async () => {
        const { hub, connect, nodes } = await start();
        const topic = unique('idem');
        const subscribers = places.map((place) => connect(place, { protocol: 'raw' }));
        for (const c of subscribers) await hub.subscribe(c.id, topic);
        const first = await hub.publish(topic, text('a'), { idempotencyKey: 'k1' });
        expect(first.delivered).toBe(subscribers.length);
        for (const node of nodes) expect(await node.hub.publish(topic, text('b'), { idempotencyKey: 'k1' })).toEqual({ offset: first.offset, epoch: first.epoch, delivered: 0 });
        for (const c of subscribers) expect(c.transport.texts()).toEqual(['a']);
        const otherTopic = unique('idem');
        expect(await hub.publish(otherTopic, text('c'), { idempotencyKey: 'k1' })).toMatchObject({ offset: 1, delivered: 0 });
        expect(await hub.publish(topic, text('d'), { idempotencyKey: 'k2' })).toMatchObject({ offset: 2 });
        expect((await hub.history(topic, {})).publications.map((p) => p.data.toString())).toEqual(['a', 'd']);
      });

      it('delivers once and stores once when the same key is published concurrently from every node', async () => {
        const { hub, connect, nodes } = await start();
        const topic = unique('race');
        const c = connect(places[places.length - 1]!, { protocol: 'raw' });
        await hub.subscribe(c.id, topic);
        const results = await Promise.all(nodes.flatMap((node) => [1, 2, 3].map((i) => node.hub.publish(topic, text(`r${i}`), { idempotencyKey: 'same' }))));
        expect(new Set(results.map((r) => `${r.offset}/${r.epoch}`)).size).toBe(1);
        expect(results.map((r) => r.delivered).sort()).toEqual([...Array<number>(results.length - 1).fill(0), 1]);
        expect((await hub.history(topic, {})).publications).toHaveLength(1);
        expect(c.transport.frames).toHaveLength(1);
      });
    });

    describe('users and tenants', () => {
      it('sends to a user in one tenant or in all, wherever the connections live', async () => {
        const { hub, connect } = await start();
        const user = `alice${++topicCounter}`;
        const acme = places.map((place) => connect(place, { tenantId: 'acme', userId: user }));
        const globex = places.map((place) => connect(place, { tenantId: 'globex', userId: user }));
        const bob = places.map((place) => connect(place, { tenantId: 'acme', userId: 'bob' }));
        expect(await hub.sendToUser(user, text('acme only'), 'acme')).toEqual({ delivered: acme.length });
        for (const c of acme) expect(c.transport.texts()).toEqual(['acme only']);
        for (const c of globex) expect(c.transport.frames).toEqual([]);
        expect(await hub.sendToUser(user, { data: Buffer.from([7]), binary: true })).toEqual({ delivered: acme.length + globex.length });
        for (const c of globex) expect(c.transport.frames.map((f) => [f.data, f.binary])).toEqual([[Buffer.from([7]), true]]);
        for (const c of bob) expect(c.transport.frames).toEqual([]);
        expect(await hub.sendToUser('nobody-at-all', text('x'))).toEqual({ delivered: 0 });
      });

      it('disconnects every connection of a user, in one tenant or in all, wherever they live, with 4001', async () => {
        const { hub, connect } = await start();
        const user = `mallory${++topicCounter}`;
        const acme = places.flatMap((place) => [connect(place, { tenantId: 'acme', userId: user }), connect(place, { tenantId: 'acme', userId: user })]);
        const globex = places.map((place) => connect(place, { tenantId: 'globex', userId: user }));
        const bob = places.map((place) => connect(place, { tenantId: 'acme', userId: 'bob' }));
        expect(await hub.disconnectUser(user, 'acme')).toEqual({ disconnected: acme.length });
        for (const c of acme) expect(c.transport.closedWith).toEqual({ code: USER_DISCONNECTED.code, reason: 'user disconnected' });
        for (const c of [...globex, ...bob]) expect(c.transport.closedWith).toBeUndefined();
        for (const c of acme) await expect(hub.get(c.id)).rejects.toBeInstanceOf(NotFound);
        // Again: nobody of that tenant is left; without a tenant the other tenant's go too.
        expect(await hub.disconnectUser(user, 'acme')).toEqual({ disconnected: 0 });
        expect(await hub.disconnectUser(user, undefined, 4003, 'banned')).toEqual({ disconnected: globex.length });
        for (const c of globex) expect(c.transport.closedWith).toEqual({ code: 4003, reason: 'banned' });
        for (const c of bob) expect(c.transport.open).toBe(true);
      });

      it('broadcasts to every connection of one tenant, wherever it lives', async () => {
        const { hub, connect } = await start();
        const tenant = `t${++topicCounter}`;
        const inside = places.flatMap((place) => [connect(place, { tenantId: tenant, userId: 'a' }), connect(place, { tenantId: tenant, protocol: 'raw' })]);
        const outside = places.map((place) => connect(place, { tenantId: `${tenant}x` }));
        expect(await hub.broadcast(tenant, text('all hands'))).toEqual({ delivered: inside.length });
        for (const c of inside) expect(c.transport.texts()).toEqual(['all hands']);
        for (const c of outside) expect(c.transport.frames).toEqual([]);
        expect(await hub.broadcast('no-such-tenant', text('x'))).toEqual({ delivered: 0 });
      });
    });

    describe('presence', () => {
      it('lists the subscribers of every node and their distinct users, and refuses topics without presence', async () => {
        const { hub, connect } = await start([topicSettings('acme:room*', { presence: true }), topicSettings('*', { presence: false })]);
        const topic = `acme:room${++topicCounter}`;
        const alice = places.map((place) => connect(place, { tenantId: 'acme', userId: 'alice' }));
        const raw = connect(places[places.length - 1]!, { protocol: 'raw' });
        for (const c of [...alice, raw]) await hub.subscribe(c.id, topic);
        const presence = await hub.presence(topic);
        expect(presence.users).toEqual(['alice']);
        const expected = [...alice.map((c) => ({ connectionId: c.id, tenantId: 'acme', userId: 'alice' })), { connectionId: raw.id }];
        expect(sortById(presence.connections)).toEqual(sortById(expected));
        alice[0]!.transport.close(1000, '');
        await hub.unsubscribe(raw.id, topic);
        expect((await hub.presence(topic)).connections.map((c) => c.connectionId)).toEqual(alice.slice(1).map((c) => c.id));
        expect(await hub.presence(`acme:room-empty${topicCounter}`)).toEqual({ connections: [], users: [] });
        await expect(hub.presence('acme:other')).rejects.toBeInstanceOf(FailedPrecondition);
      });

      it('tells realtime subscribers on every node of joins and leaves, never the joiner itself or raw ones', async () => {
        const { hub, connect } = await start([topicSettings('*', { joinLeave: true })]);
        const topic = unique('lobby');
        const watchers = places.map((place) => connect(place, { tenantId: 'acme', userId: `w-${place}` }));
        const raw = connect(places[places.length - 1]!, { protocol: 'raw' });
        for (const c of [...watchers, raw]) await hub.subscribe(c.id, topic);
        for (const place of places) {
          const bob = connect(place, { tenantId: 'acme', userId: 'bob' });
          await hub.subscribe(bob.id, topic);
          await hub.subscribe(bob.id, topic);
          await hub.unsubscribe(bob.id, topic);
          await hub.subscribe(bob.id, topic);
          bob.transport.close(1000, '');
          const expected = [
            ['join', 'bob', topic, bob.id],
            ['leave', 'bob', topic, bob.id],
            ['join', 'bob', topic, bob.id],
            ['leave', 'bob', topic, bob.id],
          ];
          for (const watcher of watchers) {
            await vi.waitFor(() => {
              const aboutBob = watcher.transport.envelopes().filter((e) => e.data.connectionId === bob.id);
              expect(aboutBob.map((e) => [e.type, e.data.userId, e.data.topic, e.data.connectionId])).toEqual(expected);
            });
          }
          // Join and leave events are fanned out without waiting: bob may still hear of those
          // who joined just before him, but never of himself.
          expect(bob.transport.envelopes().filter((e) => e.data.connectionId === bob.id)).toEqual([]);
        }
        expect(raw.transport.frames).toEqual([]);
      });
    });

    describe('nodeMetrics', () => {
      it("answers every live node's own Prometheus text, this node's included, and leaves out a node that left", async () => {
        const { hub, nodes, cluster } = await start();
        const answered = await hub.nodeMetrics();
        const expected = await Promise.all(nodes.map(async (node) => ({ nodeId: node.nodeId, metrics: await metricsTextOf(node.nodeId)() })));
        expect([...answered].sort((a, b) => a.nodeId.localeCompare(b.nodeId))).toEqual(expected.sort((a, b) => a.nodeId.localeCompare(b.nodeId)));
        if (nodes.length < 2) return;
        await cluster.nodes[1]!.hub.close();
        expect((await hub.nodeMetrics()).map((entry) => entry.nodeId)).toEqual([nodes[0]!.nodeId]);
      });
    });

    describe('history', () => {
      it('returns retained publications after an offset, at most a limit, and says whether that is all', async () => {
        const { hub } = await start([topicSettings('*', { historySize: 3 })]);
        const topic = unique('hist');
        const empty = await hub.history(topic, {});
        expect(empty).toEqual({ offset: 0, epoch: expect.any(String), publications: [], complete: true });
        for (let i = 1; i <= 5; i++) await hub.publish(topic, text(`m${i}`));
        const all = await hub.history(topic, {});
        expect(all).toMatchObject({ offset: 5, epoch: empty.epoch, complete: true });
        expect(offsets(all.publications)).toEqual([3, 4, 5]);
        expect(all.publications.map((p) => p.data.toString())).toEqual(['m3', 'm4', 'm5']);
        expect(await hub.history(topic, { sinceOffset: 2, epoch: empty.epoch })).toMatchObject({ complete: true, publications: [expect.objectContaining({ offset: 3 }), expect.anything(), expect.anything()] });
        const gap = await hub.history(topic, { sinceOffset: 1 });
        expect(gap.complete).toBe(false);
        expect(offsets(gap.publications)).toEqual([3, 4, 5]);
        const limited = await hub.history(topic, { sinceOffset: 2, limit: 2 });
        expect(offsets(limited.publications)).toEqual([3, 4]);
        expect(await hub.history(topic, { sinceOffset: 5 })).toMatchObject({ publications: [], complete: true });
        expect(await hub.history(topic, { sinceOffset: 3, epoch: 'another-epoch' })).toMatchObject({ offset: 5, publications: [], complete: false });
      });

      it('keeps nothing for topics without history settings, yet counts their offsets', async () => {
        const { hub } = await start([topicSettings('acme:kept*')]);
        const topic = unique('unkept');
        await hub.publish(topic, text('1'));
        await hub.publish(topic, text('2'));
        expect(await hub.history(topic, {})).toMatchObject({ offset: 2, publications: [] });
      });
    });

    describe('list', () => {
      it('pages through every matching connection of every node exactly once, under every filter', async () => {
        const { hub, connect } = await start();
        const topic = unique('listed');
        const made: Connected[] = [];
        for (let i = 0; i < 9; i++) {
          const place = places[i % places.length]!;
          made.push(connect(place, { tenantId: i % 2 === 0 ? 'acme' : 'globex', userId: `u${i % 3}`, gatewayId: i < 5 ? 'g1' : 'g2' }));
        }
        // Subscribed in reverse, so the topic index is out of registration order.
        for (const c of [...made].reverse()) if (c.record.tenantId === 'acme') await hub.subscribe(c.id, topic);
        const pageAll = async (filter: Parameters<Hub['list']>[0], pageSize: number): Promise<string[]> => {
          const seen: string[] = [];
          let pageToken: string | undefined;
          for (let pages = 0; pages < 50; pages++) {
            const page = await hub.list(filter, { pageSize, ...(pageToken ? { pageToken } : {}) });
            expect(page.connections.length).toBeLessThanOrEqual(pageSize);
            for (const view of page.connections) expect(view).toEqual(viewOf(made.find((c) => c.id === view.id)!.record));
            seen.push(...page.connections.map((c) => c.id));
            pageToken = page.nextPageToken || undefined;
            if (pageToken === undefined) return seen;
          }
          throw new Error('paging did not end');
        };
        const where = (predicate: (c: Connected) => boolean): string[] => made.filter(predicate).map((c) => c.id).sort();
        for (const pageSize of [1, 2, 4, 100]) {
          const sorted = async (filter: Parameters<Hub['list']>[0]): Promise<string[]> => {
            const ids = await pageAll(filter, pageSize);
            expect(new Set(ids).size).toBe(ids.length);
            return ids.sort();
          };
          expect(await sorted({})).toEqual(where(() => true));
          expect(await sorted({ tenantId: 'acme' })).toEqual(where((c) => c.record.tenantId === 'acme'));
          expect(await sorted({ userId: 'u1' })).toEqual(where((c) => c.record.userId === 'u1'));
          expect(await sorted({ gatewayId: 'g2', tenantId: 'globex' })).toEqual(where((c) => c.record.gatewayId === 'g2' && c.record.tenantId === 'globex'));
          expect(await sorted({ topic })).toEqual(where((c) => c.record.tenantId === 'acme'));
          expect(await sorted({ topic, userId: 'u0' })).toEqual(where((c) => c.record.tenantId === 'acme' && c.record.userId === 'u0'));
          expect(await sorted({ userId: 'nobody' })).toEqual([]);
        }
        // One page that holds everything has no next token.
        expect((await hub.list({}, { pageSize: 100 })).nextPageToken).toBe('');
      });

      it("keeps each node's connections in registration order", async () => {
        const { hub, connect, nodes } = await start();
        const made = places.flatMap((place) => [0, 1, 2].map(() => connect(place)));
        const ids = (await hub.list({}, { pageSize: 100 })).connections.map((c) => c.id);
        expect([...ids].sort()).toEqual(made.map((c) => c.id).sort());
        for (const node of nodes) {
          const ofNode = made.filter((c) => c.node === node).map((c) => c.id);
          expect(ids.filter((id) => ofNode.includes(id))).toEqual(ofNode);
        }
      });

      it('refuses a page token it did not issue', async () => {
        const { hub } = await start();
        for (const token of ['garbage', Buffer.from('seq:-1').toString('base64url'), Buffer.from('offset:3').toString('base64url'), Buffer.from('node:UPPER:1').toString('base64url')]) {
          await expect(hub.list({}, { pageSize: 10, pageToken: token }), token).rejects.toBeInstanceOf(InvalidArgument);
        }
      });
    });
  });
}

function sortById<T extends { connectionId: string }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => a.connectionId.localeCompare(b.connectionId));
}
