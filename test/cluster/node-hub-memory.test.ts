import { describe, expect, it } from 'vitest';
import { MemoryBackplane, MemoryBus, NodeHub, type EnvelopeFramer } from '../../src/cluster/index.js';
import type { TopicSettings } from '../../src/config/index.js';
import { ConnectionRecord, ConnectionRegistry, type ConnectionProtocol } from '../../src/connections/index.js';
import { FailedPrecondition, InvalidArgument, NotFound, PermissionDenied } from '../../src/errors/index.js';
import { createLogger } from '../../src/observability/index.js';
import { createRealtime } from '../../src/realtime/index.js';
import { ManualClock } from '../../src/time/index.js';
import { FakeTransport } from '../support/fake-transport.js';
import { topicSettings } from './hub-contract.js';

function setup(topics: TopicSettings[] = [topicSettings('*')]) {
  const clock = new ManualClock();
  const registry = new ConnectionRegistry();
  const realtime = createRealtime({ jwt: undefined, clock, log: createLogger('silent') });
  let framed = 0;
  const framer: EnvelopeFramer = {
    publication: (...args) => {
      framed++;
      return realtime.framer.publication(...args);
    },
    presence: (...args) => realtime.framer.presence(...args),
  };
  const hub = new NodeHub({ nodeId: 'n1', registry, backplane: new MemoryBackplane(new MemoryBus(clock)), topics, framer, log: createLogger('silent') });
  // The memory backplane registers the node within this call: nothing to wait for.
  void hub.start();
  let next = 0;
  const connect = (options: { tenantId?: string; userId?: string; protocol?: ConnectionProtocol; gatewayId?: string } = {}) => {
    const transport = new FakeTransport();
    const record = new ConnectionRecord(
      `n1.conn${String(++next).padStart(18, '0')}`,
      options.gatewayId ?? 'gw',
      '127.0.0.1',
      'test',
      clock.now(),
      options.protocol ?? 'realtime',
      transport,
      options.tenantId,
      options.userId,
    );
    transport.onClose = () => {
      if (registry.remove(record)) hub.connectionGone(record);
    };
    registry.add(record);
    return { record, transport, id: record.id };
  };
  return { clock, registry, hub, connect, framedCount: () => framed };
}

const textPayload = (value: string) => ({ data: Buffer.from(value), binary: false });

describe('The Hub on the memory backplane: publish', () => {
  it('frames a publication once per publish and shares the frame among subscribers of each protocol', async () => {
    const { hub, connect, framedCount } = setup();
    const realtimeA = connect({ tenantId: 'acme', userId: 'a' });
    const realtimeB = connect({ tenantId: 'acme', userId: 'b' });
    const rawA = connect({ protocol: 'raw' });
    const rawB = connect({ protocol: 'raw' });
    for (const c of [realtimeA, realtimeB, rawA, rawB]) await hub.subscribe(c.id, 'acme:news');
    const result = await hub.publish('acme:news', textPayload('{"x":1}'));
    expect(result).toEqual({ offset: 1, epoch: expect.any(String), delivered: 4 });
    expect(framedCount()).toBe(1);
    expect(realtimeA.transport.frames[0]).toBe(realtimeB.transport.frames[0]);
    expect(rawA.transport.frames[0]).toBe(rawB.transport.frames[0]);
    expect(rawA.transport.texts()).toEqual(['{"x":1}']);
    expect(realtimeA.transport.envelopes()[0]).toMatchObject({
      type: 'publication',
      tenantId: 'acme',
      data: { topic: 'acme:news', offset: 1, epoch: result.epoch, payload: { x: 1 } },
    });
  });

  it('frames nothing for raw-only or absent subscribers and still advances the offset', async () => {
    const { hub, connect, framedCount } = setup();
    expect(await hub.publish('acme:empty', textPayload('1'))).toMatchObject({ offset: 1, delivered: 0 });
    const raw = connect({ protocol: 'raw' });
    await hub.subscribe(raw.id, 'acme:empty');
    expect(await hub.publish('acme:empty', textPayload('2'))).toMatchObject({ offset: 2, delivered: 1 });
    expect(framedCount()).toBe(0);
  });

  it('counts only connections the frame was written to', async () => {
    const { hub, connect } = setup();
    const open = connect({ tenantId: 'acme' });
    const closing = connect({ tenantId: 'acme' });
    await hub.subscribe(open.id, 'acme:t');
    await hub.subscribe(closing.id, 'acme:t');
    // A transport that refuses writes (closing, buffer full) while still registered.
    closing.transport.open = false;
    expect(await hub.publish('acme:t', textPayload('x'))).toMatchObject({ delivered: 1 });
  });

  it('answers a repeated idempotency key with the first position and delivered 0 for 5 minutes, per topic', async () => {
    // History outlives the key here, so the stream (and its offsets) carry on.
    const { hub, connect, clock } = setup([topicSettings('*', { historyTtlSeconds: 3600 })]);
    const c = connect({ tenantId: 'acme' });
    await hub.subscribe(c.id, 'acme:t');
    const first = await hub.publish('acme:t', textPayload('"a"'), { idempotencyKey: 'k' });
    clock.advance(299_000);
    expect(await hub.publish('acme:t', textPayload('"b"'), { idempotencyKey: 'k' })).toEqual({ ...first, delivered: 0 });
    expect(c.transport.frames).toHaveLength(1);
    expect(await hub.publish('acme:u', textPayload('"c"'), { idempotencyKey: 'k' })).toMatchObject({ offset: 1 });
    clock.advance(1_001);
    expect(await hub.publish('acme:t', textPayload('"d"'), { idempotencyKey: 'k' })).toMatchObject({ offset: 2 });
    expect(c.transport.frames).toHaveLength(2);
    expect((await hub.history('acme:t', {})).publications.map((p) => p.data.toString())).toEqual(['"a"', '"d"']);
  });
});

