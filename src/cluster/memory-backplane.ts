/**
 * The backplane of nodes that share one process: by default a single node (the embedded
 * default, nothing to connect to), or several nodes on one `MemoryBus` (tests, and the shape an
 * in-machine backplane for worker processes takes). The Hub above runs the same code as on
 * Redis or NATS; only the transport differs: calls and events cross by reference, history and
 * idempotency live in this process.
 */
import { Unavailable } from '../errors/index.js';
import type { Clock } from '../time/index.js';
import { systemClock } from '../time/index.js';
import {
  NodeNotListening,
  type Backplane,
  type BackplaneHandlers,
  type FanoutEvent,
  type HistoryRetentionSettings,
  type RemoteAnswer,
  type RemoteRequest,
  type SharedHistory,
  type SharedIdempotency,
} from './backplane.js';
import { MemoryTopicHistory } from './history-memory.js';
import type { HistoryQuery, HistoryResult, Payload, Publication, PublishResult, StreamPosition } from './hub.js';
import { IdempotencyCache } from './idempotency-memory.js';

/** What the nodes of one process share: who is live, the history and the idempotency keys. */
export class MemoryBus {
  readonly nodes = new Map<string, BackplaneHandlers>();
  readonly history: MemoryTopicHistory;
  readonly idempotency: IdempotencyCache<PublishResult>;

  constructor(readonly clock: Clock = systemClock) {
    this.history = new MemoryTopicHistory(clock);
    this.idempotency = new IdempotencyCache<PublishResult>(clock);
  }
}

/** History of the bus behind the asynchronous interface every backplane offers. */
class BusHistory implements SharedHistory {
  constructor(private readonly store: MemoryTopicHistory) {}

  async append(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<{ publication: Publication; epoch: string }> {
    return this.store.append(topic, payload, retention);
  }

  async read(topic: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.store.read(topic, query);
  }

  async position(topic: string): Promise<StreamPosition> {
    return this.store.position(topic);
  }
}

class BusIdempotency implements SharedIdempotency {
  constructor(private readonly cache: IdempotencyCache<PublishResult>) {}

  async get(key: string): Promise<PublishResult | undefined> {
    return this.cache.get(key);
  }

  async setIfAbsent(key: string, result: PublishResult): Promise<PublishResult> {
    const first = this.cache.get(key);
    if (first !== undefined) return first;
    this.cache.set(key, result);
    return result;
  }
}

export class MemoryBackplane implements Backplane {
  readonly name = 'memory';
  readonly kind = 'memory';
  readonly healthy = true;
  readonly history: SharedHistory;
  readonly idempotency: SharedIdempotency;
  private nodeId: string | undefined;

  constructor(private readonly bus: MemoryBus = new MemoryBus()) {
    this.history = new BusHistory(bus.history);
    this.idempotency = new BusIdempotency(bus.idempotency);
  }

  async start(nodeId: string, handlers: BackplaneHandlers): Promise<void> {
    if (this.bus.nodes.has(nodeId)) throw new Unavailable(`node id ${nodeId} is already live on this memory backplane`);
    this.nodeId = nodeId;
    this.bus.nodes.set(nodeId, handlers);
  }

  async stop(): Promise<void> {
    if (this.nodeId !== undefined) this.bus.nodes.delete(this.nodeId);
    this.nodeId = undefined;
  }

  onHealthChange(): void {
    // Never lost: it lives in this process.
  }

  request(nodeId: string, request: RemoteRequest): Promise<RemoteAnswer> {
    const handlers = this.bus.nodes.get(nodeId);
    if (handlers === undefined) return Promise.reject(new NodeNotListening(`node ${nodeId} is not running`));
    return handlers.request(request);
  }

  fanout(event: FanoutEvent): Promise<number> {
    // One node alone (the embedded default) has no one to tell: no promise chain, no copies.
    if (this.bus.nodes.size <= 1) return NOTHING_DELIVERED;
    let delivered = 0;
    for (const [nodeId, handlers] of this.bus.nodes) {
      if (nodeId !== this.nodeId) delivered += handlers.fanout([event])[0] ?? 0;
    }
    return Promise.resolve(delivered);
  }

  async liveNodes(): Promise<string[]> {
    return [...this.bus.nodes.keys()].sort();
  }

  async isLive(nodeId: string): Promise<boolean> {
    return this.bus.nodes.has(nodeId);
  }
}

const NOTHING_DELIVERED = Promise.resolve(0);
