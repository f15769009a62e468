/**
 * Calls from one node to another over the Redis backplane: each node subscribes to its own
 * inbox channel, and everything addressed to one inbox in one tick (requests, their answers,
 * fan-out acknowledgements) leaves as one message.
 */
import { DeadlineExceeded } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { NodeNotListening, type RemoteAnswer, type RemoteRequest } from './backplane.js';

/** On a node's inbox: a request for it, an answer to one of its requests, an ack of one of its fan-outs. */
export type InboxItem =
  | { t: 'req'; id: string; reply: string; req: RemoteRequest }
  | { t: 'ans'; id: string; ans: RemoteAnswer }
  | { t: 'ack'; id: string; n?: string; counts: unknown };

interface InboxMessage {
  items: InboxItem[];
}

/** What the inbox and the fan-out need of the backplane's command connection. */
export interface RedisPublisher {
  /** The backplane's name, for messages. */
  readonly name: string;
  healthy(): boolean;
  /** Resolves with how many subscribers received the message. */
  publish(channel: string, message: string): Promise<number>;
  unavailable(): Error;
}

export interface InboxPeers {
  /** Answers a request addressed to this node. */
  answer(request: RemoteRequest): Promise<RemoteAnswer>;
  /** An acknowledgement of one of this node's fan-out batches. */
  acknowledged(item: Extract<InboxItem, { t: 'ack' }>): void;
  /** Nobody listens on that node's inbox: it is gone even if its liveness has not lapsed yet. */
  notListening(nodeId: string): void;
}

interface PendingRequest {
  node: string;
  resolve(answer: RemoteAnswer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class RedisInbox {
  private readonly requests = new Map<string, PendingRequest>();
  private outbox = new Map<string, InboxItem[]>();
  private flushHandle: NodeJS.Immediate | undefined;
  private sequence = 0;
  private timers = 0;
  private stopped = false;

  constructor(
    /** This node's inbox: where answers and acks for it are sent. */
    readonly channel: string,
    /** Prefix of this instance's request ids. */
    private readonly instance: string,
    private readonly redis: RedisPublisher,
    private readonly peers: InboxPeers,
    private readonly log: Logger,
  ) {}

  get diagnostics(): { pendingRequests: number; queuedItems: number; timers: number } {
    let queuedItems = 0;
    for (const items of this.outbox.values()) queuedItems += items.length;
    return { pendingRequests: this.requests.size, queuedItems, timers: this.timers };
  }

  /** Sends a request to the node whose inbox is `channel`; DEADLINE_EXCEEDED after the timeout. */
  request(nodeId: string, channel: string, request: RemoteRequest, timeoutMs: number): Promise<RemoteAnswer> {
    return new Promise<RemoteAnswer>((resolve, reject) => {
      const id = `${this.instance}.${(++this.sequence).toString(36)}`;
      const pending: PendingRequest = { node: nodeId, resolve, reject, timer: undefined };
      this.timers++;
      pending.timer = setTimeout(() => {
        this.timers--;
        pending.timer = undefined;
        this.settle(id)?.reject(new DeadlineExceeded(`node ${nodeId} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.requests.set(id, pending);
      this.send(channel, { t: 'req', id, reply: this.channel, req: request });
    });
  }

  /** Queues an item for the inbox `channel`; it leaves with the others of this tick. */
  send(channel: string, item: InboxItem): void {
    if (this.stopped) return;
    const items = this.outbox.get(channel);
    if (items === undefined) this.outbox.set(channel, [item]);
    else items.push(item);
    this.flushHandle ??= setImmediate(this.flush);
  }

  /** A message on this node's inbox. */
  receive(message: unknown): void {
    const items = (message as Partial<InboxMessage>).items;
    if (!Array.isArray(items)) return;
    for (const item of items) {
      switch (item.t) {
        case 'req':
          this.answer(item);
          break;
        case 'ans':
          this.settle(item.id)?.resolve(item.ans);
          break;
        case 'ack':
          this.peers.acknowledged(item);
          break;
      }
    }
  }

  /** The connection was lost or the backplane stops: pending requests reject, queued items go. */
  failAll(err: Error): void {
    for (const id of [...this.requests.keys()]) this.settle(id)?.reject(err);
    this.outbox.clear();
  }

  stop(err: Error): void {
    this.stopped = true;
    if (this.flushHandle !== undefined) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    this.failAll(err);
  }

  private readonly flush = (): void => {
    this.flushHandle = undefined;
    const outbox = this.outbox;
    this.outbox = new Map();
    if (!this.redis.healthy()) {
      const err = this.redis.unavailable();
      for (const items of outbox.values()) for (const item of items) if (item.t === 'req') this.settle(item.id)?.reject(err);
      return;
    }
    for (const [channel, items] of outbox) this.sendMessage(channel, items);
  };

  private sendMessage(channel: string, items: InboxItem[]): void {
    this.redis.publish(channel, JSON.stringify({ items } satisfies InboxMessage)).then(
      (receivers) => {
        if (receivers > 0) return;
        for (const item of items) {
          if (item.t !== 'req') continue;
          const pending = this.settle(item.id);
          if (pending === undefined) continue;
          this.peers.notListening(pending.node);
          pending.reject(new NodeNotListening(`node ${pending.node} is not listening on backplane ${this.redis.name}`));
        }
      },
      (err: unknown) => {
        this.log.debug({ err: err instanceof Error ? err.message : String(err), channel }, 'inbox message not sent');
        for (const item of items) if (item.t === 'req') this.settle(item.id)?.reject(this.redis.unavailable());
      },
    );
  }

  private answer(item: Extract<InboxItem, { t: 'req' }>): void {
    Promise.resolve()
      .then(() => this.peers.answer(item.req))
      .catch((err: unknown): RemoteAnswer => {
        this.log.error({ err, op: item.req.op }, 'request handler failed');
        return { ok: false, kind: 'INTERNAL', message: 'internal error' };
      })
      .then((ans) => this.send(item.reply, { t: 'ans', id: item.id, ans }));
  }

  private settle(id: string): PendingRequest | undefined {
    const pending = this.requests.get(id);
    if (pending === undefined) return undefined;
    this.requests.delete(id);
    if (pending.timer !== undefined) {
      clearTimeout(pending.timer);
      this.timers--;
    }
    return pending;
  }
}