describe('The Hub on the memory backplane: subscribe', () => {
  it('answers NotFound for an unknown connection', async () => {
    const { hub } = setup();
    await expect(hub.subscribe('n1.nope', 'acme:t')).rejects.toBeInstanceOf(NotFound);
    await expect(hub.unsubscribe('n1.nope', 'acme:t')).rejects.toBeInstanceOf(NotFound);
  });

  it("refuses a tenant's connection any topic outside its tenant; a connection without tenant may take any", async () => {
    const { hub, connect, registry } = setup();
    const acme = connect({ tenantId: 'acme' });
    for (const topic of ['globex:t', 'acmex:t', 'acme', 'news']) {
      await expect(hub.subscribe(acme.id, topic), topic).rejects.toBeInstanceOf(PermissionDenied);
    }
    expect(registry.topics().next().done).toBe(true);
    const raw = connect({ protocol: 'raw' });
    await hub.subscribe(raw.id, 'news');
    await hub.subscribe(raw.id, 'globex:t');
    expect(raw.record.subscriptions).toEqual(new Set(['news', 'globex:t']));
  });

  it('returns the position, and with since the missed publications and whether that is all', async () => {
    const { hub, connect } = setup([topicSettings('*', { historySize: 3 })]);
    const c = connect({ tenantId: 'acme' });
    const start = await hub.subscribe(c.id, 'acme:t');
    expect(start).toEqual({ offset: 0, epoch: expect.any(String), publications: [] });
    expect(start).not.toHaveProperty('recovered');
    for (let i = 1; i <= 3; i++) await hub.publish('acme:t', textPayload(String(i)));
    const resumed = await hub.subscribe(c.id, 'acme:t', { since: { offset: 1, epoch: start.epoch } });
    expect(resumed).toMatchObject({ offset: 3, recovered: true });
    expect(resumed.publications.map((p) => p.offset)).toEqual([2, 3]);
    await hub.publish('acme:t', textPayload('4'));
    const lost = await hub.subscribe(c.id, 'acme:t', { since: { offset: 0, epoch: start.epoch } });
    expect(lost).toMatchObject({ offset: 4, recovered: false });
    expect((await hub.subscribe(c.id, 'acme:t', { since: { offset: 4, epoch: 'other' } })).recovered).toBe(false);
    // However often it resubscribed, one subscription: one delivery.
    expect(await hub.publish('acme:t', textPayload('5'))).toMatchObject({ delivered: 1 });
  });
});

