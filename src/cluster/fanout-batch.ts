/**
 * Fan-out batching and acknowledgements, written once for the backplanes that cross a network
 * (Redis and NATS). The events one node hands over in one turn of the event loop leave as one
 * batch (split only where the transport bounds a message's size); every other node answers a
 * batch with one acknowledgement carrying a delivered count per event; each caller resolves
 * with the sum for its own event once every expected acknowledgement arrived, or at its own
 * deadline with what had arrived by then.
 *
 * The transports differ in what they know of the receivers, and say so when they send:
 * - `{ peers }`: the named peers believed live (NATS keeps a view of them). A peer that lets a
 *   batch time out is not waited for again until it is heard from, so a crashed peer whose
 *   liveness has not lapsed costs one timeout instead of one per fan-out.
 * - `{ receivers }`: how many received it (Redis's PUBLISH answers the count, after the send).
 * Acknowledgements may arrive before the count does; they are kept until it is known.
 */
import { ResourceExhausted } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { FanoutEvent } from './backplane.js';

/** Who a sent batch waits for. */
export type AckExpectation = { peers: Iterable<string> } | { receivers: number };

/** A batch as it leaves: the JSON array of its events, or a control word (NATS membership). */
export type BatchContent = { events: string; control?: undefined } | { control: string; events?: undefined };

export interface FanoutTransport {
  /** False while the connection is down: batches of this tick then fail with `unavailable()`. */
  readonly ready: boolean;
  unavailable(): Error;
  /** The largest content a batch may carry, in bytes (Infinity when the transport has no bound). */
  maxBatchBytes(): number;
  /**
   * Sends one batch. Returns (or resolves with) whom to wait for; throws or rejects with the
   * error the callers should see when the batch could not be sent.
   */
  sendBatch(batchId: number, content: BatchContent): AckExpectation | Promise<AckExpectation>;
}

interface Waiter {
  json: string;
  bytes: number;
  deadline: number;
  sum: number;
  done: boolean;
  resolve(delivered: number): void;
  reject(err: Error): void;
}

interface PendingBatch {
  id: number;
  waiters: Waiter[];
  /** Who acknowledged so far. */
  acked: Set<string>;
  /** Named peers still awaited, or the receiver count; undefined until the send says. */
  expected: Set<string> | number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** Room left in a bounded message for the envelope around the events. */
const ENVELOPE_BYTES = 256;

export class FanoutBatcher {
  private queue: Waiter[] = [];
  private flushScheduled = false;
  private readonly batches = new Map<number, PendingBatch>();
  private nextBatchId = 1;
  /** Named peers that let a batch time out: not waited for until they are heard from again. */
  private readonly unresponsive = new Set<string>();

  constructor(
    private readonly transport: FanoutTransport,
    private readonly log: Logger | undefined,
  ) {}

  /** Callers not yet settled and batch timers armed, for leak checks. */
  get diagnostics(): { pending: number; timers: number } {
    let pending = this.queue.length;
    let timers = 0;
    for (const batch of this.batches.values()) {
      for (const waiter of batch.waiters) if (!waiter.done) pending++;
      if (batch.timer !== undefined) timers++;
    }
    return { pending, timers };
  }

  /** Queues an event for this tick's batch; resolves with the sum of the peers' counts for it. */
  add(event: FanoutEvent, timeoutMs: number): Promise<number> {
    if (!this.transport.ready) return Promise.reject(this.transport.unavailable());
    const json = JSON.stringify(event);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ json, bytes: Buffer.byteLength(json), deadline: Date.now() + timeoutMs, sum: 0, done: false, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** Sends a control word at once, as a batch of its own; resolves once every peer acknowledged or at the timeout. */
  control(word: string, timeoutMs: number): Promise<void> {
    if (!this.transport.ready) return Promise.reject(this.transport.unavailable());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { json: '', bytes: 0, deadline: Date.now() + timeoutMs, sum: 0, done: false, resolve: () => resolve(), reject };
      this.dispatch([waiter], { control: word });
    });
  }

  /** A node delivered or received something of ours: it answers again, so it is waited for again. */
  heardFrom(peer: string): void {
    this.unresponsive.delete(peer);
  }

  /** An acknowledgement of one of this node's batches, with a delivered count per event. */
  acknowledge(batchId: number, peer: string, counts: unknown): void {
    // Every peer acknowledges every batch, waited for or not: this is how one comes back.
    this.unresponsive.delete(peer);
    const batch = this.batches.get(batchId);
    if (batch === undefined || batch.acked.has(peer)) return;
    batch.acked.add(peer);
    if (Array.isArray(counts)) {
      batch.waiters.forEach((waiter, i) => {
        const count: unknown = counts[i];
        if (typeof count === 'number' && Number.isFinite(count)) waiter.sum += count;
      });
    }
    if (typeof batch.expected === 'object') batch.expected.delete(peer);
    if (this.answered(batch)) this.complete(batch);
  }

