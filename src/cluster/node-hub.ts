import type { TopicSettings } from '../config/index.js';
import { NODE_ID_PATTERN, topicSettingsFor } from '../config/index.js';
import { OutboundFrame, nodeOfConnectionId, type ConnectionRecord, type ConnectionRegistry } from '../connections/index.js';
import { InvalidArgument, NotFound, Unavailable, errorOfKind, isSwitchboardError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { NodeNotListening, thisProcess, type Backplane, type NodeHolder, type BackplaneHandlers, type FanoutEvent, type RemoteAnswer, type RemoteRequest } from './backplane.js';
import { deliverPublication, deliverRaw, type EnvelopeFramer } from './delivery.js';
import { PublicationOrder } from './publication-order.js';
import { RecoveryMerge } from './recovery.js';
import type {
  ConnectionView,
  DeliveryResult,
  DisconnectResult,
  HistoryQuery,
  HistoryResult,
  Hub,
  ListFilter,
  ListPage,
  ListResult,
  Payload,
  PresenceEntry,
  NodeMetrics,
  PresenceResult,
  Publication,
  PublishOptions,
  PublishResult,
  StreamPosition,
  SubscribeOptions,
  SubscribeResult,
} from './hub.js';
import { USER_DISCONNECTED } from './hub.js';
import { listLocal, type LocalPage } from './listing.js';
import {
  DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
  announceLocally,
  announcesJoinLeave,
  requirePresence,
  requireRoomForSubscription,
  requireTopicOfTenant,
} from './topic-rules.js';
import { presenceEntry, viewOf } from './view.js';

export interface NodeHubOptions {
  nodeId: string;
  registry: ConnectionRegistry;
  backplane: Backplane;
  topics: TopicSettings[];
  framer: EnvelopeFramer;
  log: Logger;
  /** How long a cross-node call may take before it answers DEADLINE_EXCEEDED. */
  requestTimeoutMs?: number;
  /** Default 128 (`limits.maxSubscriptionsPerConnection`); enforced for this node's own connections. */
  maxSubscriptionsPerConnection?: number;
  /** Who this node is, for the liveness entry a node refused this node's id is shown. */
  holder?: NodeHolder;
  /** How long the order state of a topic nobody here subscribes to outlives its last publication; tests shorten it. */
  orderIdleMs?: number;
  /** This node's Prometheus text, for `nodeMetrics`; the composition root supplies it so the Hub needs no metrics registry. */
  metricsText?: () => Promise<string>;
}

const NO_HISTORY = { historySize: 0, historyTtlSeconds: 300 };
const IDEMPOTENCY_TTL_SECONDS = 300;

/** A SubscribeResult as it crosses the backplane: JSON, payloads in base64. */
interface WireSubscribeResult extends StreamPosition {
  recovered?: boolean;
  publications: { offset: number; data: string; binary: boolean; publishedAt: number }[];
}

/**
 * The one Hub, whatever the backplane (memory for one node, Redis or NATS for a cluster: the
 * same code runs above the seam, as Centrifuge's node above its Broker). Calls for a connection
 * go to the node named in its id; publishes are stored in the shared history, delivered here
 * and fanned out to every other node; list and presence gather every live node's share. A
 * backplane outage leaves this node's own connections reachable and answers cross-node calls
 * UNAVAILABLE.
 */
export class NodeHub implements Hub {
  readonly nodeId: string;
  private readonly registry: ConnectionRegistry;
  private readonly backplane: Backplane;
  private readonly topics: TopicSettings[];
  private readonly framer: EnvelopeFramer;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly recovery: RecoveryMerge;
  private readonly maxSubscriptions: number;
  private readonly holder: NodeHolder;
  /** Publications from several nodes reach this node's subscribers in offset order. */
  private readonly order: PublicationOrder;
  private readonly metricsText: () => Promise<string>;

  constructor(options: NodeHubOptions) {
    this.nodeId = options.nodeId;
    this.registry = options.registry;
    this.backplane = options.backplane;
    this.topics = options.topics;
    this.framer = options.framer;
    this.log = options.log;
    this.timeoutMs = options.requestTimeoutMs ?? 2000;
    this.recovery = new RecoveryMerge(this.timeoutMs);
    this.maxSubscriptions = options.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
    this.holder = options.holder ?? thisProcess();
    this.metricsText = options.metricsText ?? (() => Promise.resolve(''));
    this.order = new PublicationOrder((topic, publication, epoch) => this.deliverPublicationLocally(topic, publication, epoch), {
      hasSubscribers: (topic) => this.registry.subscribersOf(topic) !== undefined,
      ...(options.orderIdleMs === undefined ? {} : { idleMs: options.orderIdleMs }),
    });
  }

  async start(): Promise<void> {
    const handlers: BackplaneHandlers = {
      request: (request) => this.answer(request),
      fanout: (events) => events.map((event) => this.deliverEvent(event)),
    };
    await this.backplane.start(this.nodeId, handlers, this.holder);
  }

  async close(): Promise<void> {
    await this.backplane.stop();
    this.order.close();
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
      const request: RemoteRequest = { op: 'subscribe', connectionId, topic, ...(options.since === undefined ? {} : { since: options.since }) };
      return decodeSubscribeResult((await this.remote(connectionId, request)) as WireSubscribeResult);
    }
    const record = this.local(connectionId);
    requireTopicOfTenant(record, topic);
    requireRoomForSubscription(record, topic, this.maxSubscriptions);
    if (options.since === undefined) {
      // Subscribed before the position is read, so no publication can fall between the two;
      // undone when the position cannot be read, so a failed call leaves no subscription.
      const added = this.registry.subscribe(record, topic);
      let position: StreamPosition;
      try {
        position = await this.backplane.history.position(topic);
      } catch (err) {
        if (added) this.registry.unsubscribe(record, topic);
        throw err;
      }
      // The subscriber is told this position, so this node's delivery of the topic goes on from it.
      this.order.start(topic, position);
      if (added) this.announce('join', topic, presenceEntry(record));
      return { offset: position.offset, epoch: position.epoch, publications: [] };
    }
    // Live publications for this connection are held while history is read, then merged:
    // everything missed, in order, no gap and no duplicate.
    const recovery = this.recovery.begin(record, topic);
    const added = this.registry.subscribe(record, topic);
    let missed: HistoryResult;
    try {
      missed = await this.backplane.history.read(topic, { sinceOffset: options.since.offset, epoch: options.since.epoch });
    } catch (err) {
      this.recovery.abandon(recovery);
      if (added) this.registry.unsubscribe(record, topic);
      throw err;
    }
    // Before the recovery ends, so what the order held while history was read joins its merge.
    this.order.start(topic, { offset: missed.offset, epoch: missed.epoch });
    const result = this.recovery.finish(recovery, options.since.offset, missed);
    if (added) this.announce('join', topic, presenceEntry(record));
    return result;
  }

  async unsubscribe(connectionId: string, topic: string): Promise<void> {
    if (!this.isLocal(connectionId)) {
      await this.remote(connectionId, { op: 'unsubscribe', connectionId, topic });
      return;
    }
    const record = this.local(connectionId);
    if (this.registry.unsubscribe(record, topic)) this.announce('leave', topic, presenceEntry(record));
  }

  /** The backplane and whether it is reachable now; undefined for the memory backplane. */
  backplaneStatus(): { name: string; healthy: boolean } | undefined {
    if (this.backplane.kind === 'memory') return undefined;
    return { name: this.backplane.name, healthy: this.backplane.healthy };
  }

  /** The edge tells us a local connection went: its topics hear it leave, on every node. */
  connectionGone(record: ConnectionRecord): void {
    this.recovery.forget(record);
    if (record.subscriptions === undefined) return;
    for (const topic of record.subscriptions) this.announce('leave', topic, presenceEntry(record));
  }

  // ---- fan-out ----

  /**
   * A repeated idempotency key publishes nothing and answers the first publish's position with
   * `delivered: 0` (this call reached no one); the look-up and the append are one atomic
   * backplane step, so of several nodes asked at once exactly one publishes.
   */
  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<PublishResult> {
    this.requireBackplane();
    const settings = topicSettingsFor(this.topics, topic) ?? NO_HISTORY;
    // Stored before it is acknowledged or delivered: a recovering client can always find it.
    const history = this.backplane.history;
    const key = options.idempotencyKey;
    const appended = key === undefined ? await history.append(topic, payload, settings) : await history.append(topic, payload, settings, { key: `${topic}\u0000${key}`, ttlSeconds: IDEMPOTENCY_TTL_SECONDS });
    if ('duplicateOf' in appended) return { ...appended.duplicateOf, delivered: 0 };
    const { publication, epoch } = appended;
    // The other nodes' share is handed to the backplane first: its batch is then written
    // before this node's own sockets in the next turn, instead of waiting behind them.
    const remote = this.fanoutToOthers(() => ({
      kind: 'publication',
      topic,
      offset: publication.offset,
      epoch,
      publishedAt: publication.publishedAt,
      data: payload.data.toString('base64'),
      binary: payload.binary,
    }));
    const local = this.orderedDelivery(topic, publication, epoch);
    return { offset: publication.offset, epoch, delivered: local + (remote === undefined ? 0 : await remote) };
  }

  async sendToUser(userId: string, payload: Payload, tenantId?: string): Promise<DeliveryResult> {
    this.requireBackplane();
    // Encoded only for the other nodes: delivery here reads the payload as it is.
    const event: FanoutEvent = { kind: 'user', userId, data: '', binary: payload.binary, ...(tenantId === undefined ? {} : { tenantId }) };
    const remote = this.fanoutToOthers(() => ({ ...event, data: payload.data.toString('base64') }));
    const local = this.deliverEvent(event, payload.data);
    return { delivered: local + (remote === undefined ? 0 : await remote) };
  }

  /** Fanned out like sendToUser: each node closes its own sockets of the user. */
  async disconnectUser(userId: string, tenantId?: string, code: number = USER_DISCONNECTED.code, reason: string = USER_DISCONNECTED.reason): Promise<DisconnectResult> {
    this.requireBackplane();
    const event: FanoutEvent = { kind: 'disconnect-user', userId, code, reason, ...(tenantId === undefined ? {} : { tenantId }) };
    const remote = this.fanoutToOthers(() => event);
    const local = this.deliverEvent(event);
    return { disconnected: local + (remote === undefined ? 0 : await remote) };
  }

  async broadcast(tenantId: string, payload: Payload): Promise<DeliveryResult> {
    this.requireBackplane();
    const event: FanoutEvent = { kind: 'tenant', tenantId, data: '', binary: payload.binary };
    const remote = this.fanoutToOthers(() => ({ ...event, data: payload.data.toString('base64') }));
    const local = this.deliverEvent(event, payload.data);
    return { delivered: local + (remote === undefined ? 0 : await remote) };
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
      const part =
        node === this.nodeId
          ? listLocal(this.registry, filter, afterSeq, wanted)
          : ((await this.askUnlessGone(node, { op: 'list', filter, afterSeq, pageSize: wanted })) as LocalPage | undefined) ?? { connections: [], lastSeq: afterSeq, more: false };
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

  /**
   * Gathered from every live node at call time (scatter-gather): a dead node's entries vanish
   * with it, as soon as nothing listens for it on the backplane.
   */
  async presence(topic: string): Promise<PresenceResult> {
    requirePresence(this.topics, topic);
    this.requireBackplane();
    const nodes = await this.backplane.liveNodes();
    const parts = await Promise.all(
      nodes.map((node) => (node === this.nodeId ? Promise.resolve(this.presenceLocal(topic)) : (this.askUnlessGone(node, { op: 'presence', topic }) as Promise<PresenceEntry[] | undefined>))),
    );
    const connections = parts.flatMap((part) => part ?? []);
    const users = [...new Set(connections.map((c) => c.userId).filter((u): u is string => u !== undefined))];
    return { connections, users };
  }

  /** Every live node's own Prometheus text, gathered like presence: a node gone from the backplane is left out. */
  async nodeMetrics(): Promise<NodeMetrics[]> {
    this.requireBackplane();
    const nodes = await this.backplane.liveNodes();
    const parts = await Promise.all(
      nodes.map(async (nodeId) => {
        const metrics = nodeId === this.nodeId ? await this.metricsText() : ((await this.askUnlessGone(nodeId, { op: 'metrics' })) as string | undefined);
        return metrics === undefined ? undefined : { nodeId, metrics };
      }),
    );
    return parts.filter((part): part is NodeMetrics => part !== undefined);
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
        return encodeSubscribeResult(await this.subscribe(request.connectionId, request.topic, request.since === undefined ? {} : { since: request.since }));
      case 'unsubscribe':
        await this.unsubscribe(request.connectionId, request.topic);
        return {};
      case 'list':
        return listLocal(this.registry, request.filter, request.afterSeq, request.pageSize);
      case 'presence':
        return this.presenceLocal(request.topic);
      case 'metrics':
        return this.metricsText();
    }
  }

  // ---- local delivery ----

  private deliverEvent(event: FanoutEvent, decoded?: Buffer): number {
    switch (event.kind) {
      case 'publication': {
        const publication: Publication = { offset: event.offset, data: Buffer.from(event.data, 'base64'), binary: event.binary, publishedAt: event.publishedAt };
        return this.orderedDelivery(event.topic, publication, event.epoch);
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
      case 'disconnect-user':
        return this.closeUserLocally(event.userId, event.tenantId, event.code, event.reason);
      case 'presence': {
        const entry: PresenceEntry = { connectionId: event.connectionId };
        if (event.tenantId !== undefined) entry.tenantId = event.tenantId;
        if (event.userId !== undefined) entry.userId = event.userId;
        announceLocally(this.registry, this.framer, event.action, event.topic, entry);
        return 0;
      }
    }
  }

  private closeUserLocally(userId: string, tenantId: string | undefined, code: number, reason: string): number {
    const connections = this.registry.ofUser(userId);
    if (connections === undefined) return 0;
    // Copied first: each close takes the record out of the very index being walked.
    let closed = 0;
    for (const record of [...connections]) {
      if (tenantId !== undefined && record.tenantId !== tenantId) continue;
      record.transport.close(code, reason);
      closed++;
    }
    return closed;
  }

  private orderedDelivery(topic: string, publication: Publication, epoch: string): number {
    return this.order.accept(topic, publication, epoch, () => this.registry.subscribersOf(topic)?.size ?? 0);
  }

  private deliverPublicationLocally(topic: string, publication: Publication, epoch: string): number {
    const subscribers = this.registry.subscribersOf(topic);
    if (subscribers === undefined) return 0;
    const envelope = (): Buffer => this.framer.publication(topic, publication, epoch);
    if (this.recovery.idle) return deliverPublication(subscribers, publication, envelope);
    const now = Date.now();
    this.recovery.forgetExpired(now);
    let held = 0;
    const live: ConnectionRecord[] = [];
    for (const record of subscribers) {
      if (this.recovery.withholds(record, topic, publication, epoch, now)) held++;
      else live.push(record);
    }
    return held + deliverPublication(live, publication, envelope);
  }

  private announce(action: 'join' | 'leave', topic: string, entry: PresenceEntry): void {
    if (!announcesJoinLeave(this.topics, topic)) return;
    announceLocally(this.registry, this.framer, action, topic, entry);
    if (!this.backplane.healthy || this.backplane.alone) return;
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

  /**
   * A node's share of a cluster-wide read; undefined when nothing listens for the node on the
   * backplane. A node that crashed keeps its liveness key until the TTL, but its connections
   * went with it: it has nothing to add, and failing the whole read for it would make list and
   * presence unavailable cluster-wide for a TTL after every crash. A node that is merely slow
   * still fails the read (DEADLINE_EXCEEDED) rather than be silently left out.
   */
  private async askUnlessGone(node: string, request: RemoteRequest): Promise<unknown> {
    try {
      return await this.ask(node, request);
    } catch (err) {
      if (!(err instanceof NodeNotListening)) throw err;
      this.log.debug({ node, op: request.op }, 'node not listening on the backplane: left out of a cluster-wide read');
      return undefined;
    }
  }

  private async ask(node: string, request: RemoteRequest): Promise<unknown> {
    const answer = await this.backplane.request(node, request, this.timeoutMs);
    if (answer.ok) return answer.value;
    throw errorOfKind(answer.kind, answer.message, answer.field);
  }

  /**
   * Hands the event `build` makes to the other nodes; undefined, without building it, when the
   * backplane knows there is none (a lone node skips the base64 copy of every payload).
   */
  private fanoutToOthers(build: () => FanoutEvent): Promise<number> | undefined {
    return this.backplane.alone ? undefined : this.fanoutSafely(build());
  }

  private async fanoutSafely(event: FanoutEvent): Promise<number> {
    try {
      return await this.backplane.fanout(event, this.timeoutMs);
    } catch (err) {
      // Local delivery happens either way and the publication is stored: remote subscribers
      // recover it from history, so the call still succeeds with what was delivered here.
      this.log.warn({ err: (err as Error).message }, 'fan-out to other nodes failed');
      return 0;
    }
  }
}

function encodeSubscribeResult(result: SubscribeResult): WireSubscribeResult {
  return {
    ...result,
    publications: result.publications.map((p) => ({ offset: p.offset, data: p.data.toString('base64'), binary: p.binary, publishedAt: p.publishedAt })),
  };
}

function decodeSubscribeResult(wire: WireSubscribeResult): SubscribeResult {
  return {
    ...wire,
    publications: wire.publications.map((p) => ({ offset: p.offset, data: Buffer.from(p.data, 'base64'), binary: p.binary, publishedAt: p.publishedAt })),
  };
}

function encodeClusterToken(node: string, seq: number): string {
  return Buffer.from(`node:${node}:${seq}`).toString('base64url');
}

/** `node:<nodeId>:<seq>`, base64url-encoded. */
const PAGE_TOKEN = new RegExp(`^node:(${NODE_ID_PATTERN.source.slice(1, -1)}):(\\d+)$`);

function decodeClusterToken(token: string | undefined): { node: string; seq: number } | undefined {
  if (token === undefined || token === '') return undefined;
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = PAGE_TOKEN.exec(text);
  if (match === null) throw new InvalidArgument('pageToken is not a token this API issued', 'pageToken');
  return { node: match[1]!, seq: Number(match[2]) };
}
