/**
 * The client SDK against a scripted fake WebSocket: what a real node does not easily show
 * (a dead connection, a publication racing its subscribe answer, an offset gap), plus the
 * emitter, the backoff formula and the no-Node-imports rule of src/client.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SwitchboardClient,
  TypedEmitter,
  backoffCeiling,
  backoffDelay,
  base64ToBytes,
  bytesToBase64,
  DEFAULT_RECONNECT,
  type PublicationEvent,
  type SwitchboardClientOptions,
} from '../../src/client/index.js';
import { eventually } from '../support/harness.js';
import { nextEvent, recordEvents } from './support.js';

interface Frame {
  type: string;
  data?: Record<string, unknown>;
  requestId?: string;
  tenantId?: string;
}

/** A WebSocket whose server side the test plays. */
class FakeSocket {
  static sockets: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  readonly sent: Frame[] = [];
  closedWith: { code?: number; reason?: string } | undefined;

  constructor(readonly url: string) {
    FakeSocket.sockets.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) };
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }), 0);
  }

  // ---- the server's side ----

  accept(connectionId = `conn-${FakeSocket.sockets.length}`): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push({ type: 'connected', data: { connectionId, tenantId: 'acme', userId: 'alice' } });
  }

  push(envelope: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify({ tenantId: 'acme', timestamp: '2026-01-01T00:00:00Z', ...envelope }) });
  }

  dropped(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The frames of a type sent so far. */
  sentOf(type: string): Frame[] {
    return this.sent.filter((f) => f.type === type);
  }

  static last(): FakeSocket {
    const socket = FakeSocket.sockets[FakeSocket.sockets.length - 1];
    if (socket === undefined) throw new Error('no socket opened');
    return socket;
  }
}

const publication = (topic: string, offset: number, epoch = 'e1', payload: unknown = offset): Record<string, unknown> => ({
  type: 'publication',
  data: { topic, offset, epoch, payload },
});

