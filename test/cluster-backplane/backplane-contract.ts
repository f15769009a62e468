/**
 * What every backplane must do, as one vitest suite: call describeBackplaneContract from a
 * backplane's test file with an environment that starts its server. The NodeHub relies on
 * nothing else (src/cluster/backplane.ts); the history cases pin MemoryTopicHistory's rules.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Backplane, BackplaneHandlers, FanoutEvent, RemoteAnswer, RemoteRequest } from '../../src/cluster/backplane.js';
import type { Publication } from '../../src/cluster/index.js';
import { DeadlineExceeded, Unavailable } from '../../src/errors/index.js';

/** What one backplane's test file gives the contract: how to make one, and how to make faults. */
export interface BackplaneContext {
  /** A new, unstarted backplane on the environment's server. */
  create(): Backplane;
  teardown(): Promise<void>;
  /** What the backplane has in flight (pending calls and fan-outs, armed timers), for leak checks. */
  inFlight(backplane: Backplane): InFlight;
  /**
   * Makes `nodeId` a live peer that receives fan-outs and never acknowledges them (the crash
   * its liveness has not caught yet); resolves with what undoes it. Absent where no such peer
   * can exist (the memory bus delivers synchronously: a peer cannot leave a batch unanswered).
   */
  silentPeer?(nodeId: string): Promise<() => Promise<void>>;
  /** A private server of its own that the test can stop and start (absent where there is none to lose). */
  outage?(): Promise<Outage>;
}

/** What a backplane has in flight; a backplane may add counters of its own (connection listeners). */
export interface InFlight {
  pendingRequests: number;
  pendingFanouts: number;
  timers: number;
  [counter: string]: number;
}

export interface Outage {
  /** A new, unstarted backplane on this server; its name is what UNAVAILABLE messages name. */
  create(): Backplane;
  /** Stops the server (its port stays reserved for `up`). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Whether history outlives a restart: NATS keeps its store, a private redis-server starts empty. */
  historySurvives: boolean;
  close(): Promise<void>;
}

export interface BackplaneEnvironment {
  /** Starts what the backplane needs (a server). */
  setup(): Promise<BackplaneContext>;
  /**
   * The faults this backplane's context can make (`silentPeer`, `outage`): their cases are
   * registered only here, so a backplane without them runs fewer cases instead of skipping some.
   */
  faults?: { silentPeer?: boolean; outage?: boolean };
}

interface TestNode {
  id: string;
  backplane: Backplane;
  /** Requests this node answered, in arrival order. */
  requests: RemoteRequest[];
  /** Each handlers.fanout call's events. */
  batches: FanoutEvent[][];
}

interface Behaviour {
  request?: (request: RemoteRequest) => Promise<RemoteAnswer>;
  /** Delivered count per event; 1 each by default. */
  fanout?: (events: FanoutEvent[]) => number[];
}

/** Cases registered only where the backplane can make their fault (not registered and skipped). */
function suiteIf(available: boolean | undefined, name: string, body: () => void): void {
  if (available === true) describe(name, body);
}

