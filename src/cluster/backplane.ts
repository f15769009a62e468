/**
 * The Backplane: everything the one Hub (node-hub.ts) needs from what the nodes share. Above
 * this seam a lone node and a cluster run the same code; below it each implementation maps
 * these calls onto its own primitives: memory-backplane.ts (one process: one node, or several
 * on a MemoryBus), redis-backplane.ts (pub/sub, Lua scripts, streams, key expiry) and
 * nats-backplane.ts (subjects, request/reply, JetStream streams and KV). A fourth backplane,
 * or an in-machine one carrying worker processes over IPC, implements this interface and
 * passes test/cluster-backplane/backplane-contract.ts and test/cluster/hub-contract.ts.
 *
 * The contract, in short (each member's comment has the details):
 * - Lifecycle: `start(nodeId, handlers)` connects, makes the node live (visible in `liveNodes`)
 *   and starts calling `handlers`; it refuses a node id another live node holds. `stop()`
 *   withdraws liveness at once and rejects what is pending. `healthy` and `onHealthChange`
 *   report the connection; while unhealthy, every call rejects `Unavailable` at once and the
 *   Hub keeps serving its own sockets.
 * - Requests: `request(node, …)` reaches that node's `handlers.request` and resolves with its
 *   answer (errors travel as `RemoteAnswer`, never as rejections); `DeadlineExceeded` after the
 *   timeout, `NodeNotListening` at once when the backplane can tell nobody listens for it.
 * - Fan-out: `fanout(event)` reaches `handlers.fanout` on every other live node, never the
 *   sender; the events one node hands over in one tick arrive as one batch, in call order, and
 *   each call resolves with the sum of its event's delivered counts once every peer answered,
 *   or at the timeout with what arrived. With no other node it resolves 0 at once, and
 *   `alone` says so beforehand where the backplane can know it (the Hub then encodes nothing).
 * - History (`history`): offsets are per topic, consecutive from 1 and assigned atomically
 *   across nodes; an epoch names one continuous history, and changes when that history was
 *   lost (idle past its TTL, a server that restarted empty), so a reader can tell "nothing
 *   missed" from "history gone". Retention by size and age as MemoryTopicHistory does it.
 *   An append with an idempotency key appends at most once per key and TTL, in one atomic
 *   step with the check.
 * - Liveness: a node's liveness lapses LIVENESS_TTL_MS after it last refreshed it, so the ids
 *   of a crashed node answer NOT_FOUND within that time.
 */
import { hostname } from 'node:os';
import { DeadlineExceeded } from '../errors/index.js';
import type { HistoryQuery, HistoryResult, Payload, Publication, StreamPosition } from './hub.js';

/**
 * A request the backplane could not hand to the node at all: nothing listens on the node's
 * address (it crashed, or lost the backplane) though its liveness has not lapsed yet. Callers
 * see DEADLINE_EXCEEDED as for any node that does not answer; cluster-wide reads (list,
 * presence) leave such a node out instead of failing whole until its liveness lapses.
 */
export class NodeNotListening extends DeadlineExceeded {
  constructor(message: string) {
    super(message);
    // Logs and error reports name what the caller sees; the subclass only informs the Hub.
    this.name = 'DeadlineExceeded';
  }
}

/** A call one node makes to another: a connection it owns, or its share of a scatter-gather. */
export type RemoteRequest =
  | { op: 'get'; connectionId: string }
  | { op: 'send'; connectionId: string; data: string; binary: boolean }
  | { op: 'disconnect'; connectionId: string; code: number; reason: string }
  | { op: 'subscribe'; connectionId: string; topic: string; since?: StreamPosition }
  | { op: 'unsubscribe'; connectionId: string; topic: string }
  | { op: 'list'; filter: { gatewayId?: string; tenantId?: string; userId?: string; topic?: string }; afterSeq: number; pageSize: number }
  | { op: 'presence'; topic: string }
  | { op: 'metrics' };

/** The answer: a JSON value, or the error the owning node raised (kind + message + field). */
export type RemoteAnswer = { ok: true; value: unknown } | { ok: false; kind: string; message: string; field?: string };

/**
 * Something every node delivers to its own sockets. Buffers travel as base64 inside JSON.
 * Backplanes carry events as opaque JSON and never look inside.
 */
export type FanoutEvent =
  | { kind: 'publication'; topic: string; offset: number; epoch: string; publishedAt: number; data: string; binary: boolean }
  | { kind: 'user'; userId: string; tenantId?: string; data: string; binary: boolean }
  | { kind: 'tenant'; tenantId: string; data: string; binary: boolean }
  | { kind: 'disconnect-user'; userId: string; tenantId?: string; code: number; reason: string }
  | { kind: 'presence'; action: 'join' | 'leave'; topic: string; connectionId: string; tenantId?: string; userId?: string };

