import type { Publication, StreamPosition } from './hub.js';

/** How long a publication waits for an earlier offset still in flight from another node. */
export const GAP_WAIT_MS = 250;
/** Topics whose order state is looked at (and dropped when idle) per accepted publication. */
const SWEEP_STEP = 4;
/** A topic's order state is forgotten this long after its last publication, with nothing held and no subscriber here. */
export const ORDER_IDLE_MS = 30_000;

interface TopicOrder {
  epoch: string;
  /** The offset delivery expects next; undefined while a subscribe is still reading where the topic stands. */
  next: number | undefined;
  /** Offsets up to this one were stored before any subscription here: a copy arriving later goes to no one. */
  floor: number;
  /** False when `next` was guessed from the first arrival because no subscribe told the position in time. */
  known: boolean;
  held: Map<number, Publication>;
  timer: NodeJS.Timeout | undefined;
  lastSeen: number;
}

export type DeliverPublication = (topic: string, publication: Publication, epoch: string) => number;

export interface PublicationOrderOptions {
  gapWaitMs?: number;
  /** How long a topic nobody here subscribes to keeps its order state after its last publication. */
  idleMs?: number;
  now?: () => number;
  /** Whether this node has subscribers of the topic: their topics are never forgotten. */
  hasSubscribers?: (topic: string) => boolean;
}

/**
 * Hands a node's publications to local delivery in offset order. A node delivers its own
 * publications at once but hears the other nodes' through the backplane a little later, so
 * with publishers on several nodes a later offset can arrive first; it is held until the
 * earlier ones arrive. Where a topic starts is never taken from whichever publication arrives
 * first (that may be one that overtook its predecessors): it is the position a subscribe read
 * from the backplane (`start`), or offset 0 of a new epoch. A gap that stays open for
 * GAP_WAIT_MS (its publisher died between storing and fanning out) is skipped, and a
 * publication arriving after its gap was skipped is still delivered, late: a client can always
 * fill a gap from history.
 */
export class PublicationOrder {
  private readonly topics = new Map<string, TopicOrder>();
  private sweepCursor: Iterator<[string, TopicOrder]>;
  private readonly gapWaitMs: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly hasSubscribers: (topic: string) => boolean;

  constructor(
    private readonly deliver: DeliverPublication,
    options: PublicationOrderOptions = {},
  ) {
    this.gapWaitMs = options.gapWaitMs ?? GAP_WAIT_MS;
    this.idleMs = options.idleMs ?? ORDER_IDLE_MS;
    this.now = options.now ?? Date.now;
    this.hasSubscribers = options.hasSubscribers ?? (() => false);
    this.sweepCursor = this.topics.entries();
  }

  /**
   * Where the topic stands, as a subscribe read it from the backplane after registering its
   * subscriber: delivery continues after `position.offset`. Publications that arrived while the
   * position was being read are held until now; those at or before it go to no one, since the
   * subscriber was answered that position and finds them in history.
   */
  start(topic: string, position: StreamPosition): void {
    let order = this.topics.get(topic);
    if (order !== undefined && order.epoch !== position.epoch) {
      this.release(topic, order);
      order = undefined;
    }
    if (order === undefined) {
      this.topics.set(topic, newOrder(position.epoch, position.offset, true, this.now()));
      return;
    }
    if (order.known) return;
    order.known = true;
    order.floor = Math.max(order.floor, position.offset);
    if (order.next === undefined || order.next <= position.offset) order.next = position.offset + 1;
    for (const offset of order.held.keys()) if (offset <= order.floor) order.held.delete(offset);
    this.drain(topic, order);
  }

  /** Delivers now or holds for order; answers the connections it reached or will reach. */
  accept(topic: string, publication: Publication, epoch: string, subscriberCount: () => number): number {
    const now = this.now();
    this.sweep(now);
    const offset = publication.offset;
    let order = this.topics.get(topic);
    if (order === undefined) {
      // Nobody here to keep order for; a subscriber that comes later starts from its subscribe.
      if (subscriberCount() === 0) return this.deliver(topic, publication, epoch);
      order = newOrder(epoch, undefined, false, now);
      this.topics.set(topic, order);
    } else if (order.epoch !== epoch) {
      this.release(topic, order);
      // History was lost and rebuilt: every backplane starts a new epoch at offset 0.
      order = newOrder(epoch, 0, true, now);
      this.topics.set(topic, order);
    }
    order.lastSeen = now;
    const next = order.next;
    if (next !== undefined && offset <= order.floor) return 0;
    if (next !== undefined && offset < next) return this.deliver(topic, publication, epoch);
    if (next === undefined || offset > next) {
      order.held.set(offset, publication);
      if (order.timer === undefined) order.timer = setTimeout(() => this.skipGap(topic), this.gapWaitMs);
      return subscriberCount();
    }
    let delivered = this.deliver(topic, publication, epoch);
    order.next = offset + 1;
    delivered += this.drain(topic, order);
    return delivered;
  }

  /** Publications held when the node stops are delivered as they are. */
  close(): void {
    for (const [topic, order] of this.topics) this.release(topic, order);
    this.topics.clear();
  }

  /** Topics with a publication waiting; for tests. */
  get waiting(): number {
    let count = 0;
    for (const order of this.topics.values()) if (order.held.size > 0) count++;
    return count;
  }

  /** Topics with order state; for tests. */
  get size(): number {
    return this.topics.size;
  }

  private drain(topic: string, order: TopicOrder): number {
    let delivered = 0;
    if (order.next !== undefined) {
      for (let publication = order.held.get(order.next); publication !== undefined; publication = order.held.get(order.next)) {
        order.held.delete(order.next);
        delivered += this.deliver(topic, publication, order.epoch);
        order.next++;
      }
    }
    if (order.held.size === 0 && order.timer !== undefined) {
      clearTimeout(order.timer);
      order.timer = undefined;
    }
    return delivered;
  }

  /** A gap that stayed open, or a start no subscribe told in time: go on from the earliest held. */
  private skipGap(topic: string): void {
    const order = this.topics.get(topic);
    if (order === undefined) return;
    order.timer = undefined;
    if (order.held.size === 0) return;
    order.next = Math.min(...order.held.keys());
    this.drain(topic, order);
    // What is still held sits behind another gap: it gets its own wait.
    if (order.held.size > 0) order.timer = setTimeout(() => this.skipGap(topic), this.gapWaitMs);
  }

  private release(topic: string, order: TopicOrder): void {
    if (order.timer !== undefined) clearTimeout(order.timer);
    order.timer = undefined;
    const offsets = [...order.held.keys()].sort((a, b) => a - b);
    for (const offset of offsets) this.deliver(topic, order.held.get(offset)!, order.epoch);
    order.held.clear();
  }

  /**
   * Forgets a few idle topics per call, so the map follows the topics in use. A topic with
   * subscribers here is kept however quiet: forgetting it would lose where it stands.
   */
  private sweep(now: number): void {
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = this.sweepCursor.next();
      if (next.done === true) {
        this.sweepCursor = this.topics.entries();
        return;
      }
      const [topic, order] = next.value;
      if (order.held.size === 0 && now - order.lastSeen >= this.idleMs && !this.hasSubscribers(topic)) this.topics.delete(topic);
    }
  }
}

function newOrder(epoch: string, position: number | undefined, known: boolean, now: number): TopicOrder {
  return {
    epoch,
    next: position === undefined ? undefined : position + 1,
    floor: position ?? 0,
    known,
    held: new Map(),
    timer: undefined,
    lastSeen: now,
  };
}