/** A case registered only where the backplane can make its fault (not registered and skipped). */
function caseIf(available: boolean | undefined): (name: string, run: () => Promise<void>) => void {
  return available === true ? (name, run) => it(name, run) : () => {};
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function userEvent(userId: string, text = 'hello'): FanoutEvent {
  return { kind: 'user', userId, data: Buffer.from(text).toString('base64'), binary: false };
}

function payload(text: string, binary = false): { data: Buffer; binary: boolean } {
  return { data: Buffer.from(text), binary };
}

function offsets(publications: Publication[]): number[] {
  return publications.map((p) => p.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export function describeBackplaneContract(name: string, env: BackplaneEnvironment): void {
  describe(`${name} backplane contract`, () => {
    let context: BackplaneContext | undefined;
    const started: Backplane[] = [];
    const undo: (() => Promise<void>)[] = [];
    /** Node ids and topics unique per test, so tests sharing a server never see each other. */
    const run = randomBytes(3).toString('hex');
    let counter = 0;
    const unique = (stem: string): string => `${stem}${run}${++counter}`;

    beforeAll(async () => {
      context = await env.setup();
    });
    afterEach(async () => {
      await Promise.allSettled(started.splice(0).map((backplane) => backplane.stop()));
      for (const step of undo.splice(0)) await step();
    });
    afterAll(async () => {
      await context?.teardown();
    });

    async function startNode(id: string, behaviour: Behaviour = {}): Promise<TestNode> {
      const backplane = context!.create();
      const node: TestNode = { id, backplane, requests: [], batches: [] };
      const handlers: BackplaneHandlers = {
        request: async (request) => {
          node.requests.push(request);
          if (behaviour.request !== undefined) return behaviour.request(request);
          return { ok: true, value: { node: id, request } };
        },
        fanout: (events) => {
          node.batches.push(events);
          return behaviour.fanout !== undefined ? behaviour.fanout(events) : events.map(() => 1);
        },
      };
      started.push(backplane);
      await backplane.start(id, handlers);
      expect(backplane.healthy).toBe(true);
      return node;
    }

    describe('requests', () => {
      it('reach the named node and its answer comes back to the caller', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        const request: RemoteRequest = { op: 'get', connectionId: `${b.id}-c1` };
        const answer = await a.backplane.request(b.id, request, 2000);
        expect(answer).toEqual({ ok: true, value: { node: b.id, request } });
        expect(b.requests).toEqual([request]);
        expect(a.requests).toEqual([]);
      });

      it('pass an error answer through unchanged', async () => {
        const a = await startNode(unique('a'));
        const notFound: RemoteAnswer = { ok: false, kind: 'NOT_FOUND', message: 'connection x not found', field: 'connectionId' };
        const b = await startNode(unique('b'), { request: async () => notFound });
        expect(await a.backplane.request(b.id, { op: 'presence', topic: 'acme:chat' }, 2000)).toEqual(notFound);
      });

      it('in flight at once in both directions each get their own answer', async () => {
        const echo = async (request: RemoteRequest): Promise<RemoteAnswer> => ({ ok: true, value: request.op === 'get' ? request.connectionId : null });
        const a = await startNode(unique('a'), { request: echo });
        const b = await startNode(unique('b'), { request: echo });
        const ids = range(1, 40).map((i) => `c${i}`);
        const [fromA, fromB] = await Promise.all([
          Promise.all(ids.map((id) => a.backplane.request(b.id, { op: 'get', connectionId: `b-${id}` }, 5000))),
          Promise.all(ids.map((id) => b.backplane.request(a.id, { op: 'get', connectionId: `a-${id}` }, 5000))),
        ]);
        expect(fromA).toEqual(ids.map((id) => ({ ok: true, value: `b-${id}` })));
        expect(fromB).toEqual(ids.map((id) => ({ ok: true, value: `a-${id}` })));
      });

      it('reject DeadlineExceeded when the node does not answer in time, and a late answer changes nothing', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'), {
          request: async () => {
            await sleep(500);
            return { ok: true, value: 'late' };
          },
        });
        const before = Date.now();
        await expect(a.backplane.request(b.id, { op: 'get', connectionId: 'c' }, 200)).rejects.toBeInstanceOf(DeadlineExceeded);
        expect(Date.now() - before).toBeGreaterThanOrEqual(150);
        expect(Date.now() - before).toBeLessThan(1000);
        await sleep(500);
        expect(await a.backplane.request(b.id, { op: 'get', connectionId: 'd' }, 2000)).toEqual({ ok: true, value: 'late' });
      });

      it('to a stopped node reject DeadlineExceeded no later than their timeout', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        await b.backplane.stop();
        const before = Date.now();
        await expect(a.backplane.request(b.id, { op: 'get', connectionId: 'c' }, 500)).rejects.toBeInstanceOf(DeadlineExceeded);
        expect(Date.now() - before).toBeLessThan(1500);
        expect(b.requests).toEqual([]);
      });

      it('to a node that never existed reject DeadlineExceeded', async () => {
        const a = await startNode(unique('a'));
        await expect(a.backplane.request(unique('ghost'), { op: 'get', connectionId: 'c' }, 300)).rejects.toBeInstanceOf(DeadlineExceeded);
      });
    });

    describe('fan-out', () => {
      it('reaches every other node, not the sender, and resolves with the summed counts', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'), { fanout: (events) => events.map(() => 2) });
        const c = await startNode(unique('c'), { fanout: (events) => events.map(() => 3) });
        const event: FanoutEvent = { kind: 'publication', topic: 'acme:chat', offset: 7, epoch: 'e1', publishedAt: 1700000000000, data: 'aGk=', binary: false };
        expect(await a.backplane.fanout(event, 2000)).toBe(5);
        expect(b.batches).toEqual([[event]]);
        expect(c.batches).toEqual([[event]]);
        expect(a.batches).toEqual([]);
      });

      it('batches the events of one tick into one delivery, each resolving with its own count', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'), { fanout: (events) => events.map((event) => (event.kind === 'user' ? Number(event.userId) : 0)) });
        const events = range(0, 49).map((i) => userEvent(String(i)));
        const counts = await Promise.all(events.map((event) => a.backplane.fanout(event, 2000)));
        expect(counts).toEqual(range(0, 49));
        expect(b.batches).toHaveLength(1);
        expect(b.batches[0]).toEqual(events);
      });

      it('keeps the order of events from one node across ticks', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        const sent: FanoutEvent[] = [];
        const acks: Promise<number>[] = [];
        for (let i = 0; i < 20; i++) {
          const event = userEvent(String(i));
          sent.push(event);
          acks.push(a.backplane.fanout(event, 2000));
          if (i % 5 === 4) await sleep(1);
        }
        expect(await Promise.all(acks)).toEqual(sent.map(() => 1));
        expect(b.batches.length).toBeGreaterThan(1);
        expect(b.batches.flat()).toEqual(sent);
      });

      it('with no other node resolves 0 at once', async () => {
        const a = await startNode(unique('a'));
        const before = Date.now();
        expect(await a.backplane.fanout(userEvent('u'), 2000)).toBe(0);
        expect(Date.now() - before).toBeLessThan(500);
        expect(a.batches).toEqual([]);
      });
    });

    describe('faults', () => {
      const nothingInFlight: InFlight = { pendingRequests: 0, pendingFanouts: 0, timers: 0 };

      it('count a peer whose delivery throws as 0, the sender resolving with the others’ counts without waiting out its timeout', async () => {
        const a = await startNode(unique('a'));
        await startNode(unique('b'), {
          fanout: () => {
            throw new Error('delivery failed');
          },
        });
        const c = await startNode(unique('c'), { fanout: (events) => events.map(() => 3) });
        // A timeout the test would not outlive: resolving means every peer answered.
        expect(await Promise.all([a.backplane.fanout(userEvent('u1'), 60_000), a.backplane.fanout(userEvent('u2'), 60_000)])).toEqual([3, 3]);
        expect(c.batches).toEqual([[userEvent('u1'), userEvent('u2')]]);
        expect(context!.inFlight(a.backplane)).toMatchObject(nothingInFlight);
        // The peer whose delivery threw still takes part in the next fan-out.
        expect(await a.backplane.fanout(userEvent('u3'), 60_000)).toBe(3);
      });

      it('reject a stopping node’s pending requests UNAVAILABLE, leaving nothing in flight', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'), { request: () => new Promise<RemoteAnswer>(() => {}) });
        const pending = expect(a.backplane.request(b.id, { op: 'get', connectionId: 'c' }, 60_000)).rejects.toBeInstanceOf(Unavailable);
        await vi.waitFor(() => expect(context!.inFlight(a.backplane).pendingRequests).toBe(1));
        await a.backplane.stop();
        await pending;
        expect(context!.inFlight(a.backplane)).toMatchObject(nothingInFlight);
      });

      caseIf(env.faults?.silentPeer)('resolve a fan-out at its timeout with the acks that arrived when a live peer never acknowledges', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'), { fanout: (events) => events.map(() => 4) });
        undo.push(await context!.silentPeer!(unique('ghost')));
        const before = Date.now();
        expect(await a.backplane.fanout(userEvent('u'), 300)).toBe(4);
        expect(Date.now() - before).toBeGreaterThanOrEqual(250);
        expect(b.batches).toEqual([[userEvent('u')]]);
        expect(context!.inFlight(a.backplane)).toMatchObject(nothingInFlight);
      });
    });

    suiteIf(env.faults?.outage, 'when the backplane server goes away', () => {
      let outage: Outage | undefined;
      const echo: Behaviour = { request: async (request) => ({ ok: true, value: request.op }) };
      const startOn = async (id: string, behaviour: Behaviour = echo): Promise<Backplane> => {
        const backplane = outage!.create();
        started.push(backplane);
        await backplane.start(id, {
          request: behaviour.request ?? (async () => ({ ok: true, value: null })),
          fanout: (events) => events.map(() => 1),
        });
        return backplane;
      };
      afterEach(async () => {
        await Promise.allSettled(started.splice(0).map((backplane) => backplane.stop()));
        await outage?.close();
        outage = undefined;
      });

      it('fails calls fast with UNAVAILABLE naming it, then recovers by itself when the server returns', async () => {
        outage = await context!.outage!();
        const slow: Behaviour = {
          request: async (request) => {
            await sleep(request.op === 'presence' ? 2000 : 0);
            return { ok: true, value: request.op };
          },
        };
        const [idA, idB] = [unique('fault-a'), unique('fault-b')];
        const a = await startOn(idA);
        const b = await startOn(idB, slow);
        const changes: boolean[] = [];
        a.onHealthChange((healthy) => changes.push(healthy));
        const unavailable = `backplane ${a.name} unavailable`;
        const retention = { historySize: 5, historyTtlSeconds: 60 };
        expect((await a.history.append('acme:t', payload('before'), retention)).publication.offset).toBe(1);

        // Traffic in flight when the server dies: a slow request and a stream of fan-outs.
        const inFlight = expect(a.request(idB, { op: 'presence', topic: 'acme:t' }, 5000)).rejects.toThrow(unavailable);
        const traffic = Array.from({ length: 20 }, () => a.fanout(userEvent('u'), 5000).catch((err: unknown) => err));
        await sleep(50);
        const stoppedAt = Date.now();
        await outage.down();

        await inFlight;
        await vi.waitFor(() => expect(a.healthy).toBe(false), { timeout: 1000, interval: 10 });
        expect(Date.now() - stoppedAt).toBeLessThan(1000);
        for (const outcome of await Promise.all(traffic)) expect(outcome === 1 || outcome instanceof Unavailable).toBe(true);

        const before = Date.now();
        await expect(a.request(idB, { op: 'get', connectionId: 'c' }, 5000)).rejects.toThrow(unavailable);
        await expect(a.fanout(userEvent('u'), 5000)).rejects.toThrow(unavailable);
        await expect(a.history.append('acme:t', payload('x'), retention)).rejects.toThrow(unavailable);
        await expect(a.history.append('acme:t', payload('x'), retention, { key: 'k', ttlSeconds: 60 })).rejects.toThrow(unavailable);
        await expect(a.history.read('acme:t', {})).rejects.toThrow(unavailable);
        await expect(a.history.position('acme:t')).rejects.toThrow(unavailable);
        await expect(a.isLive(idB)).rejects.toThrow(unavailable);
        await expect(a.liveNodes()).rejects.toThrow(unavailable);
        expect(Date.now() - before).toBeLessThan(1000);
        expect(changes).toEqual([false]);

        // The nodes reconnect, resubscribe and announce themselves again.
        await outage.up();
        await vi.waitFor(() => expect(a.healthy && b.healthy).toBe(true), { timeout: 5000, interval: 20 });
        expect(changes).toEqual([false, true]);
        await vi.waitFor(async () => expect(await a.request(idB, { op: 'get', connectionId: 'c' }, 2000)).toEqual({ ok: true, value: 'get' }), { timeout: 5000 });
        expect(await b.request(idA, { op: 'get', connectionId: 'c' }, 2000)).toEqual({ ok: true, value: 'get' });
        expect(await a.fanout(userEvent('u'), 2000)).toBe(1);
        expect(await a.isLive(idB)).toBe(true);
        expect(await a.liveNodes()).toEqual([idA, idB].sort());
        const after = (await a.history.append('acme:t', payload('after'), retention)).publication.offset;
        expect(after).toBe(outage.historySurvives ? 2 : 1);
      });

      it('leaks no pending call, timer or listener over several outages', async () => {
        outage = await context!.outage!();
        const [idA, idB] = [unique('cycle-a'), unique('cycle-b')];
        const a = await startOn(idA);
        const b = await startOn(idB);
        const exercise = async (): Promise<void> => {
          expect(await a.request(idB, { op: 'get', connectionId: 'c' }, 2000)).toEqual({ ok: true, value: 'get' });
          expect(await b.fanout(userEvent('u'), 2000)).toBe(1);
          await a.history.append('acme:cycle', payload('x'), { historySize: 100, historyTtlSeconds: 300 });
        };
        await exercise();
        const baseline = { a: context!.inFlight(a), b: context!.inFlight(b) };
        expect(baseline.a).toMatchObject({ pendingRequests: 0, pendingFanouts: 0, timers: 0 });

        for (let cycle = 0; cycle < 3; cycle++) {
          const pending = [
            a.request(idB, { op: 'get', connectionId: 'c' }, 3000).catch(() => 'failed'),
            b.fanout(userEvent('u'), 3000).catch(() => 'failed'),
            a.history.read('acme:cycle', {}).catch(() => 'failed'),
          ];
          await outage.down();
          await vi.waitFor(() => expect(a.healthy || b.healthy).toBe(false), { timeout: 1000, interval: 10 });
          await Promise.all(pending);
          // Calls made during the outage fail at once and leave nothing behind.
          await expect(a.request(idB, { op: 'get', connectionId: 'c' }, 3000)).rejects.toBeInstanceOf(Unavailable);
          await sleep(150);
          await outage.up();
          await vi.waitFor(() => expect(a.healthy && b.healthy).toBe(true), { timeout: 5000, interval: 20 });
          await vi.waitFor(exercise, { timeout: 5000, interval: 50 });
        }
        // A fan-out retried by `exercise` while a peer was still recovering may wait out its
        // own 2 s timeout; anything still pending after that is a leak.
        await vi.waitFor(() => expect({ a: context!.inFlight(a), b: context!.inFlight(b) }).toEqual(baseline), { timeout: 3000, interval: 50 });
      });
    });

    describe('liveness', () => {
      it('lists every started node, sorted, and answers isLive per node', async () => {
        const second = unique('n');
        const first = unique('m');
        const b = await startNode(second);
        const a = await startNode(first);
        expect(await a.backplane.liveNodes()).toEqual([first, second].sort());
        expect(await b.backplane.liveNodes()).toEqual([first, second].sort());
        expect(await a.backplane.isLive(second)).toBe(true);
        expect(await a.backplane.isLive(first)).toBe(true);
        expect(await b.backplane.isLive(first)).toBe(true);
        expect(await a.backplane.isLive(unique('ghost'))).toBe(false);
      });

      it('withdraws a stopped node at once', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        expect(await a.backplane.isLive(b.id)).toBe(true);
        await b.backplane.stop();
        // A node that never asked, and the cluster-wide list, know at once.
        const c = await startNode(unique('c'));
        expect(await c.backplane.isLive(b.id)).toBe(false);
        expect(await a.backplane.liveNodes()).toEqual([a.id, c.id].sort());
        // A node that asked before may have cached the answer, but not for long.
        await vi.waitFor(async () => expect(await a.backplane.isLive(b.id)).toBe(false), { timeout: 1000, interval: 20 });
      });
    });

    describe('history', () => {
      const kept = { historySize: 100, historyTtlSeconds: 300 };

      it('stands at offset 0 for a topic never published to, in the epoch its first publication gets', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        const position = await a.backplane.history.position(topic);
        expect(position.offset).toBe(0);
        expect(position.epoch).not.toBe('');
        const { publication, epoch } = await a.backplane.history.append(topic, payload('one'), kept);
        expect(publication.offset).toBe(1);
        expect(epoch).toBe(position.epoch);
        expect(await a.backplane.history.position(topic)).toEqual({ offset: 1, epoch });
      });

      it('gives concurrent publishers on two nodes distinct consecutive offsets', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        const topic = unique('acme:t');
        const appends = range(1, 25).flatMap((i) => [
          a.backplane.history.append(topic, payload(`a${i}`), kept),
          b.backplane.history.append(topic, payload(`b${i}`), kept),
        ]);
        const results = await Promise.all(appends);
        expect(results.map((r) => r.publication.offset).sort((x, y) => x - y)).toEqual(range(1, 50));
        expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
        const read = await b.backplane.history.read(topic, { sinceOffset: 0 });
        expect(read.complete).toBe(true);
        expect(read.offset).toBe(50);
        expect(offsets(read.publications)).toEqual(range(1, 50));
        const byOffset = new Map(results.map((r) => [r.publication.offset, r.publication.data.toString()]));
        for (const publication of read.publications) expect(publication.data.toString()).toBe(byOffset.get(publication.offset));
      });

      it('keeps at most historySize publications and says when a read reaches past them', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        for (let i = 1; i <= 12; i++) await a.backplane.history.append(topic, payload(`m${i}`), { historySize: 5, historyTtlSeconds: 300 });
        const all = await a.backplane.history.read(topic, {});
        expect(offsets(all.publications)).toEqual(range(8, 12));
        expect(all.complete).toBe(true);
        const overflowed = await a.backplane.history.read(topic, { sinceOffset: 0, epoch: all.epoch });
        expect(overflowed.complete).toBe(false);
        expect(offsets(overflowed.publications)).toEqual(range(8, 12));
        expect(await a.backplane.history.read(topic, { sinceOffset: 7, epoch: all.epoch })).toMatchObject({ complete: true, offset: 12 });
        const since9 = await a.backplane.history.read(topic, { sinceOffset: 9 });
        expect(offsets(since9.publications)).toEqual([10, 11, 12]);
        expect(since9.complete).toBe(true);
        expect(await a.backplane.history.read(topic, { sinceOffset: 12 })).toMatchObject({ publications: [], complete: true });
        expect(await a.backplane.history.read(topic, { sinceOffset: 13 })).toMatchObject({ publications: [], complete: false });
      });

      it('reads at most `limit` publications from the oldest wanted', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        for (let i = 1; i <= 6; i++) await a.backplane.history.append(topic, payload(`m${i}`), kept);
        expect(offsets((await a.backplane.history.read(topic, { sinceOffset: 0, limit: 2 })).publications)).toEqual([1, 2]);
        expect(offsets((await a.backplane.history.read(topic, { sinceOffset: 3, limit: 2 })).publications)).toEqual([4, 5]);
        expect((await a.backplane.history.read(topic, { sinceOffset: 0, limit: 0 })).publications).toEqual([]);
      });

      it('returns payloads byte for byte, with their binary flag and publish time', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        const topic = unique('acme:t');
        const bytes = Buffer.from(range(0, 255));
        const before = Date.now();
        await a.backplane.history.append(topic, { data: bytes, binary: true }, kept);
        await a.backplane.history.append(topic, payload('{"text":"héllo"}'), kept);
        const after = Date.now();
        const [binary, text] = (await b.backplane.history.read(topic, { sinceOffset: 0 })).publications;
        expect(binary!.binary).toBe(true);
        expect(Buffer.compare(binary!.data, bytes)).toBe(0);
        expect(text!.binary).toBe(false);
        expect(text!.data.toString()).toBe('{"text":"héllo"}');
        expect(binary!.publishedAt).toBeGreaterThanOrEqual(before - 1000);
        expect(text!.publishedAt).toBeLessThanOrEqual(after + 1000);
        expect(text!.publishedAt).toBeGreaterThanOrEqual(binary!.publishedAt);
      });

      it('answers a read in another epoch incomplete, with no publications', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        const { epoch } = await a.backplane.history.append(topic, payload('one'), kept);
        expect(await a.backplane.history.read(topic, { sinceOffset: 0, epoch: 'another-epoch' })).toEqual({ offset: 1, epoch, publications: [], complete: false });
      });

      it('advances offsets with historySize 0 but keeps nothing', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        const none = { historySize: 0, historyTtlSeconds: 300 };
        const results = [];
        for (let i = 0; i < 3; i++) results.push(await a.backplane.history.append(topic, payload(`m${i}`), none));
        expect(results.map((r) => r.publication.offset)).toEqual([1, 2, 3]);
        expect(await a.backplane.history.read(topic, { sinceOffset: 0 })).toMatchObject({ offset: 3, publications: [], complete: false });
        expect(await a.backplane.history.read(topic, { sinceOffset: 3 })).toMatchObject({ offset: 3, publications: [], complete: true });
      });

      it('loses the history of a topic idle past its TTL and starts a new epoch', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        const short = { historySize: 10, historyTtlSeconds: 1 };
        await a.backplane.history.append(topic, payload('one'), short);
        const { epoch } = await a.backplane.history.append(topic, payload('two'), short);
        await sleep(1300);
        const position = await a.backplane.history.position(topic);
        expect(position.offset).toBe(0);
        expect(position.epoch).not.toBe(epoch);
        expect(await a.backplane.history.read(topic, { sinceOffset: 2, epoch })).toMatchObject({ publications: [], complete: false });
        const next = await a.backplane.history.append(topic, payload('three'), short);
        expect(next.publication.offset).toBe(1);
        expect(next.epoch).toBe(position.epoch);
      });

      it('drops publications older than the TTL while newer ones stay', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:t');
        const short = { historySize: 10, historyTtlSeconds: 1 };
        const { epoch } = await a.backplane.history.append(topic, payload('old'), short);
        await sleep(650);
        await a.backplane.history.append(topic, payload('new'), short);
        await sleep(550);
        const read = await a.backplane.history.read(topic, { sinceOffset: 0 });
        expect(read.epoch).toBe(epoch);
        expect(offsets(read.publications)).toEqual([2]);
        expect(read.complete).toBe(false);
        expect((await a.backplane.history.read(topic, { sinceOffset: 1 })).complete).toBe(true);
      });
    });

    describe('idempotent appends', () => {
      const retention = { historySize: 10, historyTtlSeconds: 60 };

      it('append once per key: a repeat stores nothing and answers the first position', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:idem');
        const key = { key: `${topic}\u0000k1`, ttlSeconds: 60 };
        const first = await a.backplane.history.append(topic, payload('a'), retention, key);
        expect(first).toMatchObject({ publication: { offset: 1 } });
        const epoch = 'epoch' in first ? first.epoch : '';
        expect(await a.backplane.history.append(topic, payload('b'), retention, key)).toEqual({ duplicateOf: { offset: 1, epoch } });
        expect(await a.backplane.history.append(topic, payload('c'), retention, { key: `${topic}\u0000k2`, ttlSeconds: 60 })).toMatchObject({ publication: { offset: 2 } });
        expect((await a.backplane.history.read(topic, {})).publications.map((p) => p.data.toString())).toEqual(['a', 'c']);
      });

      it('lets exactly one of several racing appends on two nodes store, and the rest answer its position', async () => {
        const a = await startNode(unique('a'));
        const b = await startNode(unique('b'));
        const topic = unique('acme:race');
        const key = { key: `${topic}\u0000same`, ttlSeconds: 60 };
        const results = await Promise.all([a, b, a, b].map((node, i) => node.backplane.history.append(topic, payload(`r${i}`), retention, key)));
        const stored = results.filter((r) => 'publication' in r);
        expect(stored).toHaveLength(1);
        const position = 'publication' in stored[0]! ? { offset: stored[0].publication.offset, epoch: stored[0].epoch } : undefined;
        for (const r of results) if ('duplicateOf' in r) expect(r.duplicateOf).toEqual(position);
        expect((await a.backplane.history.read(topic, {})).publications).toHaveLength(1);
      });

      it('forgets a key once its own TTL has passed', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:ttl');
        const key = { key: `${topic}\u0000k`, ttlSeconds: 1 };
        await a.backplane.history.append(topic, payload('a'), retention, key);
        expect(await a.backplane.history.append(topic, payload('b'), retention, key)).toHaveProperty('duplicateOf');
        await sleep(1100);
        expect(await a.backplane.history.append(topic, payload('c'), retention, key)).toMatchObject({ publication: { offset: 2 } });
      });

      it('keeps keys of any length and alphabet apart', async () => {
        const a = await startNode(unique('a'));
        const topic = unique('acme:keys');
        const long = `${topic}\u0000${'k'.repeat(500)}`;
        const keys = [`${topic}\u0000a.b`, `${topic}\u0000a b`, `${topic}\u0000a>*`, long, `${long}!`];
        for (const key of keys) await a.backplane.history.append(topic, payload(key), retention, { key, ttlSeconds: 60 });
        for (const [i, key] of keys.entries()) {
          expect(await a.backplane.history.append(topic, payload('again'), retention, { key, ttlSeconds: 60 })).toMatchObject({ duplicateOf: { offset: i + 1 } });
        }
      });
    });
  });
}
