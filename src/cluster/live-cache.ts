/**
 * Positive liveness answers a backplane may reuse: a node seen live is trusted for a third of
 * the liveness TTL (its ids then answer NOT_FOUND at most that much later than its key lapsed),
 * a negative answer never. A leave notice, or a node nobody listens for, drops its entry.
 */

/** Entries kept at most; beyond that the oldest is forgotten. */
const MAX_ENTRIES = 1_000;

export class LiveCache {
  private readonly until = new Map<string, number>();

  constructor(private readonly livenessTtlMs: number) {}

  /** True while a positive answer for the node may still be trusted. */
  trusts(nodeId: string): boolean {
    const until = this.until.get(nodeId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(nodeId);
    return false;
  }

  /** Records what the backplane answered just now. */
  record(nodeId: string, live: boolean): void {
    this.until.delete(nodeId);
    if (!live) return;
    this.until.set(nodeId, Date.now() + Math.floor(this.livenessTtlMs / 3));
    if (this.until.size > MAX_ENTRIES) {
      const oldest = this.until.keys().next();
      if (oldest.done !== true) this.until.delete(oldest.value);
    }
  }

  forget(nodeId: string): void {
    this.until.delete(nodeId);
  }

  clear(): void {
    this.until.clear();
  }
}