describe('The Hub on the memory backplane: join and leave', () => {
  it('tells other realtime subscribers of joins and leaves, never the joiner or raw subscribers', async () => {
    const { hub, connect } = setup([topicSettings('*', { joinLeave: true })]);
    const alice = connect({ tenantId: 'acme', userId: 'alice' });
    const raw = connect({ protocol: 'raw' });
    await hub.subscribe(alice.id, 'acme:lobby');
    await hub.subscribe(raw.id, 'acme:lobby');
    const bob = connect({ tenantId: 'acme', userId: 'bob' });
    await hub.subscribe(bob.id, 'acme:lobby');
    await hub.subscribe(bob.id, 'acme:lobby');
    await hub.unsubscribe(bob.id, 'acme:lobby');
    await hub.unsubscribe(bob.id, 'acme:lobby');
    await hub.subscribe(bob.id, 'acme:lobby');
    bob.transport.close(1000, '');
    expect(bob.transport.frames).toEqual([]);
    expect(raw.transport.frames).toEqual([]);
    expect(alice.transport.envelopes().map((e) => [e.type, e.data.userId, e.data.topic, e.tenantId])).toEqual([
      ['join', undefined, 'acme:lobby', undefined],
      ['join', 'bob', 'acme:lobby', 'acme'],
      ['leave', 'bob', 'acme:lobby', 'acme'],
      ['join', 'bob', 'acme:lobby', 'acme'],
      ['leave', 'bob', 'acme:lobby', 'acme'],
    ]);
  });

  it('sends nothing where joinLeave is off', async () => {
    const { hub, connect } = setup([topicSettings('*', { joinLeave: false })]);
    const alice = connect({ tenantId: 'acme', userId: 'alice' });
    const bob = connect({ tenantId: 'acme', userId: 'bob' });
    await hub.subscribe(alice.id, 'acme:lobby');
    await hub.subscribe(bob.id, 'acme:lobby');
    bob.transport.close(1000, '');
    expect(alice.transport.frames).toEqual([]);
  });
});

describe('The Hub on the memory backplane: presence, user send and broadcast', () => {
  it('reports subscribers and distinct users where the topic keeps presence, and refuses elsewhere', async () => {
    const { hub, connect } = setup([topicSettings('acme:room*', { presence: true }), topicSettings('*', { presence: false })]);
    const a1 = connect({ tenantId: 'acme', userId: 'alice' });
    const a2 = connect({ tenantId: 'acme', userId: 'alice' });
    const raw = connect({ protocol: 'raw' });
    for (const c of [a1, a2, raw]) await hub.subscribe(c.id, 'acme:room');
    const presence = await hub.presence('acme:room');
    expect(presence.users).toEqual(['alice']);
    expect(presence.connections).toEqual([
      { connectionId: a1.id, tenantId: 'acme', userId: 'alice' },
      { connectionId: a2.id, tenantId: 'acme', userId: 'alice' },
      { connectionId: raw.id },
    ]);
    a1.transport.close(1000, '');
    expect((await hub.presence('acme:room')).connections).toHaveLength(2);
    expect(await hub.presence('acme:room.empty')).toEqual({ connections: [], users: [] });
    await expect(hub.presence('acme:other')).rejects.toBeInstanceOf(FailedPrecondition);
  });

  it('sends to a user in one tenant or all, and broadcasts to one tenant, as one shared raw frame', async () => {
    const { hub, connect } = setup();
    const acmeAlice = connect({ tenantId: 'acme', userId: 'alice' });
    const acmeAlice2 = connect({ tenantId: 'acme', userId: 'alice' });
    const globexAlice = connect({ tenantId: 'globex', userId: 'alice' });
    const acmeBob = connect({ tenantId: 'acme', userId: 'bob' });
    expect(await hub.sendToUser('alice', textPayload('acme only'), 'acme')).toEqual({ delivered: 2 });
    expect(acmeAlice.transport.frames[0]).toBe(acmeAlice2.transport.frames[0]);
    expect(globexAlice.transport.frames).toEqual([]);
    expect(await hub.sendToUser('alice', textPayload('all'))).toEqual({ delivered: 3 });
    expect(await hub.sendToUser('nobody', textPayload('x'))).toEqual({ delivered: 0 });
    expect(await hub.broadcast('acme', { data: Buffer.from([1]), binary: true })).toEqual({ delivered: 3 });
    expect(acmeBob.transport.frames.map((f) => f.binary)).toEqual([true]);
    expect(globexAlice.transport.texts()).toEqual(['all']);
    expect(await hub.broadcast('nobody', textPayload('x'))).toEqual({ delivered: 0 });
  });
});

