import type { TopicSettings } from '../config/index.js';
import { topicSettingsFor } from '../config/index.js';
import { OutboundFrame, nodeOfConnectionId, type ConnectionRecord, type ConnectionRegistry } from '../connections/index.js';
import { InvalidArgument, NotFound, Unavailable, errorOfKind, isSwitchboardError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { Backplane, BackplaneHandlers, FanoutEvent, RemoteAnswer, RemoteRequest } from './backplane.js';
import { deliverPublication, deliverRaw, type EnvelopeFramer } from './delivery.js';
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
  PresenceEntry,
  PresenceResult,
  Publication,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  SubscribeResult,
} from './hub.js';
import { listLocal, type LocalPage } from './listing.js';
import { announceLocally, announcesJoinLeave, requirePresence, requireTopicOfTenant } from './topic-rules.js';
import { presenceEntry, viewOf } from './view.js';

export interface ClusterHubOptions {
  nodeId: string;
  registry: ConnectionRegistry;
  backplane: Backplane;
  topics: TopicSettings[];
  framer: EnvelopeFramer;
  log: Logger;
  /** How long a cross-node call may take before it answers DEADLINE_EXCEEDED. */
  requestTimeoutMs?: number;
}

const NO_HISTORY = { historySize: 0, historyTtlSeconds: 300 };
const IDEMPOTENCY_TTL_SECONDS = 300;

/** A publication held back from a connection while its recovery reads history. */
interface Recovery {
  record: ConnectionRecord;
  topic: string;
  held: Publication[];
}

/**
 * The Hub of a node in a cluster. Calls for a connection go to the node named in its id;
 * publishes are stored in the shared history, delivered here and fanned out to every other
 * node; list and presence gather every live node's share. A backplane outage leaves this
 * node's own connections reachable and answers cross-node calls UNAVAILABLE.
 */
export class ClusterHub implements Hub {
  readonly nodeId: string;
  private readonly registry: ConnectionRegistry;
  private readonly backplane: Backplane;
  private readonly topics: TopicSettings[];
  private readonly framer: EnvelopeFramer;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly recoveries = new Set<Recovery>();

  constructor(options: ClusterHubOptions) {
    this.nodeId = options.nodeId;
    this.registry = options.registry;
    this.backplane = options.backplane;
    this.topics = options.topics;
    this.framer = options.framer;
    this.log = options.log;
    this.timeoutMs = options.requestTimeoutMs ?? 2000;
  }

  async start(): Promise<void> {
    const handlers: BackplaneHandlers = {
      request: (request) => this.answer(request),
      fanout: (events) => events.map((event) => this.deliverEvent(event)),
    };
    await this.backplane.start(this.nodeId, handlers);
  }

  async close(): Promise<void> {
    await this.backplane.stop();
  }

  // ---- calls for one connection ----

  async get(connectionId: string): Promise<ConnectionView> {
    if (this.isLocal(connectionId)) return viewOf(this.local(connectionId));
    return (await this.remote(connectionId, { op: 'get', connectionId })) as ConnectionView;
  }

  async send(connectionId: string, payload: Payload): Promise<void> {
    if (this.isLocal(connectionId)) return this.sendLocal(connectionId, payload);
    await this.remote(connectionId, { op: 'send', connectionId, data: payload.data.toString('base64'), binary: payload.binary });
  }

  async disconnect(connectionId: string, code = 1000, reason = ''): Promise<void> {
    if (this.isLocal(connectionId)) {
      this.local(connectionId).transport.close(code, reason);
      return;
    }
    await this.remote(connectionId, { op: 'disconnect', connectionId, code, reason });
  }

