/**
 * Liveness on NATS: this node's claim on its id (an entry of the nodes KV bucket whose value
 * is the holder record, kept by KV create and update at its revision) and the liveness of the
 * other nodes (isLive, liveNodes). The backplane decides when to claim and what losing the id
 * means; this file only speaks to the bucket. docs/nats-layout.md describes it.
 */
import { NodeIdInUse } from '../errors/index.js';
import { describeHolder } from './backplane.js';
import { LiveCache } from './live-cache.js';
import { checkNodeId, type NatsLayout } from './nats-layout.js';
import { apiErrorCode, WRONG_LAST_SEQUENCE, type NatsLink } from './nats-link.js';

export class NatsLiveness {
  /** Revision of this instance's liveness entry; a refresh that finds another one lost the id. */
  private revision: number | undefined;
  /** Positive isLive answers until they are a third of the TTL old; a leave clears one. */
  private readonly liveCache: LiveCache;

  constructor(
    private readonly link: NatsLink,
    private readonly layout: NatsLayout,
    private readonly nodeId: string,
    /** The liveness entry's value: this instance's claim on the node id. */
    private readonly holder: string,
    livenessTtlMs: number,
  ) {
    this.liveCache = new LiveCache(livenessTtlMs);
  }

  /** True while this instance holds the id (claimed, and not lost to another node since). */
  get claimed(): boolean {
    return this.revision !== undefined;
  }

  /**
   * Claims the node id (KV create: of two nodes starting with one id, one wins) or refreshes
   * this instance's claim (update at its revision). Throws NodeIdInUse when another instance's
   * entry is there.
   */
  async claim(): Promise<void> {
    const { nodeId, holder } = this;
    await this.link.guard(async ({ nodes }) => {
      if (this.revision !== undefined) {
        try {
          this.revision = await nodes.update(nodeId, holder, this.revision);
          return;
        } catch (err) {
          // Lapsed (cut off longer than the TTL) or the server lost its store: claim it afresh.
          if (apiErrorCode(err) !== WRONG_LAST_SEQUENCE) throw err;
        }
      }
      try {
        this.revision = await nodes.create(nodeId, holder);
      } catch (err) {
        const held = await nodes.get(nodeId);
        if (held !== null && held.operation === 'PUT' && held.string() !== holder) throw new NodeIdInUse(nodeId, describeHolder(held.string()), this.link.name);
        throw err;
      }
    });
  }

  /** Another live node took the id: it is no longer this instance's to refresh or withdraw. */
  relinquish(): void {
    this.revision = undefined;
  }

  /** Removes this node's entry at once, so isLive answers false on every node from here on. */
  async withdraw(): Promise<void> {
    const bucket = this.layout.nodesBucket;
    await this.link.guard(({ jsm }) => jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${this.nodeId}` }));
  }

  /** Exact: the keys of the liveness bucket now (one stream-info call), sorted. */
  async liveNodes(): Promise<string[]> {
    const bucket = this.layout.nodesBucket;
    const prefix = `$KV.${bucket}.`;
    try {
      const info = await this.link.guard(({ jsm }) => jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` }));
      return Object.keys(info.state.subjects ?? {})
        .filter((subject) => subject.startsWith(prefix))
        .map((subject) => subject.slice(prefix.length))
        .sort();
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  async isLive(nodeId: string): Promise<boolean> {
    if (this.liveCache.trusts(nodeId)) return true;
    try {
      checkNodeId(nodeId);
    } catch {
      return false;
    }
    try {
      const entry = await this.link.guard(({ nodes }) => nodes.get(nodeId));
      const live = entry !== null && entry.operation === 'PUT';
      this.liveCache.record(nodeId, live);
      return live;
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  /** The node left or nobody listens for it: its ids answer NOT_FOUND as soon as its entry lapses. */
  forget(nodeId: string): void {
    this.liveCache.forget(nodeId);
  }
}
