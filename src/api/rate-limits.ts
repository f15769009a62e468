import type { ApiKeySetting, RateLimitSetting } from '../config/index.js';
import { RateLimited } from '../errors/index.js';
import { TokenBucket, monotonicNow, retryAfterSeconds } from '../ratelimit/index.js';
import { keyIdOf, type Caller, type CallerBudget } from './auth.js';

interface KeyBudget {
  bucket: TokenBucket;
  limit: RateLimitSetting;
}

/**
 * One token bucket per configured API key, shared by every surface that takes the keys (REST
 * and gRPC), so a key has one budget however it calls. The map holds configured keys only:
 * an unknown key never reaches it, so callers cannot grow it.
 */
export class ApiKeyRateLimiter implements CallerBudget {
  private readonly budgets = new Map<string, KeyBudget>();

  constructor(keys: ApiKeySetting[], defaults: RateLimitSetting, now: () => number = monotonicNow) {
    for (const key of keys) {
      const limit = key.rateLimit ?? defaults;
      this.budgets.set(keyIdOf(key.key), { bucket: new TokenBucket(limit.requestsPerSecond, limit.burst, now), limit });
    }
  }

  /**
   * Takes one request from the caller's key. Without configured keys (a loopback-only node)
   * there is no key to charge and nothing is limited.
   */
  charge(caller: Caller): void {
    if (caller.keyId === undefined) return;
    const budget = this.budgets.get(caller.keyId);
    if (budget === undefined) return;
    const waitMs = budget.bucket.take();
    if (waitMs === 0) return;
    const { requestsPerSecond, burst } = budget.limit;
    throw new RateLimited(
      `this API key is over its rate limit (${requestsPerSecond} requests per second, burst ${burst}); retry in ${retryAfterSeconds(waitMs)} s`,
      waitMs,
    );
  }
}