  /** The connection dropped or the backplane stops: nobody waits for acknowledgements any more. */
  failAll(err: Error): void {
    const queued = this.queue;
    this.queue = [];
    for (const waiter of queued) settle(waiter, err);
    for (const batch of this.batches.values()) {
      clearTimeout(batch.timer);
      for (const waiter of batch.waiters) settle(waiter, err);
    }
    this.batches.clear();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const waiters = this.queue;
    this.queue = [];
    if (waiters.length === 0) return;
    if (!this.transport.ready) {
      const err = this.transport.unavailable();
      for (const waiter of waiters) settle(waiter, err);
      return;
    }
    const limit = this.transport.maxBatchBytes() - ENVELOPE_BYTES;
    let chunk: Waiter[] = [];
    let bytes = 0;
    for (const waiter of waiters) {
      if (waiter.bytes > limit) {
        settle(waiter, new ResourceExhausted(`a fan-out event of ${waiter.bytes} bytes exceeds the backplane's message limit`));
        continue;
      }
      if (chunk.length > 0 && bytes + waiter.bytes + 1 > limit) {
        this.dispatch(chunk, { events: joinEvents(chunk) });
        chunk = [];
        bytes = 0;
      }
      chunk.push(waiter);
      bytes += waiter.bytes + 1;
    }
    if (chunk.length > 0) this.dispatch(chunk, { events: joinEvents(chunk) });
  };

  private dispatch(waiters: Waiter[], content: BatchContent): void {
    const batch: PendingBatch = { id: this.nextBatchId++, waiters, acked: new Set(), expected: undefined, timer: undefined };
    this.batches.set(batch.id, batch);
    let sent: AckExpectation | Promise<AckExpectation>;
    try {
      sent = this.transport.sendBatch(batch.id, content);
    } catch (err) {
      this.fail(batch, err);
      return;
    }
    if (sent instanceof Promise) {
      this.arm(batch);
      sent.then(
        (expectation) => this.expect(batch, expectation),
        (err: unknown) => this.fail(batch, err),
      );
    } else {
      this.expect(batch, sent);
      if (this.batches.has(batch.id)) this.arm(batch);
    }
  }

  private expect(batch: PendingBatch, expectation: AckExpectation): void {
    if (this.batches.get(batch.id) !== batch) return;
    if ('receivers' in expectation) batch.expected = expectation.receivers;
    else {
      const waiting = new Set<string>();
      for (const peer of expectation.peers) if (!this.unresponsive.has(peer) && !batch.acked.has(peer)) waiting.add(peer);
      batch.expected = waiting;
    }
    // With nobody to wait for the batch is done; a node that joined unseen still gets it.
    if (this.answered(batch)) this.complete(batch);
  }

  private answered(batch: PendingBatch): boolean {
    const expected = batch.expected;
    if (expected === undefined) return false;
    return typeof expected === 'number' ? batch.acked.size >= expected : expected.size === 0;
  }

  /** Times the batch out at its earliest open deadline; callers past theirs get what arrived. */
  private arm(batch: PendingBatch): void {
    let next = Infinity;
    for (const waiter of batch.waiters) if (!waiter.done) next = Math.min(next, waiter.deadline);
    clearTimeout(batch.timer);
    batch.timer = undefined;
    if (next === Infinity) {
      this.batches.delete(batch.id);
      return;
    }
    batch.timer = setTimeout(() => this.expire(batch), Math.max(0, next - Date.now()));
  }

  private expire(batch: PendingBatch): void {
    const now = Date.now();
    for (const waiter of batch.waiters) if (!waiter.done && waiter.deadline <= now) settle(waiter);
    if (typeof batch.expected === 'object') {
      for (const peer of batch.expected) {
        if (this.unresponsive.has(peer)) continue;
        this.unresponsive.add(peer);
        this.log?.warn({ peer }, 'peer did not acknowledge a fan-out in time: not waited for until it is heard from again');
      }
    }
    this.arm(batch);
  }

  private complete(batch: PendingBatch): void {
    clearTimeout(batch.timer);
    this.batches.delete(batch.id);
    for (const waiter of batch.waiters) settle(waiter);
  }

  private fail(batch: PendingBatch, err: unknown): void {
    if (this.batches.get(batch.id) !== batch) return;
    clearTimeout(batch.timer);
    this.batches.delete(batch.id);
    const failure = err instanceof Error ? err : new Error(String(err));
    for (const waiter of batch.waiters) settle(waiter, failure);
  }
}

/**
 * The receiving side: delivers another node's events and returns a count per event, zeros
 * when delivery threw (the sender then resolves rather than waits for its timeout).
 */
export function deliverBatch(deliver: (events: FanoutEvent[]) => number[], events: FanoutEvent[], log: Logger | undefined): number[] {
  try {
    return deliver(events);
  } catch (err) {
    log?.error({ err }, 'delivering fanned-out events failed');
    return events.map(() => 0);
  }
}

function joinEvents(waiters: Waiter[]): string {
  return `[${waiters.map((waiter) => waiter.json).join(',')}]`;
}

function settle(waiter: Waiter, err?: Error): void {
  if (waiter.done) return;
  waiter.done = true;
  if (err === undefined) waiter.resolve(waiter.sum);
  else waiter.reject(err);
}