export interface BackplaneHandlers {
  /** Answers a request addressed to this node. Never rejects: errors become RemoteAnswer. */
  request(request: RemoteRequest): Promise<RemoteAnswer>;
  /** Delivers events fanned out by another node; returns how many sockets each reached. */
  fanout(events: FanoutEvent[]): number[];
}

export interface HistoryRetentionSettings {
  historySize: number;
  historyTtlSeconds: number;
}

/** An append that happens once per key: a retry with the same key within the TTL appends nothing. */
export interface IdempotentAppend {
  /** Scoped by the caller (the Hub uses the topic and the client's key). */
  key: string;
  ttlSeconds: number;
}

/** What an append stored. */
export interface Appended {
  publication: Publication;
  epoch: string;
}

/** An append whose idempotency key was seen: nothing stored, the first append's position. */
export interface AlreadyAppended {
  duplicateOf: StreamPosition;
}

/** History shared by every node: recovery works whichever node a client reconnects to. */
export interface SharedHistory {
  /** Appends at the topic's next offset (atomically across nodes). */
  append(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<Appended>;
  /**
   * The same, unless the key was seen within its TTL: the check and the append are one atomic
   * step (a map in memory, one Lua script on Redis, a KV claim on NATS), so of two nodes asked
   * at once exactly one appends.
   */
  append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency: IdempotentAppend): Promise<Appended | AlreadyAppended>;
  read(topic: string, query: HistoryQuery): Promise<HistoryResult>;
  position(topic: string): Promise<StreamPosition>;
}

export interface Backplane {
  /** The backplane's URL without credentials, for logs and UNAVAILABLE messages. */
  readonly name: string;
  /** Which implementation: a memory backplane is never lost and is not worth a health metric. */
  readonly kind: 'memory' | 'redis' | 'nats';
  /** True while connected; cross-node calls answer UNAVAILABLE otherwise. */
  readonly healthy: boolean;
  /**
   * True while the backplane knows that no other node is there to hand a fan-out to (a lone
   * memory node), so the Hub need not encode one; false whenever another node may listen.
   */
  readonly alone: boolean;
  /**
   * Claims the node id (atomically: of two nodes starting with one id, one wins), announces
   * this node's liveness and starts receiving requests and fan-out. Rejects with NodeIdInUse
   * when a live node holds the id; `holder` describes this node to such a second one.
   */
  start(nodeId: string, handlers: BackplaneHandlers, holder?: NodeHolder): Promise<void>;
  /** Withdraws this node's liveness at once and disconnects; pending requests reject. */
  stop(): Promise<void>;
  /** Called with true/false whenever the connection to the backplane comes back or is lost. */
  onHealthChange(listener: (healthy: boolean) => void): void;
  /**
   * Sends a request to one node and resolves with its answer. Rejects with Unavailable when
   * the backplane is down and DeadlineExceeded when the node does not answer in time
   * (NodeNotListening, at once, when the backplane knows nobody listens for it).
   */
  request(nodeId: string, request: RemoteRequest, timeoutMs: number): Promise<RemoteAnswer>;
  /**
   * Hands an event to every other live node (batched with others of the same tick) and
   * resolves with the sum of their delivered counts once each has acknowledged, or at the
   * timeout with what arrived by then. Rejects with Unavailable when the backplane is down.
   */
  fanout(event: FanoutEvent, timeoutMs: number): Promise<number>;
  /** Ids of nodes whose liveness has not lapsed, this one included, sorted. */
  liveNodes(): Promise<string[]>;
  /** Whether a node's liveness key is present; false at once after it lapsed. */
  isLive(nodeId: string): Promise<boolean>;
  readonly history: SharedHistory;
}

/** What a node's liveness entry says about it, so a node refused its id can name the holder. */
export interface NodeHolder {
  /** The client listener, as configured. */
  listen?: string;
  hostname: string;
  pid: number;
}

export function thisProcess(): NodeHolder {
  return { hostname: hostname(), pid: process.pid };
}

/** The liveness entry's value: the claiming instance (only it may refresh or withdraw) and who it is. */
export function holderRecord(instance: string, holder: NodeHolder): string {
  return JSON.stringify({ instance, ...holder });
}

/** "listen 10.0.0.5:8080, host gw-1, pid 4242" from a liveness entry's value (or the value itself). */
export function describeHolder(value: string): string {
  try {
    const record = JSON.parse(value) as Partial<NodeHolder> & { instance?: string };
    const parts: string[] = [];
    if (typeof record.listen === 'string') parts.push(`listen ${record.listen}`);
    if (typeof record.hostname === 'string') parts.push(`host ${record.hostname}`);
    if (typeof record.pid === 'number') parts.push(`pid ${record.pid}`);
    if (parts.length > 0) return parts.join(', ');
  } catch {
    // An entry written by an older node holds only its instance token.
  }
  return `instance ${value.slice(0, 64)}`;
}

/** Liveness: a node refreshes its key every third of the TTL; a dead node's ids 404 within it. */
export const LIVENESS_TTL_MS = 5000;