describe('SwitchboardClient with a scripted server', () => {
  const clients: SwitchboardClient[] = [];
  const client = (overrides: Partial<SwitchboardClientOptions> = {}): SwitchboardClient => {
    const created = new SwitchboardClient({
      url: 'ws://gateway.test/rt?keep=1',
      tenantId: 'acme',
      userId: 'alice',
      token: 't0k',
      WebSocket: FakeSocket,
      reconnect: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: true },
      pingIntervalMs: 0,
      ...overrides,
    });
    clients.push(created);
    return created;
  };
  const connected = async (sb: SwitchboardClient): Promise<FakeSocket> => {
    const done = sb.connect();
    const socket = FakeSocket.last();
    socket.accept();
    await done;
    return socket;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    FakeSocket.sockets = [];
  });

  it('puts tenantId, userId and token in the query, keeping what the URL had', async () => {
    const sb = client();
    await connected(sb);
    const url = new URL(FakeSocket.last().url);
    expect(Object.fromEntries(url.searchParams)).toEqual({ keep: '1', tenantId: 'acme', userId: 'alice', token: 't0k' });
    expect(FakeSocket.last().binaryType).toBe('arraybuffer');
  });

  it('a ping without pong within the timeout closes the dead connection and reconnects', async () => {
    const sb = client({ pingIntervalMs: 20, pingTimeoutMs: 40 });
    const first = await connected(sb);
    const disconnected = nextEvent(sb, 'disconnected');
    const event = await disconnected;
    expect(event).toMatchObject({ code: 4000, reason: 'no pong within 40 ms', willReconnect: true });
    expect(first.closedWith).toEqual({ code: 4000, reason: 'no pong within 40 ms' });
    expect(first.sentOf('ping')).toHaveLength(1);
    await eventually(() => FakeSocket.sockets.length, (n) => n === 2);
    const reconnected = nextEvent(sb, 'connected');
    FakeSocket.last().accept('conn-again');
    expect(await reconnected).toMatchObject({ connectionId: 'conn-again', reconnected: true });
  });

  it('answered pings keep the connection', async () => {
    const sb = client({ pingIntervalMs: 15, pingTimeoutMs: 100 });
    const socket = await connected(sb);
    const answered = new Set<string>();
    const timer = setInterval(() => {
      for (const ping of socket.sentOf('ping')) {
        if (!answered.has(ping.requestId!)) {
          answered.add(ping.requestId!);
          socket.push({ type: 'pong', data: {}, requestId: ping.requestId });
        }
      }
    }, 5);
    try {
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      clearInterval(timer);
    }
    expect(answered.size).toBeGreaterThanOrEqual(3);
    expect(sb.state).toBe('connected');
    expect(FakeSocket.sockets).toHaveLength(1);
  });

  it('no connected envelope within connectTimeoutMs: the attempt is abandoned and retried', async () => {
    const sb = client({ connectTimeoutMs: 30 });
    const done = sb.connect();
    const event = await nextEvent(sb, 'disconnected');
    expect(event).toMatchObject({ code: 4001, willReconnect: true });
    await eventually(() => FakeSocket.sockets.length, (n) => n === 2);
    FakeSocket.last().accept();
    await expect(done).resolves.toMatchObject({ reconnected: false });
  });

  it('on resubscribe, a live publication that beats the answer comes after the recovered ones, and none twice', async () => {
    const sb = client();
    const received: PublicationEvent[] = [];
    const events = recordEvents(sb);
    const socket = await connected(sb);
    const subscribing = sb.subscribe('feed', (p) => received.push(p));
    const [request] = socket.sentOf('subscribe');
    expect(request).toMatchObject({ data: { topic: 'acme:feed' }, tenantId: 'acme' });
    socket.push({ type: 'subscribed', data: { topic: 'acme:feed', offset: 1, epoch: 'e1' }, requestId: request!.requestId });
    await expect(subscribing).resolves.toEqual({ topic: 'acme:feed', offset: 1, epoch: 'e1' });
    socket.push(publication('acme:feed', 2));
    socket.dropped();

    await eventually(() => FakeSocket.sockets.length, (n) => n === 2);
    const next = FakeSocket.last();
    next.accept();
    const [resubscribe] = next.sentOf('subscribe');
    expect(resubscribe!.data).toEqual({ topic: 'acme:feed', since: { offset: 2, epoch: 'e1' } });
    // Live 5 (and a duplicate 4) arrive before the answer that recovers 3 and 4.
    next.push(publication('acme:feed', 4));
    next.push(publication('acme:feed', 5));
    expect(received.map((p) => p.offset)).toEqual([2]);
    next.push({
      type: 'subscribed',
      requestId: resubscribe!.requestId,
      data: { topic: 'acme:feed', offset: 4, epoch: 'e1', recovered: true, publications: [{ offset: 2, payload: 2 }, { offset: 3, payload: 3 }, { offset: 4, payload: 4 }] },
    });
    next.push(publication('acme:feed', 5));
    next.push(publication('acme:feed', 6));
    expect(received.map((p) => [p.offset, p.recovered])).toEqual([
      [2, false],
      [3, true],
      [4, true],
      [5, false],
      [6, false],
    ]);
    const recovery = events.find((e) => e.name === 'recovered');
    expect(recovery?.event).toEqual({ topic: 'acme:feed', recovered: true, delivered: 2, since: { offset: 2, epoch: 'e1' } });
  });

  it('a gap in live offsets is filled by resubscribing from the last one seen', async () => {
    const sb = client();
    const received: PublicationEvent[] = [];
    const socket = await connected(sb);
    const subscribing = sb.subscribe('feed', (p) => received.push(p));
    socket.push({ type: 'subscribed', data: { topic: 'acme:feed', offset: 0, epoch: 'e1' }, requestId: socket.sentOf('subscribe')[0]!.requestId });
    await subscribing;
    socket.push(publication('acme:feed', 1));
    socket.push(publication('acme:feed', 4)); // 2 and 3 went missing
    const resubscribe = socket.sentOf('subscribe')[1];
    expect(resubscribe?.data).toEqual({ topic: 'acme:feed', since: { offset: 1, epoch: 'e1' } });
    socket.push({
      type: 'subscribed',
      requestId: resubscribe!.requestId,
      data: { topic: 'acme:feed', offset: 4, epoch: 'e1', recovered: true, publications: [2, 3, 4].map((offset) => ({ offset, payload: offset })) },
    });
    expect(received.map((p) => p.offset)).toEqual([1, 2, 3, 4]);
  });

  it('a new epoch resets the position: recoveryFailed, then the new stream from its start', async () => {
    const sb = client();
    const received: PublicationEvent[] = [];
    const events = recordEvents(sb);
    const socket = await connected(sb);
    const subscribing = sb.subscribe('feed', (p) => received.push(p));
    socket.push({ type: 'subscribed', data: { topic: 'acme:feed', offset: 7, epoch: 'old' }, requestId: socket.sentOf('subscribe')[0]!.requestId });
    await subscribing;
    socket.dropped();
    await eventually(() => FakeSocket.sockets.length, (n) => n === 2);
    const next = FakeSocket.last();
    next.accept();
    const resubscribe = next.sentOf('subscribe')[0]!;
    expect(resubscribe.data).toMatchObject({ since: { offset: 7, epoch: 'old' } });
    next.push({ type: 'subscribed', requestId: resubscribe.requestId, data: { topic: 'acme:feed', offset: 2, epoch: 'new', recovered: false, publications: [] } });
    next.push(publication('acme:feed', 3, 'new'));
    expect(received.map((p) => [p.offset, p.epoch])).toEqual([[3, 'new']]);
    expect(events.find((e) => e.name === 'recoveryFailed')?.event).toMatchObject({ recovered: false, delivered: 0 });
    expect(sb.position('feed')).toEqual({ offset: 3, epoch: 'new' });
  });

  it('a subscribe in flight when the connection drops is sent again and resolves after the reconnect', async () => {
    const sb = client();
    const socket = await connected(sb);
    const subscribing = sb.subscribe('feed');
    expect(socket.sentOf('subscribe')).toHaveLength(1);
    socket.dropped();
    await eventually(() => FakeSocket.sockets.length, (n) => n === 2);
    const next = FakeSocket.last();
    next.accept();
    const request = next.sentOf('subscribe')[0]!;
    expect(request.data).toEqual({ topic: 'acme:feed' });
    next.push({ type: 'subscribed', requestId: request.requestId, data: { topic: 'acme:feed', offset: 3, epoch: 'e1' } });
    await expect(subscribing).resolves.toEqual({ topic: 'acme:feed', offset: 3, epoch: 'e1' });
    expect(sb.topics()).toEqual(['acme:feed']);
  });

  it('subscribe before connect waits for the connection; since is honoured on the first subscribe', async () => {
    const sb = client();
    const subscribing = sb.subscribe('feed', undefined, { since: { offset: 10, epoch: 'e9' } });
    const socket = await connected(sb);
    const request = socket.sentOf('subscribe')[0]!;
    expect(request.data).toEqual({ topic: 'acme:feed', since: { offset: 10, epoch: 'e9' } });
    socket.push({ type: 'subscribed', requestId: request.requestId, data: { topic: 'acme:feed', offset: 11, epoch: 'e9', recovered: true, publications: [{ offset: 11, payload: 'x' }] } });
    await expect(subscribing).resolves.toEqual({ topic: 'acme:feed', offset: 11, epoch: 'e9', recovered: true });
  });

  it('other frames become message and raw events; unanswered errors become error events', async () => {
    const sb = client();
    const events = recordEvents(sb);
    const socket = await connected(sb);
    socket.push({ type: 'custom', data: { a: 1 } });
    socket.onmessage?.({ data: 'not json' });
    socket.onmessage?.({ data: new Uint8Array([1, 2, 3]).buffer });
    socket.push({ type: 'error', data: { code: 'RATE_LIMITED', message: 'slow down' } });
    expect(events.map((e) => e.name)).toEqual(['connecting', 'connected', 'message', 'raw', 'raw', 'error']);
    expect(events[2]!.event).toMatchObject({ type: 'custom', data: { a: 1 } });
    expect(events[3]!.event).toEqual({ data: 'not json' });
    expect(events[4]!.event).toEqual({ data: new Uint8Array([1, 2, 3]) });
    expect(events[5]!.event).toMatchObject({ code: 'RATE_LIMITED', message: 'slow down' });
  });

  it('a listener that throws is reported as an error event and does not break delivery', async () => {
    const sb = client();
    const errors: Error[] = [];
    sb.on('error', (err) => errors.push(err));
    const socket = await connected(sb);
    const seen: number[] = [];
    const subscribing = sb.subscribe('feed', () => {
      throw new Error('handler bug');
    });
    sb.subscribe('feed', (p) => seen.push(p.offset)).catch(() => undefined);
    socket.push({ type: 'subscribed', data: { topic: 'acme:feed', offset: 0, epoch: 'e1' }, requestId: socket.sentOf('subscribe')[0]!.requestId });
    await subscribing;
    socket.push(publication('acme:feed', 1));
    expect(seen).toEqual([1]);
    expect(errors.map((e) => e.message)).toEqual(['handler bug']);
  });

  it('close() during a reconnect wait stops it; a drop without reconnect gives up', async () => {
    const sb = client({ reconnect: { initialDelayMs: 50, maxDelayMs: 50, jitter: false } });
    const socket = await connected(sb);
    socket.dropped(1001, 'going away');
    expect(sb.state).toBe('connecting');
    await sb.close();
    await new Promise((r) => setTimeout(r, 80));
    expect(FakeSocket.sockets).toHaveLength(1);
    expect(sb.state).toBe('closed');

    const once = client({ reconnect: false });
    const events = recordEvents(once);
    const onlySocket = await connected(once);
    onlySocket.dropped(1011, 'oops');
    expect(once.state).toBe('idle');
    expect(events.filter((e) => e.name === 'disconnected').map((e) => e.event)).toEqual([{ code: 1011, reason: 'oops', willReconnect: false }]);
    expect(events.filter((e) => e.name === 'error').map((e) => e.event)).toEqual([expect.objectContaining({ code: 'CONNECT_FAILED' })]);
  });

  it('needs a WebSocket implementation and a valid URL', () => {
    const noGlobal = (globalThis as { WebSocket?: unknown }).WebSocket === undefined;
    if (noGlobal) {
      expect(() => new SwitchboardClient({ url: 'ws://x/rt', tenantId: 'a', userId: 'b' })).toThrow(/WebSocket/);
    }
    expect(() => new SwitchboardClient({ url: 'http://x/rt', tenantId: 'a', userId: 'b', WebSocket: FakeSocket })).toThrow(/ws: or wss:/);
    expect(() => new SwitchboardClient({ url: 'ws://x/rt', tenantId: 'a:b', userId: 'b', WebSocket: FakeSocket })).toThrow(/tenantId/);
  });
});

