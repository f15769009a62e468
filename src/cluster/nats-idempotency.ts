/**
 * Idempotency keys across nodes in a JetStream KV bucket: the first `create` of a key wins
 * (it fails when the key exists), a loser reads and returns the winner's value. NatsHistory
 * claims a key this way before an idempotent append and stores the append's position after.
 *
 * KV expiry is per bucket, while the contract takes a TTL per call: each value carries its
 * own expiry, reads ignore a value past it (and a later setIfAbsent replaces it with
 * compare-and-set), and the bucket's max age is raised to the longest TTL asked for so the
 * server removes values no earlier than they expire.
 */
import { nanos } from 'nats';
import type { StreamPosition } from './hub.js';
import { idempotencyToken, type NatsLayout } from './nats-layout.js';
import { apiErrorCode, WRONG_LAST_SEQUENCE, type NatsLink } from './nats-link.js';

const MAX_ATTEMPTS = 16;

interface Stored {
  result: StreamPosition;
  expiresAt: number;
}

export class NatsIdempotency {
  constructor(
    private readonly link: NatsLink,
    private readonly layout: NatsLayout,
    /** The bucket's max age as created; raised when a longer TTL is asked for. */
    private bucketTtlMs: number,
  ) {}

  async get(key: string): Promise<StreamPosition | undefined> {
    try {
      const entry = await this.link.guard(({ idempotency }) => idempotency.get(idempotencyToken(key)));
      if (entry === null || entry.operation !== 'PUT') return undefined;
      const stored = parseStored(entry.string());
      return stored !== undefined && stored.expiresAt > Date.now() ? stored.result : undefined;
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  async setIfAbsent(key: string, result: StreamPosition, ttlSeconds: number): Promise<StreamPosition> {
    try {
      const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
      await this.coverTtl(ttlMs);
      const token = idempotencyToken(key);
      const value = JSON.stringify({ result, expiresAt: Date.now() + ttlMs } satisfies Stored);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          await this.link.guard(({ idempotency }) => idempotency.create(token, value));
          return result;
        } catch (err) {
          if (apiErrorCode(err) !== WRONG_LAST_SEQUENCE) throw err;
        }
        // Someone was first: their result counts, unless it has already expired.
        const entry = await this.link.guard(({ idempotency }) => idempotency.get(token));
        if (entry === null) continue;
        const stored = entry.operation === 'PUT' ? parseStored(entry.string()) : undefined;
        if (stored !== undefined && stored.expiresAt > Date.now()) return stored.result;
        try {
          await this.link.guard(({ idempotency }) => idempotency.update(token, value, entry.revision));
          return result;
        } catch (err) {
          if (apiErrorCode(err) !== WRONG_LAST_SEQUENCE) throw err;
        }
      }
      throw this.link.unavailable(`idempotency key is too contended`);
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  private async coverTtl(ttlMs: number): Promise<void> {
    if (ttlMs <= this.bucketTtlMs) return;
    const stream = `KV_${this.layout.idempotencyBucket}`;
    await this.link.guard(({ jsm }) => jsm.streams.update(stream, { max_age: nanos(ttlMs) }));
    this.bucketTtlMs = ttlMs;
  }
}

function parseStored(text: string): Stored | undefined {
  try {
    const value = JSON.parse(text) as Partial<Stored>;
    if (typeof value.expiresAt === 'number' && typeof value.result === 'object' && value.result !== null) return value as Stored;
  } catch {
    // unreadable: treated as absent
  }
  return undefined;
}