describe('The Hub on the memory backplane: connections', () => {
  it('gets, sends to and disconnects a connection; a closed one is not found', async () => {
    const { hub, connect } = setup();
    const c = connect({ tenantId: 'acme', userId: 'alice' });
    expect(await hub.get(c.id)).toMatchObject({ id: c.id, gatewayId: 'gw', tenantId: 'acme', userId: 'alice', subscriptions: [], isAlive: true });
    await hub.send(c.id, textPayload('hi'));
    expect(c.transport.texts()).toEqual(['hi']);
    await hub.disconnect(c.id, 4000, 'bye');
    expect(c.transport.closedWith).toEqual({ code: 4000, reason: 'bye' });
    await expect(hub.get(c.id)).rejects.toBeInstanceOf(NotFound);
    await expect(hub.send(c.id, textPayload('x'))).rejects.toBeInstanceOf(NotFound);
    await expect(hub.disconnect(c.id)).rejects.toBeInstanceOf(NotFound);
  });

  it('answers NotFound to a send a registered but closing transport refuses', async () => {
    const { hub, connect } = setup();
    const c = connect();
    c.transport.open = false;
    await expect(hub.send(c.id, textPayload('x'))).rejects.toBeInstanceOf(NotFound);
  });

  it('pages by registration order under every filter, topic sets included', async () => {
    const { hub, connect } = setup();
    const made = Array.from({ length: 7 }, (_, i) => connect({ tenantId: i % 2 === 0 ? 'acme' : 'globex', userId: `u${i % 3}`, gatewayId: i < 4 ? 'g1' : 'g2' }));
    // Subscribe in reverse so the topic index is out of registration order.
    for (const c of [...made].reverse()) if (c.record.tenantId === 'acme') await hub.subscribe(c.id, 'acme:t');
    const pageAll = async (filter: Parameters<NodeHub['list']>[0]): Promise<string[]> => {
      const seen: string[] = [];
      let pageToken: string | undefined;
      do {
        const page = await hub.list(filter, { pageSize: 2, ...(pageToken ? { pageToken } : {}) });
        expect(page.connections.length).toBeLessThanOrEqual(2);
        seen.push(...page.connections.map((c) => c.id));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken !== undefined);
      return seen;
    };
    const where = (predicate: (c: (typeof made)[number]) => boolean) => made.filter(predicate).map((c) => c.id);
    expect(await pageAll({})).toEqual(where(() => true));
    expect(await pageAll({ tenantId: 'acme' })).toEqual(where((c) => c.record.tenantId === 'acme'));
    expect(await pageAll({ userId: 'u1' })).toEqual(where((c) => c.record.userId === 'u1'));
    expect(await pageAll({ gatewayId: 'g2', tenantId: 'globex' })).toEqual(where((c) => c.record.gatewayId === 'g2' && c.record.tenantId === 'globex'));
    expect(await pageAll({ topic: 'acme:t' })).toEqual(where((c) => c.record.tenantId === 'acme'));
    expect(await pageAll({ topic: 'acme:t', userId: 'u0' })).toEqual(where((c) => c.record.tenantId === 'acme' && c.record.userId === 'u0'));
    // A page that ends exactly at the last match has no next token.
    expect((await hub.list({}, { pageSize: 7 })).nextPageToken).toBe('');
  });

  it('refuses a page token it did not issue', async () => {
    const { hub } = setup();
    for (const token of ['garbage', Buffer.from('seq:-1').toString('base64url'), Buffer.from('seq:x').toString('base64url'), Buffer.from('offset:3').toString('base64url')]) {
      await expect(hub.list({}, { pageSize: 10, pageToken: token }), token).rejects.toBeInstanceOf(InvalidArgument);
    }
  });
});

describe('The Hub on the memory backplane: a lone node', () => {
  it('hands the backplane no fan-out while it is alone on its bus, and does once a peer joins', async () => {
    const bus = new MemoryBus(new ManualClock());
    const backplane = new MemoryBackplane(bus);
    const handed: string[] = [];
    const fanout = backplane.fanout.bind(backplane);
    backplane.fanout = (event) => {
      handed.push(event.kind);
      return fanout(event);
    };
    const hub = new NodeHub({ nodeId: 'n1', registry: new ConnectionRegistry(), backplane, topics: [topicSettings('*')], framer: createRealtime({ jwt: undefined, clock: bus.clock, log: createLogger('silent') }).framer, log: createLogger('silent') });
    await hub.start();
    expect(backplane.alone).toBe(true);
    await hub.publish('acme:news', textPayload('1'));
    await hub.sendToUser('u', textPayload('2'));
    await hub.broadcast('acme', textPayload('3'));
    await hub.disconnectUser('u');
    expect(handed).toEqual([]);

    const peer = new MemoryBackplane(bus);
    const received: unknown[] = [];
    await peer.start('n2', { request: async () => ({ ok: true, value: null }), fanout: (events) => events.map((event) => received.push(event) * 0) });
    expect(backplane.alone).toBe(false);
    await hub.publish('acme:news', textPayload('4'));
    await hub.sendToUser('u', textPayload('5'));
    expect(handed).toEqual(['publication', 'user']);
    expect(received).toEqual([
      expect.objectContaining({ kind: 'publication', offset: 2, data: Buffer.from('4').toString('base64') }),
      expect.objectContaining({ kind: 'user', userId: 'u', data: Buffer.from('5').toString('base64') }),
    ]);
    await peer.stop();
  });
});