  async subscribe(connectionId: string, topic: string, options: SubscribeOptions = {}): Promise<SubscribeResult> {
    if (!this.isLocal(connectionId)) {
      return (await this.remote(connectionId, { op: 'subscribe', connectionId, topic })) as SubscribeResult;
    }
    const record = this.local(connectionId);
    requireTopicOfTenant(record, topic);
    if (options.since === undefined) {
      const added = this.registry.subscribe(record, topic);
      if (added) this.announce('join', topic, presenceEntry(record));
      const position = await this.backplane.history.position(topic);
      return { offset: position.offset, epoch: position.epoch, publications: [] };
    }
    // Live publications for this connection are held while history is read, then merged:
    // everything missed, in order, no gap and no duplicate.
    const recovery: Recovery = { record, topic, held: [] };
    this.recoveries.add(recovery);
    const added = this.registry.subscribe(record, topic);
    let missed: HistoryResult;
    try {
      missed = await this.backplane.history.read(topic, { sinceOffset: options.since.offset, epoch: options.since.epoch });
    } catch (err) {
      this.recoveries.delete(recovery);
      if (added) this.registry.unsubscribe(record, topic);
      throw err;
    }
    this.recoveries.delete(recovery);
    const publications = [...missed.publications];
    let last = publications.length > 0 ? publications[publications.length - 1]!.offset : options.since.offset;
    for (const held of recovery.held) {
      if (held.offset > last) {
        publications.push(held);
        last = held.offset;
      }
    }
    if (added) this.announce('join', topic, presenceEntry(record));
    const recovered = missed.complete;
    return {
      offset: Math.max(missed.offset, last),
      epoch: missed.epoch,
      recovered,
      publications: recovered ? publications : [],
    };
  }

  async unsubscribe(connectionId: string, topic: string): Promise<void> {
    if (!this.isLocal(connectionId)) {
      await this.remote(connectionId, { op: 'unsubscribe', connectionId, topic });
      return;
    }
    const record = this.local(connectionId);
    if (this.registry.unsubscribe(record, topic)) this.announce('leave', topic, presenceEntry(record));
  }

  /** The edge tells us a local connection went: its topics hear it leave, on every node. */
  connectionGone(record: ConnectionRecord): void {
    if (record.subscriptions === undefined) return;
    for (const topic of record.subscriptions) this.announce('leave', topic, presenceEntry(record));
  }

  // ---- fan-out ----

  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<PublishResult> {
    this.requireBackplane();
    const key = options.idempotencyKey === undefined ? undefined : `${topic}\u0000${options.idempotencyKey}`;
    if (key !== undefined) {
      const first = await this.backplane.idempotency.get(key);
      if (first !== undefined) return first;
    }
    const settings = topicSettingsFor(this.topics, topic) ?? NO_HISTORY;
    // Stored before it is acknowledged or delivered: a recovering client can always find it.
    const { publication, epoch } = await this.backplane.history.append(topic, payload, settings);
    const local = this.deliverPublicationLocally(topic, publication, epoch);
    const remote = await this.fanoutSafely({
      kind: 'publication',
      topic,
      offset: publication.offset,
      epoch,
      publishedAt: publication.publishedAt,
      data: payload.data.toString('base64'),
      binary: payload.binary,
    });
    const result: PublishResult = { offset: publication.offset, epoch, delivered: local + remote };
    if (key === undefined) return result;
    return this.backplane.idempotency.setIfAbsent(key, result, IDEMPOTENCY_TTL_SECONDS);
  }

  async sendToUser(userId: string, payload: Payload, tenantId?: string): Promise<DeliveryResult> {
    this.requireBackplane();
    const event: FanoutEvent = { kind: 'user', userId, data: payload.data.toString('base64'), binary: payload.binary, ...(tenantId === undefined ? {} : { tenantId }) };
    const local = this.deliverEvent(event, payload.data);
    return { delivered: local + (await this.fanoutSafely(event)) };
  }

  async broadcast(tenantId: string, payload: Payload): Promise<DeliveryResult> {
    this.requireBackplane();
    const event: FanoutEvent = { kind: 'tenant', tenantId, data: payload.data.toString('base64'), binary: payload.binary };
    const local = this.deliverEvent(event, payload.data);
    return { delivered: local + (await this.fanoutSafely(event)) };
  }

  // ---- cluster-wide reads ----

