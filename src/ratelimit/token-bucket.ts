/** Milliseconds from a clock that never goes back (wall-clock steps must not refill or drain a bucket). */
export const monotonicNow = (): number => performance.now();

/**
 * A token bucket: holds up to `burst` tokens, refilled continuously at `ratePerSecond`. State
 * is two numbers, refreshed when a token is asked for; there is no timer.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = monotonicNow,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes one token: 0 when it was there, else the milliseconds until one will be. */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }
}

/** An HTTP `Retry-After` value (whole seconds, at least 1) for a wait in milliseconds. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}
