/**
 * Liveness on Redis: this node's claim on its id (an expiring key whose value is the holder
 * record; announce claims or refreshes it, leave withdraws it) and the liveness of the other
 * nodes (isLive, liveNodes). The backplane decides when to announce and what a refusal does to
 * its health; this file only speaks to the keys. docs/redis-layout.md lists them.
 */
import { NodeIdInUse } from '../errors/index.js';
import { describeHolder } from './backplane.js';
import { LiveCache } from './live-cache.js';
import type { RedisLayout } from './redis-layout.js';
import { ANNOUNCE, LEAVE, LIVE_NODES, type RedisScript } from './redis-scripts.js';

/** The commands liveness needs from the backplane's command connection. */
export interface LivenessCommands {
  /** A script run as is: announce and leave handle their own failures. */
  script(script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown>;
  exists(key: string): Promise<number>;
  /** A command on behalf of a caller: UNAVAILABLE at once while disconnected or when it fails. */
  guarded<T>(operation: () => Promise<T>): Promise<T>;
}

export class RedisLiveness {
  /** Set once the node id is this instance's: only then may the node listen on the id's inbox. */
  private isClaimed = false;
  /** Positive isLive answers, until the time they may be trusted no longer. */
  private readonly liveCache: LiveCache;

  constructor(
    private readonly commands: LivenessCommands,
    private readonly layout: RedisLayout,
    private readonly nodeId: string,
    /** The liveness key's value: this instance's claim on the node id. */
    private readonly holder: string,
    private readonly ttlMs: number,
    private readonly backplaneName: string,
  ) {
    this.liveCache = new LiveCache(ttlMs);
  }

  get claimed(): boolean {
    return this.isClaimed;
  }

  /** Claims or refreshes the node id; resolves with the refusal when another instance holds it. */
  async announce(): Promise<NodeIdInUse | undefined> {
    const answer = await this.commands.script(ANNOUNCE, this.keys(), [this.ttlMs, this.nodeId, this.holder]);
    if (typeof answer === 'string') return new NodeIdInUse(this.nodeId, describeHolder(answer), this.backplaneName);
    this.isClaimed = true;
    return undefined;
  }

  /**
   * Withdraws the claim at once, so isLive answers false on every node from here on (only
   * while the key is still this instance's). Rejects when Redis fails.
   */
  async withdraw(): Promise<void> {
    await this.commands.script(LEAVE, this.keys(), [this.nodeId, this.holder]);
  }

  async liveNodes(): Promise<string[]> {
    const nodes = (await this.commands.guarded(() => this.commands.script(LIVE_NODES, [this.layout.nodesKey], []))) as string[];
    return nodes.sort();
  }

  /** One EXISTS; a positive answer is trusted for a third of the TTL, a negative one never. */
  async isLive(nodeId: string): Promise<boolean> {
    if (this.liveCache.trusts(nodeId)) return true;
    const live = (await this.commands.guarded(() => this.commands.exists(this.layout.liveKey(nodeId)))) === 1;
    this.liveCache.record(nodeId, live);
    return live;
  }

  /** The node left or nobody listens for it: its ids answer NOT_FOUND as soon as its key lapses. */
  forget(nodeId: string): void {
    this.liveCache.forget(nodeId);
  }

  forgetAll(): void {
    this.liveCache.clear();
  }

  private keys(): string[] {
    return [this.layout.liveKey(this.nodeId), this.layout.nodesKey];
  }
}
