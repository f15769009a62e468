/**
 * Fan-out over one cluster-wide subject. The events handed over in one turn of the event
 * loop travel as one message (split only to stay under the server's max_payload); every
 * other node delivers them and answers with one acknowledgement carrying a delivered count
 * per event; each caller resolves with the sum over nodes for its own event once every peer
 * acknowledged, or at its deadline with what had arrived.
 *
 * Membership announcements (a node joining or leaving) ride the same subject and the same
 * acknowledgements, so when start() or stop() returns every peer has updated its view.
 *
 * Wire format (JSON):
 *   batch   {"o": origin, "b": batchId, "e": [event, …]}
 *   control {"o": origin, "b": batchId, "c": "join" | "leave"}
 *   ack     {"n": node, "b": batchId, "c": [delivered, …]}
 */
import type { Msg } from 'nats';
import { ResourceExhausted } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { FanoutEvent } from './backplane.js';
import type { NatsLink } from './nats-link.js';

/** Room left in a message for the envelope around the events. */
const ENVELOPE_BYTES = 256;
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export type Membership = 'join' | 'leave';

export interface FanoutReceiver {
  /** Delivers another node's events here; one count per event. */
  deliver(events: FanoutEvent[]): number[];
  /** Another node joined or left. */
  membership(kind: Membership, nodeId: string): void;
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

interface Batch {
  id: number;
  waiters: Waiter[];
  waiting: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

export class FanoutChannel {
  private queue: Waiter[] = [];
  private flushScheduled = false;
  private readonly batches = new Map<number, Batch>();
  private nextBatchId = 1;
  /**
   * Peers that let a batch time out (crashed, or cut off, while their liveness has not lapsed
   * yet): later batches do not wait for them until they are heard from again, so a dead peer
   * costs one timeout instead of one per fan-out until it lapses.
   */
  private readonly unresponsive = new Set<string>();

  constructor(
    private readonly link: NatsLink,
    private readonly nodeId: string,
    private readonly subject: string,
    private readonly ackSubject: string,
    /** The other nodes believed live, whose acknowledgements a batch waits for. */
    private readonly peers: () => Iterable<string>,
    private readonly receiver: FanoutReceiver,
    private readonly log: Logger | undefined,
  ) {}

  /** Waiters not yet settled and batch timers armed, for leak checks. */
  get diagnostics(): { pending: number; timers: number } {
    let pending = this.queue.length;
    let timers = 0;
    for (const batch of this.batches.values()) {
      pending += batch.waiters.filter((waiter) => !waiter.done).length;
      if (batch.timer !== undefined) timers++;
    }
    return { pending, timers };
  }

  send(event: FanoutEvent, timeoutMs: number): Promise<number> {
    if (!this.link.healthy) return Promise.reject(this.link.unavailable());
    const json = JSON.stringify(event);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ json, bytes: Buffer.byteLength(json), deadline: Date.now() + timeoutMs, sum: 0, done: false, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Tells every peer this node joined or leaves; resolves once all acknowledged or at the timeout. */
  announce(kind: Membership, timeoutMs: number): Promise<void> {
    if (!this.link.healthy) return Promise.reject(this.link.unavailable());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { json: '', bytes: 0, deadline: Date.now() + timeoutMs, sum: 0, done: false, resolve: () => resolve(), reject };
      const id = this.nextBatchId++;
      this.dispatch(id, [waiter], `{"o":${JSON.stringify(this.nodeId)},"b":${id},"c":${JSON.stringify(kind)}}`);
    });
  }

  /** A fan-out or announcement from another node (or our own echo, ignored). */
  receive(msg: Msg): void {
    let envelope: { o?: unknown; b?: unknown; e?: unknown; c?: unknown };
    try {
      envelope = msg.json();
    } catch {
      return;
    }
    if (typeof envelope.o !== 'string' || envelope.o === this.nodeId || typeof envelope.b !== 'number') return;
    this.unresponsive.delete(envelope.o);
    let counts: number[] = [];
    if (envelope.c === 'join' || envelope.c === 'leave') this.receiver.membership(envelope.c, envelope.o);
    else if (Array.isArray(envelope.e)) {
      try {
        counts = this.receiver.deliver(envelope.e as FanoutEvent[]);
      } catch (err) {
        this.log?.error({ err }, 'delivering fanned-out events failed');
        counts = envelope.e.map(() => 0);
      }
    }
    if (msg.reply === undefined || msg.reply === '') return;
    try {
      msg.respond(`{"n":${JSON.stringify(this.nodeId)},"b":${envelope.b},"c":${JSON.stringify(counts)}}`);
    } catch (err) {
      this.log?.debug({ err: (err as Error).message }, 'fan-out acknowledgement not sent');
    }
  }

