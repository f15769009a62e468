/**
 * Fan-out over the Redis backplane: the Redis wire of fanout-batch.ts, which owns the
 * batching and the acknowledgements. Every node subscribes to one cluster-wide channel; a
 * batch expects as many acknowledgements as PUBLISH counted receivers besides this node, and
 * each comes back on this node's inbox. A node leaving says so on the same channel, so the
 * others drop the liveness they cached for it.
 */
import type { Logger } from '../observability/index.js';
import type { FanoutEvent } from './backplane.js';
import { deliverBatch, FanoutBatcher, type AckExpectation, type BatchContent, type FanoutTransport } from './fanout-batch.js';
import type { InboxItem, RedisInbox, RedisPublisher } from './redis-inbox.js';

/** On the fan-out channel: one tick's events of one node, or a node leaving. */
type FanoutMessage = { t: 'fan'; src: string; reply: string; id: string; events: FanoutEvent[] } | { t: 'leave'; node: string };

export interface RedisFanoutPeers {
  /** Delivers another node's events here; one count per event. */
  deliver(events: FanoutEvent[]): number[];
  /** Another node left the cluster. */
  left(nodeId: string): void;
}

export class RedisFanout implements FanoutTransport {
  private readonly batcher: FanoutBatcher;
  /** Names acknowledgements from nodes too old to sign theirs, so each still counts once. */
  private anonymous = 0;

  constructor(
    private readonly redis: RedisPublisher,
    private readonly channel: string,
    private readonly inbox: RedisInbox,
    /** This node, as it signs its acknowledgements. */
    private readonly nodeId: string,
    /** This instance: tells its own fan-out messages apart, and prefixes its batch ids. */
    private readonly instance: string,
    private readonly peers: RedisFanoutPeers,
    private readonly log: Logger,
  ) {
    this.batcher = new FanoutBatcher(this, log);
  }

  get diagnostics(): { pending: number; timers: number } {
    return this.batcher.diagnostics;
  }

  get ready(): boolean {
    return this.redis.healthy();
  }

  unavailable(): Error {
    return this.redis.unavailable();
  }

  /** Redis bounds a message at 512 MB; the Hub's own limits stay far below. */
  maxBatchBytes(): number {
    return Infinity;
  }

  send(event: FanoutEvent, timeoutMs: number): Promise<number> {
    return this.batcher.add(event, timeoutMs);
  }

  sendBatch(batchId: number, content: BatchContent): Promise<AckExpectation> {
    const id = JSON.stringify(`${this.instance}.${batchId}`);
    const message = `{"t":"fan","src":${JSON.stringify(this.instance)},"reply":${JSON.stringify(this.inbox.channel)},"id":${id},"events":${content.events ?? '[]'}}`;
    return this.redis.publish(this.channel, message).then(
      // PUBLISH counts this node too: it subscribes to the channel but skips its own events.
      (receivers) => ({ receivers: Math.max(0, receivers - 1) }),
      (err: unknown) => {
        this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'fan-out not sent');
        throw this.redis.unavailable();
      },
    );
  }

  /** Tells the other nodes this one leaves, so they forget its cached liveness. */
  leave(): Promise<number> {
    return this.redis.publish(this.channel, JSON.stringify({ t: 'leave', node: this.nodeId } satisfies FanoutMessage));
  }

  /** A message on the fan-out channel. */
  receive(message: unknown): void {
    const received = message as Partial<{ t: string; node: unknown; src: unknown; reply: unknown; id: unknown; events: unknown }>;
    if (received.t === 'leave') {
      if (typeof received.node === 'string') this.peers.left(received.node);
      return;
    }
    if (received.t !== 'fan' || received.src === this.instance || !Array.isArray(received.events)) return;
    if (typeof received.reply !== 'string' || typeof received.id !== 'string') return;
    const counts = deliverBatch((events) => this.peers.deliver(events), received.events as FanoutEvent[], this.log);
    this.inbox.send(received.reply, { t: 'ack', id: received.id, n: this.nodeId, counts });
  }

  /** An acknowledgement of one of this instance's batches, from this node's inbox. */
  acknowledged(item: Extract<InboxItem, { t: 'ack' }>): void {
    const prefix = `${this.instance}.`;
    if (typeof item.id !== 'string' || !item.id.startsWith(prefix)) return;
    const batchId = Number(item.id.slice(prefix.length));
    const peer = typeof item.n === 'string' ? item.n : `unsigned-${++this.anonymous}`;
    this.batcher.acknowledge(batchId, peer, item.counts);
  }

  failAll(err: Error): void {
    this.batcher.failAll(err);
  }
}