  /**
   * Pages walk the live nodes in id order, each node's connections in registration order; the
   * token names the node and the last seq returned there, so paging is exact while nodes come
   * and go (a node that left is skipped, one that joined is reached in its turn).
   */
  async list(filter: ListFilter, page: ListPage): Promise<ListResult> {
    this.requireBackplane();
    const cursor = decodeClusterToken(page.pageToken);
    const nodes = (await this.backplane.liveNodes()).filter((node) => cursor === undefined || node >= cursor.node);
    const connections: ConnectionView[] = [];
    let nextPageToken = '';
    for (const node of nodes) {
      const afterSeq = cursor !== undefined && node === cursor.node ? cursor.seq : 0;
      const wanted = page.pageSize - connections.length;
      const part = node === this.nodeId ? listLocal(this.registry, filter, afterSeq, wanted) : ((await this.ask(node, { op: 'list', filter, afterSeq, pageSize: wanted })) as LocalPage);
      connections.push(...part.connections);
      if (connections.length >= page.pageSize) {
        const lastNodeIndex = nodes.indexOf(node);
        if (part.more) nextPageToken = encodeClusterToken(node, part.lastSeq);
        else if (lastNodeIndex < nodes.length - 1) nextPageToken = encodeClusterToken(nodes[lastNodeIndex + 1]!, 0);
        break;
      }
    }
    return { connections, nextPageToken };
  }

  /** Gathered from every live node at call time: a dead node's entries vanish with it. */
  async presence(topic: string): Promise<PresenceResult> {
    requirePresence(this.topics, topic);
    this.requireBackplane();
    const nodes = await this.backplane.liveNodes();
    const parts = await Promise.all(
      nodes.map((node) => (node === this.nodeId ? Promise.resolve(this.presenceLocal(topic)) : (this.ask(node, { op: 'presence', topic }) as Promise<PresenceEntry[]>))),
    );
    const connections = parts.flat();
    const users = [...new Set(connections.map((c) => c.userId).filter((u): u is string => u !== undefined))];
    return { connections, users };
  }

  async history(topic: string, query: HistoryQuery): Promise<HistoryResult> {
    this.requireBackplane();
    return this.backplane.history.read(topic, query);
  }

  // ---- answering other nodes ----

