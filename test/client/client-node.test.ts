/**
 * The client SDK against a real node, with `ws` as its WebSocket: connect, subscribe,
 * publications, request/reply and errors, recovery after a server-side disconnect, auth
 * failures, backoff, close().
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  SwitchboardClient,
  SwitchboardClientError,
  payloadBytes,
  type PublicationEvent,
  type SwitchboardClientOptions,
} from '../../src/client/index.js';
import { eventually, V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { gate, nextEvent, type Gate, publish, recordEvents, startClientNode, startEchoBackend } from './support.js';
import { signToken } from '../support/tokens.js';

describe('SwitchboardClient against a node (ws)', () => {
  const clients: SwitchboardClient[] = [];

  const client = (overrides: Partial<SwitchboardClientOptions> = {}, path = '/rt'): SwitchboardClient => {
    const created = new SwitchboardClient({
      url: node.wsUrl(path),
      tenantId: 'acme',
      userId: 'alice',
      WebSocket,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, factor: 2, jitter: true },
      ...overrides,
    });
    clients.push(created);
    return created;
  };
  /** A client whose next getToken() can be held, so a reconnect waits while the test publishes. */
  const heldClient = (overrides: Partial<SwitchboardClientOptions> = {}) => {
    let held: Gate | undefined;
    let calls = 0;
    const sb = client({
      getToken: async () => {
        calls++;
        if (held !== undefined) await held.promise;
        return signToken('acme', 'alice');
      },
      ...overrides,
    });
    return {
      sb,
      tokenCalls: () => calls,
      hold: () => {
        held = gate();
      },
      release: () => {
        const opened = held;
        held = undefined;
        opened?.open();
      },
    };
  };
  const withToken = async (overrides: Partial<SwitchboardClientOptions> = {}, path = '/rt'): Promise<SwitchboardClient> =>
    client({ token: await signToken(overrides.tenantId ?? 'acme', overrides.userId ?? 'alice'), ...overrides }, path);

  const backend = forSuite(startEchoBackend);
  const node = forSuite(() => startClientNode(backend));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('connects, subscribes and receives publications of every payload kind', async () => {
    const sb = await withToken();
    const events = recordEvents(sb);
    const connected = await sb.connect();
    expect(connected).toMatchObject({ tenantId: 'acme', userId: 'alice', reconnected: false });
    expect(sb.state).toBe('connected');
    expect(sb.connectionId).toBe(connected.connectionId);
    const record = await node.api('GET', `${V1}/connections/${connected.connectionId}?view=FULL`);
    expect(record.json).toMatchObject({ id: connected.connectionId, tenantId: 'acme', userId: 'alice' });

    const received: PublicationEvent[] = [];
    const subscribed = await sb.subscribe('feed', (p) => received.push(p));
    expect(subscribed).toMatchObject({ topic: 'acme:feed', offset: 0 });
    expect(subscribed.recovered).toBeUndefined();
    expect(sb.topics()).toEqual(['acme:feed']);

    await publish(node, 'acme:feed', '{"n":1}');
    await publish(node, 'acme:feed', 'plain words');
    await publish(node, 'acme:feed', '\u0001\u0002\u00ff', 'BINARY');
    await eventually(() => received.length, (n) => n === 3);
    expect(received[0]).toEqual({ topic: 'acme:feed', offset: 1, epoch: subscribed.epoch, payload: { n: 1 }, recovered: false });
    expect(received[1]).toMatchObject({ offset: 2, payload: 'plain words' });
    expect(received[2]).toMatchObject({ offset: 3, encoding: 'base64' });
    expect([...payloadBytes(received[2]!)]).toEqual([...Buffer.from('\u0001\u0002\u00ff')]);
    expect(sb.position('feed')).toEqual({ offset: 3, epoch: subscribed.epoch });
    // The global event sees what the handler saw.
    expect(events.filter((e) => e.name === 'publication').map((e) => e.event)).toEqual(received);

    // Subscribing again adds a handler without a second subscription.
    const second: PublicationEvent[] = [];
    await expect(sb.subscribe('acme:feed', (p) => second.push(p))).resolves.toMatchObject({ offset: 3 });
    await publish(node, 'acme:feed', '4');
    await eventually(() => received.length + second.length, (n) => n === 5);
    expect(second.map((p) => p.payload)).toEqual([4]);

    expect(await sb.ping()).toBeGreaterThanOrEqual(0);
    await sb.unsubscribe('feed');
    expect(sb.topics()).toEqual([]);
    await publish(node, 'acme:feed', '5');
    await sb.ping(); // anything sent before the pong has arrived by now
    expect(received.length).toBe(4);
    expect(events.filter((e) => e.name === 'error')).toEqual([]);
  });

  it('request/reply through the forward integration, with errors as rejections', async () => {
    const sb = await withToken({}, '/rt-echo');
    const messages = recordEvents(sb);
    await sb.connect();
    const reply = await sb.request('echo', { x: 1 });
    expect(reply).toMatchObject({ type: 'echo', data: { x: 1 } });
    expect(typeof reply.requestId).toBe('string');

    const backendError = await sb.request('fail', {}).catch((err: unknown) => err);
    expect(backendError).toBeInstanceOf(SwitchboardClientError);
    expect(backendError).toMatchObject({ code: 'BACKEND_ERROR', status: 500 });

    // A backend that does not echo the requestId: the answer is a 'message' event, the request times out.
    const muted = await sb.request('mute', { y: 2 }, { timeoutMs: 300 }).catch((err: unknown) => err);
    expect(muted).toMatchObject({ code: 'TIMEOUT' });
    expect(messages.filter((e) => e.name === 'message').map((e) => e.event)).toEqual([
      expect.objectContaining({ type: 'pushed', data: { y: 2 } }),
    ]);

    // send(): fire and forget; the echo comes back as a message without a pending request.
    const echoed = nextEvent(sb, 'message');
    sb.send('hello', { z: 3 });
    expect(await echoed).toMatchObject({ type: 'echo', data: { z: 3 } });

    await expect(sb.request('subscribe', { topic: 'x' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('server errors carry code and field', async () => {
    const sb = await withToken();
    await sb.connect();
    await expect(sb.request('nope', {})).rejects.toMatchObject({ code: 'UNKNOWN_TYPE', field: 'type' });
    const forbidden = await sb.subscribe('globex:feed').catch((err: unknown) => err);
    expect(forbidden).toMatchObject({ code: 'FORBIDDEN_TENANT', field: 'data.topic', topic: 'globex:feed' });
    expect(sb.topics()).toEqual([]);
    await expect(sb.subscribe('has space')).rejects.toMatchObject({ code: 'BAD_REQUEST', field: 'data.topic' });
  });

  it('after a server-side disconnect: reconnects with a fresh token, recovers exactly the missed publications in order, then live ones', async () => {
    const { sb, hold, release, tokenCalls } = heldClient();
    const events = recordEvents(sb);
    const first = await sb.connect();
    const received: PublicationEvent[] = [];
    const { epoch } = await sb.subscribe('room', (p) => received.push(p));
    await publish(node, 'acme:room', JSON.stringify({ n: 1 }));
    await eventually(() => received.length, (n) => n === 1);

    // The next token is held back, so the client stays away while three are published.
    hold();
    const disconnected = nextEvent(sb, 'disconnected');
    expect((await node.api('DELETE', `${V1}/connections/${first.connectionId}`)).status).toBe(200);
    expect(await disconnected).toMatchObject({ code: 1000, willReconnect: true });
    await eventually(tokenCalls, (n) => n === 2);
    expect(sb.state).toBe('connecting');
    for (let n = 2; n <= 4; n++) await publish(node, 'acme:room', JSON.stringify({ n }));

    const recovered = nextEvent(sb, 'recovered');
    const reconnected = nextEvent(sb, 'connected');
    release();
    const again = await reconnected;
    expect(again.reconnected).toBe(true);
    expect(again.connectionId).not.toBe(first.connectionId);
    expect(await recovered).toEqual({ topic: 'acme:room', recovered: true, delivered: 3, since: { offset: 1, epoch } });

    await publish(node, 'acme:room', JSON.stringify({ n: 5 }));
    await eventually(() => received.length, (n) => n >= 5);
    await sb.ping();
    expect(received.map((p) => [p.offset, p.payload, p.recovered])).toEqual([
      [1, { n: 1 }, false],
      [2, { n: 2 }, true],
      [3, { n: 3 }, true],
      [4, { n: 4 }, true],
      [5, { n: 5 }, false],
    ]);
    expect(received.every((p) => p.epoch === epoch)).toBe(true);
    expect(tokenCalls()).toBe(2);
    expect(events.filter((e) => e.name === 'recoveryFailed' || e.name === 'error')).toEqual([]);
    expect(events.filter((e) => e.name === 'connecting' || e.name === 'connected' || e.name === 'disconnected').map((e) => e.name)).toEqual([
      'connecting',
      'connected',
      'disconnected',
      'connecting',
      'connected',
    ]);
  });

  it('says recoveryFailed when history no longer covers the gap, hands over what it has and goes on live', async () => {
    const { sb, hold, release, tokenCalls } = heldClient({ reconnect: { initialDelayMs: 30, maxDelayMs: 30, factor: 1, jitter: false } });
    const first = await sb.connect();
    const received: PublicationEvent[] = [];
    await sb.subscribe('tiny.feed', (p) => received.push(p));
    await publish(node, 'acme:tiny.feed', '1');
    await eventually(() => received.length, (n) => n === 1);

    hold();
    const disconnected = nextEvent(sb, 'disconnected');
    await node.api('DELETE', `${V1}/connections/${first.connectionId}`);
    expect(await disconnected).toMatchObject({ willReconnect: true, delayMs: 30 });
    await eventually(tokenCalls, (n) => n === 2);
    // historySize 2: of offsets 2..5 only 4 and 5 are kept.
    for (let n = 2; n <= 5; n++) await publish(node, 'acme:tiny.feed', String(n));
    const recoveryFailed = nextEvent(sb, 'recoveryFailed');
    release();
    const failed = await recoveryFailed;
    expect(failed).toMatchObject({ topic: 'acme:tiny.feed', recovered: false, since: { offset: 1 } });
    // What history still holds (4 and 5) may come along, flagged recovered; the node may also
    // hand nothing over when recovery fails. Either way the position jumps to 5, so the live
    // 6 follows without a gap resubscribe.
    const tail = [4, 5].slice(2 - failed.delivered);
    await publish(node, 'acme:tiny.feed', '6');
    await eventually(() => received.length, (n) => n === 2 + tail.length);
    await sb.ping();
    expect(received.map((p) => [p.offset, p.recovered])).toEqual([[1, false], ...tail.map((offset) => [offset, true]), [6, false]]);
    expect(sb.position('tiny.feed')).toMatchObject({ offset: 6 });
  });

  it('a publication from a server-side subscription and presence events reach the client', async () => {
    const alice = await withToken();
    const connected = await alice.connect();
    await alice.subscribe('lobby');
    const joined = nextEvent(alice, 'join');
    const bob = await withToken({ userId: 'bob' });
    const bobConnected = await bob.connect();
    await bob.subscribe('lobby');
    expect(await joined).toEqual({ topic: 'acme:lobby', connectionId: bobConnected.connectionId, userId: 'bob' });
    const left = nextEvent(alice, 'leave');
    await bob.close();
    expect(await left).toMatchObject({ topic: 'acme:lobby', connectionId: bobConnected.connectionId });

    const subscribed = await node.api('POST', `${V1}/connections/${connected.connectionId}:subscribe`, { topic: 'acme:side' });
    expect(subscribed.status).toBe(200);
    const publication = nextEvent(alice, 'publication');
    await publish(node, 'acme:side', '"quoted"');
    expect(await publication).toMatchObject({ topic: 'acme:side', offset: 1, payload: 'quoted' });
  });

  it('a refused token: connect rejects with the 1008 reason and the client does not retry', async () => {
    const sb = client({ token: await signToken('acme', 'mallory') });
    const events = recordEvents(sb);
    const error = await sb.connect().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SwitchboardClientError);
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', closeCode: 1008, message: 'token user does not match query parameter "userId"' });
    expect(sb.state).toBe('idle');
    await new Promise((r) => setTimeout(r, 100));
    expect(events.filter((e) => e.name === 'connecting')).toHaveLength(1);
    expect(events.find((e) => e.name === 'disconnected')?.event).toEqual({
      code: 1008,
      reason: 'token user does not match query parameter "userId"',
      willReconnect: false,
    });

    const garbage = client({ token: 'not-a-jwt' });
    await expect(garbage.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED', closeCode: 1008 });
  });

  it('with getToken, a refused token is retried once with a fresh one', async () => {
    const expired = await signToken('acme', 'alice', {}, Math.floor(Date.now() / 1000) - 60);
    const tokens = [expired, await signToken('acme', 'alice')];
    let calls = 0;
    const sb = client({ getToken: () => tokens[calls++]! });
    const events = recordEvents(sb);
    await expect(sb.connect()).resolves.toMatchObject({ reconnected: false });
    expect(calls).toBe(2);
    expect(events.find((e) => e.name === 'disconnected')?.event).toEqual({ code: 1008, reason: 'token expired', willReconnect: true, delayMs: 0 });
    expect(events.filter((e) => e.name === 'connecting').map((e) => e.event)).toEqual([{ attempt: 1 }, { attempt: 2 }]);

    let badCalls = 0;
    const stubborn = client({
      getToken: () => {
        badCalls++;
        return expired;
      },
    });
    await expect(stubborn.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'token expired' });
    expect(badCalls).toBe(2);
  });

  it('backoff grows exponentially up to the ceiling, with jitter, and gives up after maxAttempts', async () => {
    const deadPort = await freePort();
    const draws = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    const sb = new SwitchboardClient({
      url: `ws://127.0.0.1:${deadPort}/rt`,
      tenantId: 'acme',
      userId: 'alice',
      token: 'unused',
      WebSocket,
      reconnect: { initialDelayMs: 20, maxDelayMs: 160, factor: 2, jitter: true, maxAttempts: 6 },
      random: () => draws.shift() ?? 0,
    });
    clients.push(sb);
    const events = recordEvents(sb);
    const error = await sb.connect().catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'CONNECT_FAILED' });
    const disconnects = events.filter((e) => e.name === 'disconnected').map((e) => e.event as { code: number; willReconnect: boolean; delayMs?: number });
    // Full jitter with a draw of 0.5: half of 20, 40, 80, 160, 160 (ceiling), 160.
    expect(disconnects.map((d) => d.delayMs)).toEqual([10, 20, 40, 80, 80, 80, undefined]);
    expect(disconnects.map((d) => d.willReconnect)).toEqual([true, true, true, true, true, true, false]);
    expect(disconnects.every((d) => d.code === 1006)).toBe(true);
    expect(events.filter((e) => e.name === 'connecting').map((e) => (e.event as { attempt: number }).attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('close(): pending requests reject, nothing reconnects, connect() starts over', async () => {
    const slow = await withToken({}, '/rt-echo');
    await slow.connect();
    const pending = slow.request('hang', {}, { timeoutMs: 5000 }).catch((err: unknown) => err);
    await backend.waitFor((r) => r.body.includes('"hang"'));
    const disconnected = nextEvent(slow, 'disconnected');
    await slow.close();
    expect(await pending).toMatchObject({ code: 'CLOSED' });
    expect(await disconnected).toEqual({ code: 1000, reason: 'client closed', willReconnect: false });
    expect(slow.state).toBe('closed');
    await expect(slow.request('echo', {})).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    expect(() => slow.send('echo', {})).toThrow(/not connected/);

    // Subscriptions survive close(); a later connect() resubscribes and recovers.
    const sb = await withToken();
    await sb.connect();
    const received: PublicationEvent[] = [];
    await sb.subscribe('paused', (p) => received.push(p));
    await sb.close();
    const events = recordEvents(sb);
    await publish(node, 'acme:paused', 'while closed');
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual([]);
    const recovered = nextEvent(sb, 'recovered');
    await sb.connect();
    expect(await recovered).toMatchObject({ topic: 'acme:paused', recovered: true, delivered: 1 });
    expect(received.map((p) => [p.offset, p.payload, p.recovered])).toEqual([[1, 'while closed', true]]);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
