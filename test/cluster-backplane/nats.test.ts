/**
 * The NATS backplane against private nats-servers (JetStream on, free loopback port, fresh
 * store): the backplane contract, the layout docs/nats-layout.md promises, history against
 * the single-node MemoryTopicHistory, and what happens when the server goes away and comes
 * back.
 */
import fc from 'fast-check';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BackplaneHandlers, FanoutEvent, RemoteAnswer } from '../../src/cluster/backplane.js';
import { MemoryTopicHistory } from '../../src/cluster/history-memory.js';
import { NatsBackplane, type NatsBackplaneOptions } from '../../src/cluster/nats-backplane.js';
import { natsLayout, topicToken, type NatsLayout } from '../../src/cluster/nats-layout.js';
import { DeadlineExceeded, Unavailable } from '../../src/errors/index.js';
import { ManualClock } from '../../src/time/index.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { describeBackplaneContract } from './backplane-contract.js';

/** Quick reconnects and short JetStream deadlines keep the fault tests fast. */
const TEST_OPTIONS: NatsBackplaneOptions = { reconnectTimeWaitMs: 100, operationTimeoutMs: 3000 };

describeBackplaneContract('nats', {
  faults: { silentPeer: true, outage: true },
  async setup() {
    const server = await startNatsServer();
    const raw = await connect({ servers: server.url });
    const layout = natsLayout(undefined);
    return {
      create: () => new NatsBackplane(server.url, TEST_OPTIONS),
      teardown: async () => {
        await raw.close();
        await server.stop();
      },
      inFlight: (backplane) => {
        if (!(backplane instanceof NatsBackplane)) throw new Error(`${backplane.name} is not a NATS backplane`);
        return backplane.diagnostics;
      },
      silentPeer: (nodeId) => silentNatsPeer(raw, layout, nodeId),
      outage: async () => {
        const faulty = await startNatsServer();
        return {
          create: () => new NatsBackplane(faulty.url, TEST_OPTIONS),
          down: () => faulty.halt(),
          up: () => faulty.restart(),
          historySurvives: true,
          close: () => faulty.stop(),
        };
      },
    };
  },
});

/**
 * A node whose liveness entry is there and which hears fan-outs but never acknowledges them
 * (the crash its TTL has not caught yet). It announces itself as a joining node does, and
 * returns once every live node acknowledged that, so each has it in its view.
 */
