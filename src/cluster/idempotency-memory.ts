import type { Clock } from '../time/index.js';

export interface IdempotencyCacheOptions {
  /** How long a key answers with its first result; 5 minutes, as Centrifuge's idempotent publish. */
  ttlSeconds?: number;
  /** Keys held at most; past it the oldest key is forgotten first. */
  maxEntries?: number;
}

const DEFAULT_TTL_SECONDS = 300;
const DEFAULT_MAX_ENTRIES = 100_000;
/** Expired keys removed per `set` at most, so one call never pays for a long quiet spell. */
const SWEEP_STEP = 16;

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/**
 * Remembers the first result of an operation per idempotency key for a while, so a retried
 * publish answers as the first one did instead of publishing twice. Keys live in a Map in
 * insertion order, which (with one TTL for all) is also expiry order: the sweep reads from
 * the front and stops at the first live key.
 */
export class IdempotencyCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly clock: Clock,
    options: IdempotencyCacheOptions = {},
  ) {
    this.ttlMs = (options.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  /** The result stored for the key, or `undefined` when there is none or it expired. */
  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores the key's result for the TTL from now, replacing any earlier one. */
  set(key: string, value: T): void {
    const now = this.clock.now();
    this.sweep(now);
    // Re-inserting moves the key to the back, keeping insertion order equal to expiry order.
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  /** Keys held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (removed === SWEEP_STEP || entry.expiresAt > now) return;
      this.entries.delete(key);
      removed++;
    }
  }
}
