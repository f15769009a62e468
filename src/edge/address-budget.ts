import { monotonicNow } from '../ratelimit/index.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Addresses tracked at most (two generations of this many): past it, new addresses are not limited per address. */
const MAX_ADDRESSES = 65_536;

/**
 * A token bucket per source address, with a burst of one second's worth. A bucket left alone
 * for one second is full again, the same as no bucket, so state lives in two generations that
 * rotate every second: an address seen in neither is forgotten without losing anything.
 * Memory is bounded by the addresses seen in the last two seconds, and by MAX_ADDRESSES per
 * generation: a flood of distinct addresses beyond that is left to the node-wide budget
 * rather than growing memory.
 */
export class AddressBudget {
  private current = new Map<string, Bucket>();
  private previous = new Map<string, Bucket>();
  private rotatedAt: number;
  private readonly windowMs = 1000;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = monotonicNow,
    private readonly maxAddresses = MAX_ADDRESSES,
  ) {
    this.rotatedAt = now();
  }

  /** Addresses held now (both generations). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** Takes one token of the address's bucket: 0 when there was one, else the milliseconds until there will be. */
  take(address: string): number {
    const now = this.now();
    this.rotate(now);
    let bucket = this.current.get(address);
    if (bucket === undefined) {
      bucket = this.previous.get(address);
      if (bucket !== undefined) this.previous.delete(address);
      else if (this.current.size >= this.maxAddresses) return 0;
      else bucket = { tokens: this.ratePerSecond, updatedAt: now };
      this.current.set(address, bucket);
    }
    const burst = this.ratePerSecond;
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) * this.ratePerSecond) / 1000);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.ratePerSecond);
  }

  private rotate(now: number): void {
    const since = now - this.rotatedAt;
    if (since < this.windowMs) return;
    // Every bucket of the older generation was last touched at least a window ago: full again.
    // Past two windows without a call, the newer one is too.
    this.previous = since >= 2 * this.windowMs ? new Map() : this.current;
    this.current = new Map();
    this.rotatedAt = now;
  }
}