async function silentNatsPeer(raw: NatsConnection, layout: NatsLayout, nodeId: string): Promise<() => Promise<void>> {
  const nodes = await raw.jetstream().views.kv(layout.nodesBucket, { bindOnly: true });
  await nodes.put(nodeId, '{}');
  const peers: string[] = [];
  for await (const key of await nodes.keys()) if (key !== nodeId) peers.push(key);
  const replies = raw.subscribe(`_INBOX.${nodeId}`, { max: peers.length, timeout: 5000 });
  raw.publish(layout.fanoutSubject, JSON.stringify({ o: nodeId, b: 1, c: 'join' }), { reply: `_INBOX.${nodeId}` });
  for await (const reply of replies) void reply;
  return async () => {
    // As a stopping node withdraws: nothing left on the subject, so liveNodes leaves it out at once.
    const jsm = await raw.jetstreamManager();
    await jsm.streams.purge(`KV_${layout.nodesBucket}`, { filter: `$KV.${layout.nodesBucket}.${nodeId}` });
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const echo: BackplaneHandlers = {
  request: async (request): Promise<RemoteAnswer> => ({ ok: true, value: request.op }),
  fanout: (events) => events.map(() => 1),
};

const event: FanoutEvent = { kind: 'tenant', tenantId: 'acme', data: 'aGk=', binary: false };
const kept = { historySize: 100, historyTtlSeconds: 300 };

function text(value: string): { data: Buffer; binary: boolean } {
  return { data: Buffer.from(value), binary: false };
}

function offsets(publications: { offset: number }[]): number[] {
  return publications.map((publication) => publication.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('NatsBackplane', () => {
  let server: NatsServer;
  let raw: NatsConnection;
  const started: NatsBackplane[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  let prefixes = 0;
  /** Each test gets its own subject prefix, hence its own stream and buckets. */
  const prefix = (): string => `t${process.pid}x${++prefixes}`;

  beforeAll(async () => {
    server = await startNatsServer();
    raw = await connect({ servers: server.url });
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await Promise.allSettled(started.splice(0).map((backplane) => backplane.stop()));
    expect(unhandled.map(String)).toEqual([]);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await raw?.close();
    await server?.stop();
  });

  async function startNode(nodeId: string, options: NatsBackplaneOptions = {}, handlers: BackplaneHandlers = echo, url = server.url): Promise<NatsBackplane> {
    const backplane = new NatsBackplane(url, { ...TEST_OPTIONS, ...options });
    started.push(backplane);
    await backplane.start(nodeId, handlers);
    return backplane;
  }

  async function subjectCount(stream: string, subject: string): Promise<number> {
    const jsm = await raw.jetstreamManager();
    const info = await jsm.streams.info(stream, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  it('is named by its URL without credentials', () => {
    expect(new NatsBackplane('nats://user:secret@127.0.0.1:1234').name).toBe('nats://127.0.0.1:1234');
    expect(new NatsBackplane('nats://s3cr3t-token@127.0.0.1:1234').name).toBe('nats://127.0.0.1:1234');
    expect(new NatsBackplane('127.0.0.1:1234').name).toBe('nats://127.0.0.1:1234');
    expect(new NatsBackplane('nats://a:b@10.0.0.1:4222,nats://10.0.0.2:4222').name).toBe('nats://10.0.0.1:4222,nats://10.0.0.2:4222');
  });

  it('rejects start with UNAVAILABLE when NATS cannot be reached, leaving nothing armed', async () => {
    const nowhere = await startNatsServer();
    await nowhere.stop();
    const backplane = new NatsBackplane(nowhere.url, TEST_OPTIONS);
    const before = Date.now();
    await expect(backplane.start('lonely', echo)).rejects.toThrow(new Unavailable(`backplane ${nowhere.url} unavailable`));
    expect(Date.now() - before).toBeLessThan(2000);
    expect(backplane.healthy).toBe(false);
    expect(backplane.diagnostics).toEqual({ pendingRequests: 0, pendingFanouts: 0, timers: 0 });
  });

  it('keeps the subjects, stream and buckets docs/nats-layout.md describes', async () => {
    const a = await startNode('layout-a', { subjectPrefix: 'lay.sb', livenessTtlMs: 3000 });
    await a.history.append('acme:chat', text('hi'), { historySize: 10, historyTtlSeconds: 60 });
    await a.history.append('acme:idem', text('once'), { historySize: 10, historyTtlSeconds: 60 }, { key: 'acme:idem\u0000k1', ttlSeconds: 30 });
    const jsm = await raw.jetstreamManager();

    const history = await jsm.streams.info('LAY_SB_HISTORY');
    expect(history.config.subjects).toEqual(['lay.sb.hist.>']);
    expect(history.config).toMatchObject({ allow_rollup_hdrs: true, allow_direct: true, max_msgs_per_subject: -1 });
    const subject = `lay.sb.hist.${topicToken('acme:chat')}`;
    expect(subject).toBe(`lay.sb.hist.t${Buffer.from('acme:chat').toString('base64url')}`);
    const stored = await jsm.streams.getMessage('LAY_SB_HISTORY', { last_by_subj: subject });
    expect(Buffer.from(stored.data).toString()).toBe('hi');
    expect(stored.header.get('Sb-Offset')).toBe('1');
    expect(stored.header.get('Sb-Epoch')).toMatch(/^[0-9a-f]{16}$/);
    expect(stored.header.get('Sb-Size')).toBe('10');
    expect(stored.header.get('Sb-Ttl')).toBe('60000');
    expect(stored.header.get('Sb-Binary')).toBe('0');
    expect(Number(stored.header.get('Sb-At'))).toBeGreaterThan(Date.now() - 60_000);

    const js = raw.jetstream();
    const nodes = await js.views.kv('lay_sb_nodes', { bindOnly: true });
    expect((await nodes.status()).ttl).toBe(3000);
    expect((await nodes.get('layout-a'))?.operation).toBe('PUT');
    expect((await (await js.views.kv('lay_sb_epochs', { bindOnly: true })).status()).ttl).toBe(300_000);
    const idempotency = await js.views.kv('lay_sb_idempotency', { bindOnly: true });
    expect((await idempotency.status()).ttl).toBe(300_000);
    const key = `k${Buffer.from('acme:idem\u0000k1').toString('base64url')}`;
    expect((await idempotency.get(key))?.json()).toMatchObject({ result: { offset: 1 } });

    const answer = await raw.request('lay.sb.node.layout-a', JSON.stringify({ op: 'presence', topic: 'acme:chat' }), { timeout: 2000 });
    expect(answer.json()).toEqual({ ok: true, value: 'presence' });

    await a.stop();
    expect(await nodes.get('layout-a')).toBeNull();
  });

  it('keeps two clusters with different subject prefixes apart on one server', async () => {
    const seen: FanoutEvent[][] = [];
    const x = await startNode('same-id', { subjectPrefix: 'x' });
    const y = await startNode('same-id', { subjectPrefix: 'y' }, { ...echo, fanout: (events) => (seen.push(events), events.map(() => 1)) });
    expect(await x.fanout(event, 1000)).toBe(0);
    expect(await x.liveNodes()).toEqual(['same-id']);
    await x.history.append('acme:t', text('1'), kept);
    expect((await y.history.position('acme:t')).offset).toBe(0);
    expect(seen).toEqual([]);
  });

  describe('requests', () => {
    it('answer DEADLINE_EXCEEDED at once for a node nobody listens for, without waiting out the timeout', async () => {
      const a = await startNode('asker', { subjectPrefix: prefix() });
      const before = Date.now();
      await expect(a.request('nobody', { op: 'get', connectionId: 'c' }, 5000)).rejects.toThrow(new DeadlineExceeded('node nobody did not answer (no responders)'));
      expect(Date.now() - before).toBeLessThan(500);
    });
  });

  describe('fan-out', () => {
    it('splits a tick larger than max_payload into several messages, counting each event once', async () => {
      const p = prefix();
      const a = await startNode('big-a', { subjectPrefix: p });
      const batches: FanoutEvent[][] = [];
      await startNode('big-b', { subjectPrefix: p }, { ...echo, fanout: (events) => (batches.push(events), events.map(() => 1)) });
      // Base64 of 400 KB each: three cannot share one 1 MB message.
      const events: FanoutEvent[] = range(1, 3).map((i) => ({ kind: 'user', userId: `u${i}`, data: Buffer.alloc(400_000, i).toString('base64'), binary: true }));
      expect(await Promise.all(events.map((e) => a.fanout(e, 3000)))).toEqual([1, 1, 1]);
      expect(batches.length).toBeGreaterThanOrEqual(2);
      expect(batches.flat()).toEqual(events);
    });
  });

  describe('liveness', () => {
    it('lets a node that vanished without stopping lapse after the TTL', async () => {
      const p = prefix();
      const a = await startNode('watcher', { subjectPrefix: p, livenessTtlMs: 1000 });
      const nodes = await raw.jetstream().views.kv(`${p}_nodes`, { bindOnly: true });
      await nodes.put('vanished', '{}');
      expect(await a.isLive('vanished')).toBe(true);
      expect(await a.liveNodes()).toEqual(['vanished', 'watcher']);
      const putAt = Date.now();
      // Cached positive answers last a third of the TTL; the key itself the TTL.
      await vi.waitFor(async () => expect(await a.isLive('vanished')).toBe(false), { timeout: 3000, interval: 50 });
      expect(Date.now() - putAt).toBeGreaterThanOrEqual(900);
      expect(await a.liveNodes()).toEqual(['watcher']);
      // The node itself keeps refreshing its key well within the TTL.
      expect(await a.isLive('watcher')).toBe(true);
    });
  });

  describe('history', () => {
    it('keeps topic names with dots, wildcards and spaces apart', async () => {
      const a = await startNode('names', { subjectPrefix: prefix() });
      const topics = ['acme:a', 'acme:a.b', 'acme:a.*', 'acme:a.>', 'acme:a b', 'acme:a.b.c', ''];
      for (const topic of topics) {
        await a.history.append(topic, text(`${topic}#1`), kept);
        await a.history.append(topic, text(`${topic}#2`), kept);
      }
      for (const topic of topics) {
        const read = await a.history.read(topic, { sinceOffset: 0 });
        expect(read).toMatchObject({ offset: 2, complete: true });
        expect(read.publications.map((p) => p.data.toString())).toEqual([`${topic}#1`, `${topic}#2`]);
      }
    });

    it('gives three nodes appending at once consecutive distinct offsets', async () => {
      const p = prefix();
      const nodes = await Promise.all(['h1', 'h2', 'h3'].map((id) => startNode(id, { subjectPrefix: p })));
      const retention = { historySize: 10, historyTtlSeconds: 300 };
      const results = await Promise.all(range(1, 30).flatMap((i) => nodes.map((node, n) => node.history.append('acme:busy', text(`${n}-${i}`), retention))));
      expect(results.map((r) => r.publication.offset).sort((x, y) => x - y)).toEqual(range(1, 90));
      expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
      const read = await nodes[2]!.history.read('acme:busy', {});
      expect(offsets(read.publications)).toEqual(range(81, 90));
      const byOffset = new Map(results.map((r) => [r.publication.offset, r.publication.data.toString()]));
      for (const publication of read.publications) expect(publication.data.toString()).toBe(byOffset.get(publication.offset));
    });

    it('reads a long history in one pass, and pages through it with limit', async () => {
      const a = await startNode('long', { subjectPrefix: prefix() });
      const retention = { historySize: 250, historyTtlSeconds: 300 };
      for (let i = 1; i <= 300; i++) await a.history.append('acme:long', text(`m${i}`), retention);
      const all = await a.history.read('acme:long', { sinceOffset: 0 });
      expect(all.complete).toBe(false);
      expect(offsets(all.publications)).toEqual(range(51, 300));
      const page = await a.history.read('acme:long', { sinceOffset: 100, limit: 20, epoch: all.epoch });
      expect(page.complete).toBe(true);
      expect(page.publications.map((p) => p.data.toString())).toEqual(range(101, 120).map((i) => `m${i}`));
    });

    it('trims the stream behind the window it reads', async () => {
      const p = prefix();
      const a = await startNode('trim', { subjectPrefix: p });
      const retention = { historySize: 8, historyTtlSeconds: 300 };
      for (let i = 1; i <= 41; i++) await a.history.append('acme:trim', text(`m${i}`), retention);
      const subject = `${p}.hist.${topicToken('acme:trim')}`;
      // Purged with keep=8 every 4 appends, in the background.
      await vi.waitFor(async () => expect(await subjectCount(`${p.toUpperCase()}_HISTORY`, subject)).toBeLessThanOrEqual(8 + 4));
      // A shrink is trimmed before the append returns.
      await a.history.append('acme:trim', text('m42'), { historySize: 3, historyTtlSeconds: 300 });
      expect(await subjectCount(`${p.toUpperCase()}_HISTORY`, subject)).toBe(3);
    });

    it('keeps only the newest message of a topic with historySize 0, and rolls an expired epoch up', async () => {
      const p = prefix();
      const a = await startNode('rollup', { subjectPrefix: p });
      const stream = `${p.toUpperCase()}_HISTORY`;
      for (let i = 1; i <= 5; i++) await a.history.append('acme:none', text(`m${i}`), { historySize: 0, historyTtlSeconds: 300 });
      expect(await subjectCount(stream, `${p}.hist.${topicToken('acme:none')}`)).toBe(1);
      expect((await a.history.position('acme:none')).offset).toBe(5);

      const short = { historySize: 10, historyTtlSeconds: 1 };
      for (let i = 1; i <= 4; i++) await a.history.append('acme:short', text(`m${i}`), short);
      const subject = `${p}.hist.${topicToken('acme:short')}`;
      expect(await subjectCount(stream, subject)).toBe(4);
      await sleep(1100);
      const again = await a.history.append('acme:short', text('again'), short);
      expect(again.publication.offset).toBe(1);
      expect(await subjectCount(stream, subject)).toBe(1);
    });

    it('announces the same new epoch to every node for a topic only looked at', async () => {
      const p = prefix();
      const a = await startNode('look-a', { subjectPrefix: p });
      const b = await startNode('look-b', { subjectPrefix: p });
      const positions = await Promise.all([a, b, a, b].map((node) => node.history.position('acme:new')));
      expect(new Set(positions.map((position) => position.epoch)).size).toBe(1);
      expect(positions.map((position) => position.offset)).toEqual([0, 0, 0, 0]);
      expect((await b.history.append('acme:new', text('x'), kept)).epoch).toBe(positions[0]!.epoch);
    });

    it('matches MemoryTopicHistory for any sequence of appends and reads', async () => {
      const a = await startNode('model', { subjectPrefix: prefix() });
      const operation = fc.oneof(
        fc.record({ kind: fc.constant('append' as const), size: fc.integer({ min: 0, max: 6 }) }),
        fc.record({ kind: fc.constant('read' as const), since: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }), limit: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }) }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { maxLength: 30 }), async (operations) => {
          const topic = `acme:model-${++run}`;
          const memory = new MemoryTopicHistory(new ManualClock());
          const memoryEpoch = memory.position(topic).epoch;
          const natsEpoch = (await a.history.position(topic)).epoch;
          for (const op of operations) {
            if (op.kind === 'append') {
              const retention = { historySize: op.size, historyTtlSeconds: 300 };
              const expected = memory.append(topic, text('p'), retention);
              const actual = await a.history.append(topic, text(`p${expected.publication.offset}`), retention);
              expect(actual.publication.offset).toBe(expected.publication.offset);
              expect(actual.epoch).toBe(natsEpoch);
            } else {
              const expected = memory.read(topic, { sinceOffset: op.since, epoch: memoryEpoch, limit: op.limit });
              const actual = await a.history.read(topic, { sinceOffset: op.since, epoch: natsEpoch, limit: op.limit });
              expect({ offset: actual.offset, complete: actual.complete, offsets: offsets(actual.publications) }).toEqual({
                offset: expected.offset,
                complete: expected.complete,
                offsets: offsets(expected.publications),
              });
              for (const publication of actual.publications) expect(publication.data.toString()).toBe(`p${publication.offset}`);
            }
          }
        }),
        { numRuns: 12 },
      );
    });
  });
});