  private async answer(request: RemoteRequest): Promise<RemoteAnswer> {
    try {
      return { ok: true, value: await this.execute(request) };
    } catch (err) {
      if (isSwitchboardError(err)) return { ok: false, kind: err.kind, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) };
      this.log.error({ err, op: request.op }, 'cluster request failed');
      return { ok: false, kind: 'INTERNAL', message: 'internal error' };
    }
  }

  private async execute(request: RemoteRequest): Promise<unknown> {
    switch (request.op) {
      case 'get':
        return viewOf(this.local(request.connectionId));
      case 'send':
        this.sendLocal(request.connectionId, { data: Buffer.from(request.data, 'base64'), binary: request.binary });
        return {};
      case 'disconnect':
        this.local(request.connectionId).transport.close(request.code, request.reason);
        return {};
      case 'subscribe':
        return this.subscribe(request.connectionId, request.topic);
      case 'unsubscribe':
        await this.unsubscribe(request.connectionId, request.topic);
        return {};
      case 'list':
        return listLocal(this.registry, request.filter, request.afterSeq, request.pageSize);
      case 'presence':
        return this.presenceLocal(request.topic);
    }
  }

  // ---- local delivery ----

  private deliverEvent(event: FanoutEvent, decoded?: Buffer): number {
    switch (event.kind) {
      case 'publication': {
        const publication: Publication = { offset: event.offset, data: Buffer.from(event.data, 'base64'), binary: event.binary, publishedAt: event.publishedAt };
        return this.deliverPublicationLocally(event.topic, publication, event.epoch);
      }
      case 'user': {
        const recipients = this.registry.ofUser(event.userId);
        if (recipients === undefined) return 0;
        const frame = new OutboundFrame(decoded ?? Buffer.from(event.data, 'base64'), event.binary);
        const tenantId = event.tenantId;
        return deliverRaw(recipients, frame, tenantId === undefined ? undefined : (record) => record.tenantId === tenantId);
      }
      case 'tenant': {
        const recipients = this.registry.ofTenant(event.tenantId);
        if (recipients === undefined) return 0;
        return deliverRaw(recipients, new OutboundFrame(decoded ?? Buffer.from(event.data, 'base64'), event.binary));
      }
      case 'presence': {
        const entry: PresenceEntry = { connectionId: event.connectionId };
        if (event.tenantId !== undefined) entry.tenantId = event.tenantId;
        if (event.userId !== undefined) entry.userId = event.userId;
        announceLocally(this.registry, this.framer, event.action, event.topic, entry);
        return 0;
      }
    }
  }

  private deliverPublicationLocally(topic: string, publication: Publication, epoch: string): number {
    const subscribers = this.registry.subscribersOf(topic);
    if (subscribers === undefined) return 0;
    const envelope = (): Buffer => this.framer.publication(topic, publication, epoch);
    if (this.recoveries.size === 0) return deliverPublication(subscribers, publication, envelope);
    let held = 0;
    const live: ConnectionRecord[] = [];
    for (const record of subscribers) {
      const recovery = this.recoveryOf(record, topic);
      if (recovery === undefined) live.push(record);
      else {
        recovery.held.push(publication);
        held++;
      }
    }
    return held + deliverPublication(live, publication, envelope);
  }

  private recoveryOf(record: ConnectionRecord, topic: string): Recovery | undefined {
    for (const recovery of this.recoveries) if (recovery.record === record && recovery.topic === topic) return recovery;
    return undefined;
  }

  private announce(action: 'join' | 'leave', topic: string, entry: PresenceEntry): void {
    if (!announcesJoinLeave(this.topics, topic)) return;
    announceLocally(this.registry, this.framer, action, topic, entry);
    if (!this.backplane.healthy) return;
    this.backplane.fanout({ kind: 'presence', action, topic, ...entry }, this.timeoutMs).catch((err: unknown) => {
      this.log.debug({ err: (err as Error).message, topic }, 'presence event not fanned out');
    });
  }

  private presenceLocal(topic: string): PresenceEntry[] {
    const subscribers = this.registry.subscribersOf(topic);
    return subscribers === undefined ? [] : [...subscribers].map(presenceEntry);
  }

  private sendLocal(connectionId: string, payload: Payload): void {
    if (!this.local(connectionId).transport.write(new OutboundFrame(payload.data, payload.binary))) {
      throw new NotFound(`connection ${connectionId} is closed`);
    }
  }

  // ---- plumbing ----

  private isLocal(connectionId: string): boolean {
    const owner = nodeOfConnectionId(connectionId);
    if (owner === undefined) throw new NotFound(`connection ${connectionId} not found`);
    return owner === this.nodeId;
  }

  private local(connectionId: string): ConnectionRecord {
    const record = this.registry.get(connectionId);
    if (record === undefined) throw new NotFound(`connection ${connectionId} not found`);
    return record;
  }

  private requireBackplane(): void {
    if (!this.backplane.healthy) throw new Unavailable(`backplane ${this.backplane.name} unavailable`);
  }

  /** A call for a connection on another node: 404 at once when that node's liveness lapsed. */
  private async remote(connectionId: string, request: RemoteRequest): Promise<unknown> {
    this.requireBackplane();
    const owner = nodeOfConnectionId(connectionId)!;
    if (!(await this.backplane.isLive(owner))) throw new NotFound(`connection ${connectionId} not found`);
    return this.ask(owner, request);
  }

  private async ask(node: string, request: RemoteRequest): Promise<unknown> {
    const answer = await this.backplane.request(node, request, this.timeoutMs);
    if (answer.ok) return answer.value;
    throw errorOfKind(answer.kind, answer.message, answer.field);
  }

  private async fanoutSafely(event: FanoutEvent): Promise<number> {
    try {
      return await this.backplane.fanout(event, this.timeoutMs);
    } catch (err) {
      // Local delivery already happened and the publication is stored: remote subscribers
      // recover it from history, so the call still succeeds with what was delivered here.
      this.log.warn({ err: (err as Error).message }, 'fan-out to other nodes failed');
      return 0;
    }
  }
}

function encodeClusterToken(node: string, seq: number): string {
  return Buffer.from(`node:${node}:${seq}`).toString('base64url');
}

function decodeClusterToken(token: string | undefined): { node: string; seq: number } | undefined {
  if (token === undefined || token === '') return undefined;
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^node:([a-z0-9][a-z0-9-]{0,19}):(\d+)$/.exec(text);
  if (match === null) throw new InvalidArgument('pageToken is not a token this API issued', 'pageToken');
  return { node: match[1]!, seq: Number(match[2]) };
}
