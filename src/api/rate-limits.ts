import type { ApiKeySetting, AwsAccessKeySetting, RateLimitSetting } from '../config/index.js';
import { RateLimited } from '../errors/index.js';
import { TokenBucket, monotonicNow, retryAfterSeconds } from '../ratelimit/index.js';
import { keyIdOf, type Caller, type CallerBudget } from './auth.js';

interface KeyBudget {
  bucket: TokenBucket;
  limit: RateLimitSetting;
}

/**
 * Token buckets by key, built once from the configured keys: an unknown key never reaches the
 * map, so callers cannot grow it.
 */
class KeyBudgets {
  private readonly budgets = new Map<string, KeyBudget>();

  constructor(
    entries: Iterable<readonly [string, RateLimitSetting]>,
    private readonly what: string,
    now: () => number,
  ) {
    for (const [id, limit] of entries) this.budgets.set(id, { bucket: new TokenBucket(limit.requestsPerSecond, limit.burst, now), limit });
  }

  charge(id: string): void {
    const budget = this.budgets.get(id);
    if (budget === undefined) return;
    const waitMs = budget.bucket.take();
    if (waitMs === 0) return;
    const { requestsPerSecond, burst } = budget.limit;
    throw new RateLimited(
      `this ${this.what} is over its rate limit (${requestsPerSecond} requests per second, burst ${burst}); retry in ${retryAfterSeconds(waitMs)} s`,
      waitMs,
    );
  }
}

/**
 * One token bucket per configured API key, shared by every surface that takes the keys (REST
 * and gRPC), so a key has one budget however it calls.
 */
export class ApiKeyRateLimiter implements CallerBudget {
  private readonly budgets: KeyBudgets;

  constructor(keys: ApiKeySetting[], defaults: RateLimitSetting, now: () => number = monotonicNow) {
    this.budgets = new KeyBudgets(
      keys.map((key) => [keyIdOf(key.key), key.rateLimit ?? defaults] as const),
      'API key',
      now,
    );
  }

  /**
   * Takes one request from the caller's key. Without configured keys (a loopback-only node)
   * there is no key to charge and nothing is limited.
   */
  charge(caller: Caller): void {
    if (caller.keyId !== undefined) this.budgets.charge(caller.keyId);
  }
}

/** The `@connections` surface's budgets: one bucket per SigV4 access key, at `management.rateLimit`. */
export class AccessKeyRateLimiter {
  private readonly budgets: KeyBudgets;

  constructor(keys: readonly AwsAccessKeySetting[], defaults: RateLimitSetting, now: () => number = monotonicNow) {
    this.budgets = new KeyBudgets(
      keys.map((key) => [key.accessKeyId, defaults] as const),
      'access key',
      now,
    );
  }

  /** Charged once the signature is verified: an unsigned or forged request costs the key nothing. */
  charge(accessKeyId: string): void {
    this.budgets.charge(accessKeyId);
  }
}
