import type { Publication } from './hub.js';

/** How long a publication waits for an earlier offset still in flight from another node. */
export const GAP_WAIT_MS = 250;
/** Topics whose order state is looked at (and dropped when idle) per accepted publication. */
const SWEEP_STEP = 4;
/** A topic's order state is forgotten this long after its last publication, with nothing held. */
const IDLE_MS = 30_000;

interface TopicOrder {
  epoch: string;
  /** The offset delivery expects next. */
  next: number;
  held: Map<number, Publication>;
  timer: NodeJS.Timeout | undefined;
  lastSeen: number;
}

export type DeliverPublication = (topic: string, publication: Publication, epoch: string) => number;

/**
 * Hands a node's publications to local delivery in offset order. A node delivers its own
 * publications at once but hears the other nodes' through the backplane a little later, so
 * with publishers on several nodes a later offset can arrive first; it is held until the
 * earlier ones arrive. A gap that stays open for GAP_WAIT_MS (its publisher died between
 * storing and fanning out) is skipped, and a publication arriving after its gap was skipped
 * is still delivered, late: a client can always fill a gap from history.
 */
export class PublicationOrder {
  private readonly topics = new Map<string, TopicOrder>();
  private sweepCursor: Iterator<[string, TopicOrder]>;

  constructor(
    private readonly deliver: DeliverPublication,
    private readonly gapWaitMs = GAP_WAIT_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.sweepCursor = this.topics.entries();
  }

  /** Delivers now or holds for order; answers the connections it reached or will reach. */
  accept(topic: string, publication: Publication, epoch: string, subscriberCount: () => number): number {
    const now = this.now();
    this.sweep(now);
    const offset = publication.offset;
    let order = this.topics.get(topic);
    if (order === undefined || order.epoch !== epoch) {
      if (order !== undefined) this.release(topic, order);
      order = { epoch, next: offset + 1, held: new Map(), timer: undefined, lastSeen: now };
      this.topics.set(topic, order);
      return this.deliver(topic, publication, epoch);
    }
    order.lastSeen = now;
    if (offset < order.next) return this.deliver(topic, publication, epoch);
    if (offset > order.next) {
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

  private drain(topic: string, order: TopicOrder): number {
    let delivered = 0;
    for (let publication = order.held.get(order.next); publication !== undefined; publication = order.held.get(order.next)) {
      order.held.delete(order.next);
      delivered += this.deliver(topic, publication, order.epoch);
      order.next++;
    }
    if (order.held.size === 0 && order.timer !== undefined) {
      clearTimeout(order.timer);
      order.timer = undefined;
    }
    return delivered;
  }

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

  /** Forgets a few idle topics per call, so the map follows the topics in use. */
  private sweep(now: number): void {
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = this.sweepCursor.next();
      if (next.done === true) {
        this.sweepCursor = this.topics.entries();
        return;
      }
      const [topic, order] = next.value;
      if (order.held.size === 0 && now - order.lastSeen >= IDLE_MS) this.topics.delete(topic);
    }
  }
}
