/**
 * The Hub: everything the management API and the realtime protocol may ask of the cluster.
 * One implementation (NodeHub, node-hub.ts) above the Backplane seam (backplane.ts): it
 * answers a call for one of this node's connections from the local registry, forwards a call
 * for another node's connection to its owner, and fans publishes out to every node.
 * Callers never see sockets or backplanes, only these calls and the errors of src/errors.
 */

export interface Identity {
  sourceIp: string;
  userAgent: string;
}

/** A connection as the seeds' `Connection` resource plus the realtime fields (view FULL). */
export interface ConnectionView {
  id: string;
  gatewayId: string;
  identity: Identity;
  connectedAt: string;
  lastActiveAt: string;
  tenantId?: string;
  userId?: string;
  subscriptions: string[];
  isAlive: boolean;
  lastPing: string;
}

export interface Payload {
  data: Buffer;
  binary: boolean;
}

export interface ListFilter {
  gatewayId?: string;
  tenantId?: string;
  userId?: string;
  topic?: string;
}

export interface ListPage {
  pageSize: number;
  pageToken?: string;
}

export interface ListResult {
  connections: ConnectionView[];
  /** Empty when there are no more pages. */
  nextPageToken: string;
}

/** Where a subscriber stands in a topic's stream (Centrifuge's StreamPosition). */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

export interface Publication {
  offset: number;
  data: Buffer;
  binary: boolean;
  /** Epoch milliseconds. */
  publishedAt: number;
}

export interface PublishOptions {
  idempotencyKey?: string;
}

export interface PublishResult extends StreamPosition {
  delivered: number;
}

export interface SubscribeOptions {
  /** Recover what was missed since this position. */
  since?: StreamPosition;
}

export interface SubscribeResult extends StreamPosition {
  /** Present when `since` was given: true when every missed publication is in `publications`. */
  recovered?: boolean;
  /** Missed publications, in order, when recovering; the caller delivers them before anything live. */
  publications: Publication[];
}

export interface HistoryQuery {
  sinceOffset?: number;
  epoch?: string;
  limit?: number;
}

export interface HistoryResult extends StreamPosition {
  publications: Publication[];
  /** False when `sinceOffset`/`epoch` asked for more than history still holds. */
  complete: boolean;
}

export interface PresenceEntry {
  connectionId: string;
  tenantId?: string;
  userId?: string;
}

export interface PresenceResult {
  connections: PresenceEntry[];
  users: string[];
}

/** One node's Prometheus text exposition, as its own /metrics renders it. */
export interface NodeMetrics {
  nodeId: string;
  metrics: string;
}

export interface DeliveryResult {
  delivered: number;
}

export interface DisconnectResult {
  /** Connections that were open and are now closing. */
  disconnected: number;
}

/**
 * The close a user cut off by `disconnectUser` hears: an application code (RFC 6455 §7.4.2,
 * 4000-4999), so a client can tell "you were cut off" from a restart or a limit and not
 * reconnect at once. Named once here; the edge's CloseCode table refers to it.
 */
export const USER_DISCONNECTED = { code: 4001, reason: 'user disconnected' } as const;

export interface Hub {
  readonly nodeId: string;
  get(connectionId: string): Promise<ConnectionView>;
  send(connectionId: string, payload: Payload): Promise<void>;
  disconnect(connectionId: string, code?: number, reason?: string): Promise<void>;
  list(filter: ListFilter, page: ListPage): Promise<ListResult>;
  subscribe(connectionId: string, topic: string, options?: SubscribeOptions): Promise<SubscribeResult>;
  unsubscribe(connectionId: string, topic: string): Promise<void>;
  publish(topic: string, payload: Payload, options?: PublishOptions): Promise<PublishResult>;
  sendToUser(userId: string, payload: Payload, tenantId?: string): Promise<DeliveryResult>;
  /** Closes every connection of a user (of one tenant when given) on every node. */
  disconnectUser(userId: string, tenantId?: string, code?: number, reason?: string): Promise<DisconnectResult>;
  broadcast(tenantId: string, payload: Payload): Promise<DeliveryResult>;
  presence(topic: string): Promise<PresenceResult>;
  history(topic: string, query: HistoryQuery): Promise<HistoryResult>;
  /** Every live node's own Prometheus text, this node's included. */
  nodeMetrics(): Promise<NodeMetrics[]>;
  close(): Promise<void>;
}
