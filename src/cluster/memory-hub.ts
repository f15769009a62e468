import { InvalidArgument, NotFound } from '../errors/index.js';
import type { Clock } from '../time/index.js';
import { OutboundFrame, type ConnectionRecord, type ConnectionRegistry } from '../connections/index.js';
import { topicSettingsFor, type TopicSettings } from '../config/index.js';
import type {
  ConnectionView,
  DeliveryResult,
  HistoryQuery,
  HistoryResult,
  Hub,
  ListFilter,
  ListPage,
  ListResult,
  Payload,
  PresenceResult,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  SubscribeResult,
} from './hub.js';
import { deliverPublication, deliverRaw, type EnvelopeFramer } from './delivery.js';
import { listLocal } from './listing.js';
import {
  DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
  announceLocally,
  announcesJoinLeave,
  requirePresence,
  requireRoomForSubscription,
  requireTopicOfTenant,
} from './topic-rules.js';
import { presenceEntry, viewOf } from './view.js';
import { MemoryTopicHistory } from './history-memory.js';
import { IdempotencyCache } from './idempotency-memory.js';

export interface MemoryHubOptions {
  nodeId: string;
  registry: ConnectionRegistry;
  clock: Clock;
  topics: TopicSettings[];
  framer: EnvelopeFramer;
  /** Default 128 (`limits.maxSubscriptionsPerConnection`). */
  maxSubscriptionsPerConnection?: number;
}

const NO_HISTORY: Pick<TopicSettings, 'historySize' | 'historyTtlSeconds'> = { historySize: 0, historyTtlSeconds: 300 };

/** The Hub of a node that is the whole cluster: every answer comes from the local registry. */
export class MemoryHub implements Hub {
  readonly nodeId: string;
  private readonly registry: ConnectionRegistry;
  private readonly clock: Clock;
  private readonly topics: TopicSettings[];
  private readonly framer: EnvelopeFramer;
  private readonly historyStore: MemoryTopicHistory;
  private readonly idempotency: IdempotencyCache<PublishResult>;
  private readonly maxSubscriptions: number;

  constructor(options: MemoryHubOptions) {
    this.nodeId = options.nodeId;
    this.registry = options.registry;
    this.clock = options.clock;
    this.topics = options.topics;
    this.framer = options.framer;
    this.historyStore = new MemoryTopicHistory(options.clock);
    this.idempotency = new IdempotencyCache<PublishResult>(options.clock);
    this.maxSubscriptions = options.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
  }

  async get(connectionId: string): Promise<ConnectionView> {
    return viewOf(this.require(connectionId));
  }

  async send(connectionId: string, payload: Payload): Promise<void> {
    const record = this.require(connectionId);
    if (!record.transport.write(new OutboundFrame(payload.data, payload.binary))) {
      throw new NotFound(`connection ${connectionId} is closed`);
    }
  }

  async disconnect(connectionId: string, code = 1000, reason = ''): Promise<void> {
    this.require(connectionId).transport.close(code, reason);
  }

  async list(filter: ListFilter, page: ListPage): Promise<ListResult> {
    const found = listLocal(this.registry, filter, decodePageToken(page.pageToken), page.pageSize);
    return { connections: found.connections, nextPageToken: found.more ? encodePageToken(found.lastSeq) : '' };
  }

  async subscribe(connectionId: string, topic: string, options: SubscribeOptions = {}): Promise<SubscribeResult> {
    const record = this.require(connectionId);
    requireTopicOfTenant(record, topic);
    requireRoomForSubscription(record, topic, this.maxSubscriptions);
    // History is read and the index updated in the same tick, so no publication can fall between.
    let recovered: boolean | undefined;
    let publications: SubscribeResult['publications'] = [];
    if (options.since !== undefined) {
      const missed = this.historyStore.read(topic, { sinceOffset: options.since.offset, epoch: options.since.epoch });
      recovered = missed.complete;
      // A client told to reload its state must not apply a partial tail first.
      publications = recovered ? missed.publications : [];
    }
    const position = this.historyStore.position(topic);
    const added = this.registry.subscribe(record, topic);
    if (added && announcesJoinLeave(this.topics, topic)) this.announce('join', topic, record);
    return { offset: position.offset, epoch: position.epoch, publications, ...(recovered === undefined ? {} : { recovered }) };
  }