describe('TypedEmitter', () => {
  class Clock extends TypedEmitter<{ tick: number; stop: { why: string } }> {
    fire<K extends 'tick' | 'stop'>(name: K, event: { tick: number; stop: { why: string } }[K]): void {
      this.emit(name, event);
    }
  }

  it('on/off/once', () => {
    const clock = new Clock();
    const ticks: number[] = [];
    const stops: string[] = [];
    const listener = (n: number): void => {
      ticks.push(n);
    };
    const off = clock.on('tick', listener);
    clock.once('stop', (e) => stops.push(e.why));
    clock.fire('tick', 1);
    clock.fire('stop', { why: 'a' });
    clock.fire('stop', { why: 'b' });
    off();
    clock.fire('tick', 2);
    clock.on('tick', listener);
    clock.off('tick', listener);
    const onceListener = (n: number): void => {
      ticks.push(n * 10);
    };
    clock.once('tick', onceListener);
    clock.off('tick', onceListener);
    clock.fire('tick', 3);
    expect(ticks).toEqual([1]);
    expect(stops).toEqual(['a']);
    expect(clock.listenerCount('tick')).toBe(0);
  });
});

describe('backoff', () => {
  it('grows by the factor up to the ceiling; full jitter spreads over [0, ceiling]', () => {
    const options = { ...DEFAULT_RECONNECT, initialDelayMs: 100, maxDelayMs: 1000, factor: 3 };
    expect([0, 1, 2, 3, 4].map((n) => backoffCeiling(options, n))).toEqual([100, 300, 900, 1000, 1000]);
    expect(backoffDelay(options, 2, () => 0)).toBe(0);
    expect(backoffDelay(options, 2, () => 0.999999)).toBe(900);
    expect(backoffDelay({ ...options, jitter: false }, 2, () => 0)).toBe(900);
    expect(backoffDelay({ ...options, jitter: 0.5 }, 2, () => 0)).toBe(450);
    expect(backoffCeiling(options, 5000)).toBe(1000);
  });

  it('rejects nonsense options', () => {
    expect(() => new SwitchboardClient({ url: 'ws://x/rt', tenantId: 'a', userId: 'b', WebSocket: FakeSocket, reconnect: { factor: 0.5 } })).toThrow(/factor/);
    expect(() => new SwitchboardClient({ url: 'ws://x/rt', tenantId: 'a', userId: 'b', WebSocket: FakeSocket, reconnect: { jitter: 2 } })).toThrow(/jitter/);
  });
});

describe('base64 helpers', () => {
  it('round-trips every byte value without Buffer', () => {
    const bytes = new Uint8Array(256 * 4).map((_, i) => i % 256);
    const encoded = bytesToBase64(bytes);
    expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
    expect(base64ToBytes(encoded)).toEqual(bytes);
  });
});

describe('src/client stays browser-safe', () => {
  it('imports nothing Node-only and uses no Node globals', () => {
    const dir = join(import.meta.dirname, '../../src/client');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const source = readFileSync(join(dir, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      const imports = [...source.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
      for (const specifier of imports) expect(specifier, `${file} imports ${specifier}`).toMatch(/^\.\/[\w-]+\.js$/);
      expect(source, `${file} uses Buffer`).not.toMatch(/\bBuffer\b/);
      expect(source, `${file} uses process`).not.toMatch(/\bprocess\b/);
      expect(source, `${file} uses require`).not.toMatch(/\brequire\(/);
    }
  });
});