  /** An acknowledgement from a peer for one of our batches. */
  acknowledge(msg: Msg): void {
    let ack: { n?: unknown; b?: unknown; c?: unknown };
    try {
      ack = msg.json();
    } catch {
      return;
    }
    if (typeof ack.n !== 'string' || typeof ack.b !== 'number') return;
    // Every peer acknowledges every batch, waited for or not: this is how one comes back.
    this.unresponsive.delete(ack.n);
    const batch = this.batches.get(ack.b);
    if (batch === undefined) return;
    const counts = Array.isArray(ack.c) ? (ack.c as unknown[]) : [];
    batch.waiters.forEach((waiter, i) => {
      const count = counts[i];
      if (typeof count === 'number' && Number.isFinite(count)) waiter.sum += count;
    });
    batch.waiting.delete(ack.n);
    if (batch.waiting.size === 0) this.complete(batch);
  }

  /** The connection dropped or the backplane stops: nobody waits for acknowledgements any more. */
  failAll(err: Error): void {
    const queued = this.queue;
    this.queue = [];
    for (const waiter of queued) waiter.reject(err);
    for (const batch of this.batches.values()) {
      clearTimeout(batch.timer);
      for (const waiter of batch.waiters) this.settle(waiter, err);
    }
    this.batches.clear();
  }

  private flush(): void {
    this.flushScheduled = false;
    const waiters = this.queue;
    this.queue = [];
    if (waiters.length === 0) return;
    if (!this.link.healthy) {
      for (const waiter of waiters) waiter.reject(this.link.unavailable());
      return;
    }
    const limit = this.maxPayload() - ENVELOPE_BYTES;
    let chunk: Waiter[] = [];
    let bytes = 0;
    for (const waiter of waiters) {
      if (waiter.bytes > limit) {
        waiter.reject(new ResourceExhausted(`a fan-out event of ${waiter.bytes} bytes exceeds the backplane's message limit`));
        continue;
      }
      if (chunk.length > 0 && bytes + waiter.bytes + 1 > limit) {
        this.sendChunk(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(waiter);
      bytes += waiter.bytes + 1;
    }
    if (chunk.length > 0) this.sendChunk(chunk);
  }

  private sendChunk(waiters: Waiter[]): void {
    const id = this.nextBatchId++;
    this.dispatch(id, waiters, `{"o":${JSON.stringify(this.nodeId)},"b":${id},"e":[${waiters.map((w) => w.json).join(',')}]}`);
  }

  private dispatch(id: number, waiters: Waiter[], payload: string): void {
    const waiting = new Set<string>();
    for (const peer of this.peers()) if (peer !== this.nodeId && !this.unresponsive.has(peer)) waiting.add(peer);
    const batch: Batch = { id, waiters, waiting, timer: undefined };
    try {
      this.link.handles.nc.publish(this.subject, payload, { reply: this.ackSubject });
    } catch (err) {
      const failure = this.link.translate(err);
      for (const waiter of waiters) this.settle(waiter, failure);
      return;
    }
    // With no peer to wait for the batch is done; a node that joined unseen still gets it.
    if (waiting.size === 0) return this.complete(batch);
    this.batches.set(id, batch);
    this.arm(batch);
  }

  /** Times the batch out at its earliest open deadline; waiters past theirs get what arrived. */
  private arm(batch: Batch): void {
    let next = Infinity;
    for (const waiter of batch.waiters) if (!waiter.done) next = Math.min(next, waiter.deadline);
    if (next === Infinity) {
      this.batches.delete(batch.id);
      return;
    }
    clearTimeout(batch.timer);
    batch.timer = setTimeout(() => {
      const now = Date.now();
      for (const waiter of batch.waiters) if (!waiter.done && waiter.deadline <= now) this.settle(waiter);
      for (const peer of batch.waiting) {
        if (this.unresponsive.has(peer)) continue;
        this.unresponsive.add(peer);
        this.log?.warn({ peer }, 'peer did not acknowledge a fan-out in time: not waited for until it is heard from again');
      }
      this.arm(batch);
    }, Math.max(0, next - Date.now()));
  }

  private complete(batch: Batch): void {
    clearTimeout(batch.timer);
    this.batches.delete(batch.id);
    for (const waiter of batch.waiters) this.settle(waiter);
  }

  private settle(waiter: Waiter, err?: Error): void {
    if (waiter.done) return;
    waiter.done = true;
    if (err === undefined) waiter.resolve(waiter.sum);
    else waiter.reject(err);
  }

  private maxPayload(): number {
    try {
      return this.link.handles.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    } catch {
      return DEFAULT_MAX_PAYLOAD;
    }
  }
}