  async unsubscribe(connectionId: string, topic: string): Promise<void> {
    const record = this.require(connectionId);
    if (this.registry.unsubscribe(record, topic) && announcesJoinLeave(this.topics, topic)) {
      this.announce('leave', topic, record);
    }
  }

  /** Called by the edge when a connection goes, so subscribers see its leave events. */
  backplaneStatus(): undefined {
    return undefined;
  }

  connectionGone(record: ConnectionRecord): void {
    if (record.subscriptions === undefined) return;
    for (const topic of record.subscriptions) {
      if (announcesJoinLeave(this.topics, topic)) this.announce('leave', topic, record);
    }
  }

  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<PublishResult> {
    return this.publishNow(topic, payload, options);
  }

  /** The synchronous body of publish: the in-process benchmark and the API share it. */
  publishNow(topic: string, payload: Payload, options: PublishOptions = {}): PublishResult {
    const idempotencyKey = options.idempotencyKey === undefined ? undefined : `${topic}\u0000${options.idempotencyKey}`;
    if (idempotencyKey !== undefined) {
      const first = this.idempotency.get(idempotencyKey);
      if (first !== undefined) return first;
    }
    const settings = topicSettingsFor(this.topics, topic) ?? NO_HISTORY;
    const { publication, epoch } = this.historyStore.append(topic, payload, settings);
    const subscribers = this.registry.subscribersOf(topic);
    const delivered =
      subscribers === undefined
        ? 0
        : deliverPublication(subscribers, publication, () => this.framer.publication(topic, publication, epoch));
    const result: PublishResult = { offset: publication.offset, epoch, delivered };
    if (idempotencyKey !== undefined) this.idempotency.set(idempotencyKey, result);
    return result;
  }

  async sendToUser(userId: string, payload: Payload, tenantId?: string): Promise<DeliveryResult> {
    const recipients = this.registry.ofUser(userId);
    if (recipients === undefined) return { delivered: 0 };
    const frame = new OutboundFrame(payload.data, payload.binary);
    const accept = tenantId === undefined ? undefined : (record: ConnectionRecord) => record.tenantId === tenantId;
    return { delivered: deliverRaw(recipients, frame, accept) };
  }

  async broadcast(tenantId: string, payload: Payload): Promise<DeliveryResult> {
    const recipients = this.registry.ofTenant(tenantId);
    if (recipients === undefined) return { delivered: 0 };
    return { delivered: deliverRaw(recipients, new OutboundFrame(payload.data, payload.binary)) };
  }

  async presence(topic: string): Promise<PresenceResult> {
    requirePresence(this.topics, topic);
    const subscribers = this.registry.subscribersOf(topic);
    const connections: PresenceResult['connections'] = [];
    const users = new Set<string>();
    if (subscribers !== undefined) {
      for (const record of subscribers) {
        connections.push(presenceEntry(record));
        if (record.userId !== undefined) users.add(record.userId);
      }
    }
    return { connections, users: [...users] };
  }

  async history(topic: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.historyStore.read(topic, query);
  }

  async close(): Promise<void> {
    // Nothing to release: the registry and history belong to this process.
  }

  private require(connectionId: string): ConnectionRecord {
    const record = this.registry.get(connectionId);
    if (record === undefined) throw new NotFound(`connection ${connectionId} not found`);
    return record;
  }

  private announce(action: 'join' | 'leave', topic: string, record: ConnectionRecord): void {
    announceLocally(this.registry, this.framer, action, topic, presenceEntry(record));
  }

}

const PAGE_TOKEN_PREFIX = 'seq:';

function encodePageToken(seq: number): string {
  return Buffer.from(`${PAGE_TOKEN_PREFIX}${seq}`).toString('base64url');
}

function decodePageToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const seq = text.startsWith(PAGE_TOKEN_PREFIX) ? Number(text.slice(PAGE_TOKEN_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 0) throw new InvalidArgument('pageToken is not a token this API issued', 'pageToken');
  return seq;
}
