import { RateLimited } from '../errors/index.js';
import type { AuthSurface, Metrics } from '../observability/index.js';
import { retryAfterSeconds, type AuthFailureThrottle } from '../ratelimit/index.js';

/**
 * One surface's use of the failed-authentication throttle: an address in its cool-down is
 * refused before any credential is compared (a correct one included, so a guesser learns
 * nothing during the pause), and each wrong credential is counted and shown in
 * `switchboard_auth_failures_total{surface}`.
 */
export class AuthFailureGate {
  constructor(
    private readonly throttle: AuthFailureThrottle,
    private readonly surface: AuthSurface,
    private readonly metrics?: Metrics,
  ) {}

  /** Throws RateLimited (429, RESOURCE_EXHAUSTED) while `address` cools down. */
  admit(address: string | undefined): void {
    if (address === undefined) return;
    const waitMs = this.throttle.blockedForMs(address);
    if (waitMs === 0) return;
    throw new RateLimited(
      `too many failed authentications from this address: every request from it is refused for ${retryAfterSeconds(waitMs)} s more (auth.failureThrottle)`,
      waitMs,
    );
  }

  failed(address: string | undefined): void {
    this.metrics?.countAuthFailure(this.surface);
    if (address !== undefined) this.throttle.recordFailure(address);
  }
}
