/**
 * Nothing lost (issue 8, item 5): a publication the API acknowledged is already in history
 * when the acknowledgement arrives, and a client that recovers (reconnects and resubscribes
 * with the last offset it saw) ends up with every acknowledged publication of the history
 * window exactly once and in order, whatever happened on the way: the client killed
 * mid-stream without a close, its forward backend failing, slow or answering garbage, and in
 * a cluster the client coming back on the other node. Runs on one in-memory node and on two
 * nodes sharing a private Redis.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TestNode } from '../support/harness.js';
import { forSuite, suiteRedis } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, text, topic, type Envelope, type RealtimeClient } from './support.js';
import { V1 } from '../support/harness.js';

const HISTORY = 1000;

interface Acknowledged {
  offset: number;
  payload: string;
}

/** A forward backend that fails on purpose: 500s, garbage, slow 503s or a reset, by turns. */
async function startFaultyBackend(): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => {
      switch (n++ % 4) {
        case 0:
          socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops');
          break;
        case 1:
          socket.end('this is not HTTP at all\r\n\r\n');
          break;
        case 2:
          setTimeout(() => socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow'), 300);
          break;
        default:
          socket.resetAndDestroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/forward`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Publishes `count` messages through the API, spread over the nodes, `parallel` at a time;
 * records what was acknowledged and checks, for each acknowledgement, that history (read on
 * another node when there is one) already holds it.
 */
async function publishAll(nodes: TestNode[], name: string, count: number, parallel = 4): Promise<Acknowledged[]> {
  const acknowledged: Acknowledged[] = [];
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < count) {
      const i = next++;
      const payload = `p${i}`;
      const publisher = nodes[i % nodes.length]!;
      const reply = await expectApi(publisher, 200, 'POST', `${V1}/topics/acme:${name}:publish`, text(payload));
      const offset = reply.offset as number;
      acknowledged.push({ offset, payload });
      const reader = nodes[(i + 1 + w) % nodes.length]!;
      const history = await expectApi(reader, 200, 'GET', `${V1}/topics/acme:${name}/history?sinceOffset=${offset - 1}&limit=1`);
      const found = (history.publications as { offset: number; data: string }[])[0];
      expect(found, `offset ${offset} acknowledged but not in history`).toBeDefined();
      expect(found!.offset).toBe(offset);
      expect(Buffer.from(found!.data, 'base64').toString()).toBe(payload);
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, w) => worker(w)));
  return acknowledged.sort((a, b) => a.offset - b.offset);
}

interface Seen {
  offset: number;
  payload: unknown;
  how: 'live' | 'recovered';
}

/**
 * A client that reads `acme:{name}`, is killed (no close frame) after each count in `kills`,
 * and comes back on the next node with the last offset it saw; meanwhile it keeps sending
 * messages its failing forward backend must answer with error envelopes. `subscribed` is
 * called once the first subscription is in place; it returns when it has seen `until()`.
 */
async function recoveringReader(nodes: TestNode[], name: string, kills: number[], until: () => number | undefined, subscribed: () => void): Promise<Seen[]> {
  const seen: Seen[] = [];
  let position: { offset: number; epoch: string } | undefined;
  let generation = 0;
  let killsLeft = [...kills].sort((a, b) => a - b);
  for (;;) {
    const node = nodes[generation++ % nodes.length]!;
    const client: RealtimeClient = await connectRealtime(node, 'acme', 'reader', '/rt-http');
    const requestId = `sub-${generation}`;
    client.send({ type: 'subscribe', requestId, data: { topic: name, ...(position ? { since: position } : {}) } });
    let killed = false;
    let lastProgress = Date.now();
    for (;;) {
      const last = until();
      if (last !== undefined && position !== undefined && position.offset >= last) break;
      let envelope: Envelope;
      try {
        envelope = await client.nextEnvelope(100);
      } catch {
        if (Date.now() - lastProgress > 5000) throw new Error(`stalled at ${JSON.stringify(position)} waiting for ${until()}; seen ${seen.length}`);
        continue;
      }
      lastProgress = Date.now();
      if (envelope.type === 'subscribed' && envelope.requestId === requestId) {
        const data = envelope.data as { offset: number; epoch: string; recovered?: boolean; publications?: { offset: number; payload: unknown }[] };
        if (position !== undefined) {
          expect(data.recovered, `recovery from ${JSON.stringify(position)}`).toBe(true);
          expect(data.epoch).toBe(position.epoch);
        }
        for (const p of data.publications ?? []) seen.push({ offset: p.offset, payload: p.payload, how: 'recovered' });
        position = { offset: data.publications?.at(-1)?.offset ?? position?.offset ?? data.offset, epoch: data.epoch };
        if (generation === 1) subscribed();
        continue;
      }
      if (envelope.type === 'publication') {
        const data = envelope.data as { offset: number; payload: unknown; epoch: string };
        seen.push({ offset: data.offset, payload: data.payload, how: 'live' });
        position = { offset: data.offset, epoch: data.epoch };
        // Forwarded messages fail in every way the faulty backend knows; they must not disturb delivery.
        if (seen.length % 5 === 0) client.send({ type: 'echo', requestId: `fwd-${seen.length}`, data: { n: seen.length } });
        if (killsLeft.length > 0 && seen.length >= killsLeft[0]!) {
          killsLeft = killsLeft.slice(1);
          client.ws.terminate();
          killed = true;
          break;
        }
        continue;
      }
      if (envelope.type === 'error') {
        expect(envelope.data.code, JSON.stringify(envelope)).toBe('BACKEND_ERROR');
        continue;
      }
      throw new Error(`unexpected envelope ${JSON.stringify(envelope)}`);
    }
    if (!killed) {
      await client.close();
      return seen;
    }
  }
}

function expectEveryAcknowledgedOnce(seen: Seen[], acknowledged: Acknowledged[]): void {
  expect(seen.map((s) => s.offset)).toEqual(acknowledged.map((a) => a.offset));
  expect(seen.map((s) => String(s.payload))).toEqual(acknowledged.map((a) => a.payload));
}

const kills = fc.array(fc.integer({ min: 1, max: 115 }), { minLength: 1, maxLength: 4 });

describe.each([
  ['one in-memory node', 1],
  ['two nodes sharing Redis', 2],
] as const)('nothing lost: %s', (_name, nodeCount) => {
  const backend = forSuite(startFaultyBackend);
  const redis = nodeCount > 1 ? suiteRedis() : undefined;
  const nodes: TestNode[] = Array.from({ length: nodeCount }, (_, i) =>
    forSuite(() =>
      startRealtimeNode(
        {
          topics: [topic('acme:*', { historySize: HISTORY, historyTtlSeconds: 600 })],
          limits: { messagesPerSecond: 100_000 },
          ...(redis ? { backplane: redis.url, nodeId: `lossless-${i}` } : {}),
        },
        backend.url,
      ),
    ),
  );
  let round = 0;

  it('has every acknowledged publication in history before the acknowledgement arrives, under concurrent publishers', async () => {
    const acknowledged = await publishAll(nodes, 'acked', 200, 8);
    expect(acknowledged.map((a) => a.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('delivers a publication live only once history holds it', async () => {
    const reader = await connectRealtime(nodes[nodes.length - 1]!, 'acme', 'watcher');
    await reader.request({ type: 'subscribe', data: { topic: 'ordered' } });
    const publishing = publishAll(nodes.slice(0, 1), 'ordered', 30, 1);
    for (let n = 1; n <= 30; n++) {
      const envelope = await reader.nextEnvelope();
      const offset = envelope.data.offset as number;
      expect(offset).toBe(n);
      const history = await expectApi(nodes[0]!, 200, 'GET', `${V1}/topics/acme:ordered/history?sinceOffset=${offset - 1}&limit=1`);
      expect((history.publications as unknown[]).length).toBe(1);
    }
    await publishing;
    await reader.close();
  });

  it('a client killed mid-stream any number of times, with a failing forward backend, recovers every acknowledged publication exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(kills, async (killAfter) => {
        const name = `stream-${++round}`;
        const goal: { last?: number } = {};
        let ready!: () => void;
        const subscribed = new Promise<void>((resolve) => (ready = resolve));
        const reading = recoveringReader(nodes, name, killAfter, () => goal.last, ready);
        await subscribed;
        // Publishers on one node only: see the known bug below for publishers on several.
        const acknowledged = await publishAll(nodes.slice(0, 1), name, 120, 3);
        goal.last = acknowledged.at(-1)!.offset;
        const seen = await reading;
        expectEveryAcknowledgedOnce(seen, acknowledged);
      }),
      { numRuns: 4 },
    );
  }, 60_000);

  // Each node delivers its own publications at once and the others' through the backplane:
  // NodeHub holds a later offset until the earlier ones arrive (PublicationOrder).
  it('delivers publications in offset order to a subscriber while several nodes publish concurrently', async () => {
    const reader = await connectRealtime(nodes[0]!, 'acme', 'in-order');
    await reader.request({ type: 'subscribe', data: { topic: 'interleaved' } });
    const acknowledged = await publishAll(nodes, 'interleaved', 400, 8);
    const offsets: number[] = [];
    while (offsets.length < acknowledged.length) offsets.push((await reader.nextEnvelope()).data.offset as number);
    await reader.close();
    expect(offsets).toEqual(acknowledged.map((a) => a.offset));
  }, 60_000);
});
