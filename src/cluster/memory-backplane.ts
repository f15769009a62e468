/**
 * The backplane of nodes that share one process: by default a single node (the embedded
 * default, nothing to connect to), or several nodes on one `MemoryBus` (tests, and the shape an
 * in-machine backplane for worker processes takes). The Hub above runs the same code as on
 * Redis or NATS; only the transport differs: calls and events cross by reference, history and
 * idempotency live in this process.
 */
import { DeadlineExceeded, NodeIdInUse, Unavailable } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { Clock } from '../time/index.js';
import { systemClock } from '../time/index.js';
import {
  NodeNotListening,
  describeHolder,
  thisProcess,
  type NodeHolder,
  type Backplane,
  type BackplaneHandlers,
  type FanoutEvent,
  type HistoryRetentionSettings,
  type RemoteAnswer,
  type RemoteRequest,
  type SharedHistory,
  type Appended,
  type AlreadyAppended,
  type IdempotentAppend,
} from './backplane.js';
import { deliverBatch } from './fanout-batch.js';
import { MemoryTopicHistory } from './history-memory.js';
import type { HistoryQuery, HistoryResult, Payload, StreamPosition } from './hub.js';
import { IdempotencyCache } from './idempotency-memory.js';

/** What the nodes of one process share: who is live, the history and the idempotency keys. */
export class MemoryBus {
  readonly nodes = new Map<string, BackplaneHandlers>();
  readonly holders = new Map<string, NodeHolder>();
  readonly history: MemoryTopicHistory;
  /** First positions by idempotency key, each with the expiry its append asked for (the cache's own TTL bounds them all). */
  readonly appendedKeys: IdempotencyCache<{ position: StreamPosition; expiresAt: number }>;

  constructor(readonly clock: Clock = systemClock) {
    this.history = new MemoryTopicHistory(clock);
    this.appendedKeys = new IdempotencyCache(clock, { ttlSeconds: MAX_IDEMPOTENCY_TTL_SECONDS });
  }
}

/** History of the bus behind the asynchronous interface every backplane offers. */
class BusHistory implements SharedHistory {
  constructor(private readonly bus: MemoryBus) {}

  append(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<Appended>;
  append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency: IdempotentAppend): Promise<Appended | AlreadyAppended>;
  async append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency?: IdempotentAppend): Promise<Appended | AlreadyAppended> {
    // Look-up and append in one synchronous step: nothing else runs between them.
    const now = this.bus.clock.now();
    if (idempotency !== undefined) {
      const first = this.bus.appendedKeys.get(idempotency.key);
      if (first !== undefined && first.expiresAt > now) return { duplicateOf: first.position };
    }
    const appended = this.bus.history.append(topic, payload, retention);
    if (idempotency !== undefined) {
      const position = { offset: appended.publication.offset, epoch: appended.epoch };
      this.bus.appendedKeys.set(idempotency.key, { position, expiresAt: now + idempotency.ttlSeconds * 1000 });
    }
    return appended;
  }

  async read(topic: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.bus.history.read(topic, query);
  }

  async position(topic: string): Promise<StreamPosition> {
    return this.bus.history.position(topic);
  }
}

export class MemoryBackplane implements Backplane {
  readonly name = 'memory';
  readonly kind = 'memory';
  readonly healthy = true;
  readonly history: SharedHistory;
  private nodeId: string | undefined;
  private forming: { event: FanoutEvent; resolve: (delivered: number) => void }[] = [];
  /** Requests waiting for another node's answer: stop() rejects them. */
  private readonly pending = new Set<(err: Error) => void>();

  constructor(
    private readonly bus: MemoryBus = new MemoryBus(),
    private readonly log?: Logger,
  ) {
    this.history = new BusHistory(bus);
  }

  /** What is in flight, for leak checks. */
  get diagnostics(): { pendingRequests: number; pendingFanouts: number; timers: number } {
    return { pendingRequests: this.pending.size, pendingFanouts: this.forming.length, timers: this.pending.size };
  }

  async start(nodeId: string, handlers: BackplaneHandlers, holder: NodeHolder = thisProcess()): Promise<void> {
    const held = this.bus.holders.get(nodeId);
    if (held !== undefined) throw new NodeIdInUse(nodeId, describeHolder(JSON.stringify(held)), this.name);
    this.nodeId = nodeId;
    this.bus.nodes.set(nodeId, handlers);
    this.bus.holders.set(nodeId, holder);
  }

  async stop(): Promise<void> {
    if (this.nodeId !== undefined) {
      this.bus.nodes.delete(this.nodeId);
      this.bus.holders.delete(this.nodeId);
    }
    this.nodeId = undefined;
    const stopped = new Unavailable(`backplane ${this.name} stopped`);
    for (const reject of [...this.pending]) reject(stopped);
  }

  get alone(): boolean {
    return this.bus.nodes.size <= 1;
  }

  onHealthChange(): void {
    // Never lost: it lives in this process.
  }

  request(nodeId: string, request: RemoteRequest, timeoutMs: number): Promise<RemoteAnswer> {
    const handlers = this.bus.nodes.get(nodeId);
    if (handlers === undefined) return Promise.reject(new NodeNotListening(`node ${nodeId} is not running`));
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        clearTimeout(timer);
        if (this.pending.delete(fail)) reject(err);
      };
      const timer = setTimeout(() => fail(new DeadlineExceeded(`node ${nodeId} did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.pending.add(fail);
      handlers.request(request).then(
        (answer) => {
          clearTimeout(timer);
          if (this.pending.delete(fail)) resolve(answer);
        },
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  /** The events of one tick reach each other node as one batch, as on Redis and NATS. */
  fanout(event: FanoutEvent): Promise<number> {
    // One node alone (the embedded default) has no one to tell: no batch, no promise chain.
    if (this.alone) return NOTHING_DELIVERED;
    return new Promise((resolve) => {
      this.forming.push({ event, resolve });
      if (this.forming.length === 1) queueMicrotask(this.sendBatch);
    });
  }

  private readonly sendBatch = (): void => {
    const batch = this.forming;
    this.forming = [];
    const events = batch.map((item) => item.event);
    const delivered = new Array<number>(batch.length).fill(0);
    for (const [nodeId, handlers] of this.bus.nodes) {
      if (nodeId === this.nodeId) continue;
      const counts = deliverBatch((batch) => handlers.fanout(batch), events, this.log);
      for (let i = 0; i < delivered.length; i++) delivered[i]! += counts[i] ?? 0;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(delivered[i]!);
  };

  async liveNodes(): Promise<string[]> {
    return [...this.bus.nodes.keys()].sort();
  }

  async isLive(nodeId: string): Promise<boolean> {
    return this.bus.nodes.has(nodeId);
  }
}

const NOTHING_DELIVERED = Promise.resolve(0);
/** The longest idempotency TTL an append may ask for here (the Hub asks for 300 s). */
const MAX_IDEMPOTENCY_TTL_SECONDS = 3600;
