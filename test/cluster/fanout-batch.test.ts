/**
 * FanoutBatcher, the batching and acknowledgement bookkeeping Redis and NATS share, against a
 * transport of the test's making: both ack models, acknowledgements that beat the count, the
 * timeout with a silent peer, size-bounded batches and failures.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FanoutEvent } from '../../src/cluster/backplane.js';
import { FanoutBatcher, type AckExpectation, type BatchContent, type FanoutTransport } from '../../src/cluster/fanout-batch.js';
import { ResourceExhausted, Unavailable } from '../../src/errors/index.js';

interface Sent {
  id: number;
  content: BatchContent;
}

class FakeTransport implements FanoutTransport {
  ready = true;
  maxBytes = Infinity;
  readonly sent: Sent[] = [];
  /** What each send answers; a function may return a promise (Redis) or throw. */
  answer: (sent: Sent) => AckExpectation | Promise<AckExpectation> = () => ({ peers: ['b', 'c'] });

  unavailable(): Error {
    return new Unavailable('backplane fake unavailable');
  }

  maxBatchBytes(): number {
    return this.maxBytes;
  }

  sendBatch(id: number, content: BatchContent): AckExpectation | Promise<AckExpectation> {
    const sent = { id, content };
    this.sent.push(sent);
    return this.answer(sent);
  }

  events(index: number): FanoutEvent[] {
    return JSON.parse(this.sent[index]!.content.events!) as FanoutEvent[];
  }
}

const event = (userId: string, size = 4): FanoutEvent => ({ kind: 'user', userId, data: 'x'.repeat(size), binary: false });

/** Lets the batch of this tick leave (it is sent on setImmediate). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('FanoutBatcher', () => {
  it('sends the events of one tick as one batch and sums each event’s counts over the named peers', async () => {
    const transport = new FakeTransport();
    const batcher = new FanoutBatcher(transport, undefined);
    const results = [batcher.add(event('u1'), 1000), batcher.add(event('u2'), 1000)];
    await nextTurn();
    expect(transport.sent).toHaveLength(1);
    expect(transport.events(0)).toEqual([event('u1'), event('u2')]);
    const id = transport.sent[0]!.id;
    batcher.acknowledge(id, 'b', [1, 2]);
    batcher.acknowledge(id, 'b', [1, 2]);
    expect(batcher.diagnostics.pending).toBe(2);
    batcher.acknowledge(id, 'c', [10, 'x']);
    expect(await Promise.all(results)).toEqual([11, 2]);
    expect(batcher.diagnostics).toEqual({ pending: 0, timers: 0 });
  });

  it('keeps acknowledgements that arrive before the receiver count, and completes when the count comes', async () => {
    const transport = new FakeTransport();
    let count!: (expectation: AckExpectation) => void;
    transport.answer = () => new Promise((resolve) => (count = resolve));
    const batcher = new FanoutBatcher(transport, undefined);
    const result = batcher.add(event('u'), 1000);
    await nextTurn();
    batcher.acknowledge(transport.sent[0]!.id, 'b', [3]);
    batcher.acknowledge(transport.sent[0]!.id, 'c', [4]);
    count({ receivers: 2 });
    expect(await result).toBe(7);
    expect(batcher.diagnostics).toEqual({ pending: 0, timers: 0 });
  });

  it('resolves 0 at once with nobody to wait for', async () => {
    const transport = new FakeTransport();
    transport.answer = () => ({ receivers: 0 });
    const batcher = new FanoutBatcher(transport, undefined);
    const result = batcher.add(event('u'), 60_000);
    await nextTurn();
    expect(await result).toBe(0);
    expect(batcher.diagnostics).toEqual({ pending: 0, timers: 0 });
  });

  it('resolves at the timeout with what arrived, then waits no more for a named peer that stayed silent until it is heard from', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const transport = new FakeTransport();
    const batcher = new FanoutBatcher(transport, undefined);
    const first = batcher.add(event('u1'), 500);
    await nextTurn();
    batcher.acknowledge(transport.sent[0]!.id, 'b', [2]);
    await vi.advanceTimersByTimeAsync(500);
    expect(await first).toBe(2);
    expect(batcher.diagnostics).toEqual({ pending: 0, timers: 0 });

    // c timed out once: the next batch waits for b only.
    const second = batcher.add(event('u2'), 500);
    await nextTurn();
    batcher.acknowledge(transport.sent[1]!.id, 'b', [1]);
    expect(await second).toBe(1);

    // Heard from again, c is waited for again.
    batcher.heardFrom('c');
    const third = batcher.add(event('u3'), 500);
    await nextTurn();
    batcher.acknowledge(transport.sent[2]!.id, 'b', [1]);
    expect(batcher.diagnostics.pending).toBe(1);
    batcher.acknowledge(transport.sent[2]!.id, 'c', [5]);
    expect(await third).toBe(6);
  });

  it('splits a tick that exceeds the transport’s bound, in order, and refuses an event that alone exceeds it', async () => {
    const transport = new FakeTransport();
    transport.answer = () => ({ receivers: 0 });
    transport.maxBytes = 256 + 200;
    const batcher = new FanoutBatcher(transport, undefined);
    const small = [1, 2, 3].map((i) => batcher.add(event(`u${i}`, 100), 1000));
    const huge = expect(batcher.add(event('big', 1000), 1000)).rejects.toBeInstanceOf(ResourceExhausted);
    await nextTurn();
    await huge;
    expect(await Promise.all(small)).toEqual([0, 0, 0]);
    expect(transport.sent.length).toBeGreaterThan(1);
    expect(transport.sent.flatMap((_, i) => transport.events(i))).toEqual([1, 2, 3].map((i) => event(`u${i}`, 100)));
  });

  it('rejects with the transport’s error when a batch cannot be sent, and everything on failAll', async () => {
    const transport = new FakeTransport();
    transport.answer = () => {
      throw new Unavailable('backplane fake unavailable: publish failed');
    };
    const batcher = new FanoutBatcher(transport, undefined);
    const failed = expect(batcher.add(event('u'), 1000)).rejects.toThrow('publish failed');
    await nextTurn();
    await failed;

    transport.answer = () => ({ peers: ['b'] });
    const waiting = expect(batcher.add(event('u'), 60_000)).rejects.toThrow('stopped');
    await nextTurn();
    const queued = expect(batcher.add(event('v'), 60_000)).rejects.toThrow('stopped');
    batcher.failAll(new Unavailable('backplane fake stopped'));
    await waiting;
    await queued;
    expect(batcher.diagnostics).toEqual({ pending: 0, timers: 0 });

    transport.ready = false;
    await expect(batcher.add(event('w'), 1000)).rejects.toThrow('backplane fake unavailable');
  });
});
