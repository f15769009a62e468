import type { CircuitBreakerSetting } from '../config/index.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions extends CircuitBreakerSetting {
  /** Monotonic milliseconds; a test moves it by hand. */
  now: () => number;
  /** Told when a breaker opens, half-opens or closes (logs, metrics). */
  onChange?: (origin: string, state: CircuitState, failures: number) => void;
}

/**
 * One backend origin's breaker. Closed, it counts consecutive failures (transport errors,
 * timeouts, 502/503/504 answers); at the threshold it opens and every call fails at once for
 * the cool-down, so a dead backend costs clients a fast 503 instead of a full timeout each.
 * After the cool-down one call goes through as a probe (half-open): its success closes the
 * breaker, its failure opens it for another cool-down. Any success resets the count.
 */
export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openUntil = 0;
  /** Half-open with its probe out: others wait for the probe's outcome. */
  private probing = false;

  constructor(
    readonly origin: string,
    private readonly options: CircuitBreakerOptions,
  ) {}

  get current(): CircuitState {
    return this.state;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** undefined when a call may go now (the probe, when half-open); else ms until one may. */
  admit(): number | undefined {
    if (this.state === 'closed') return undefined;
    const now = this.options.now();
    if (this.state === 'open' && now >= this.openUntil) {
      this.probing = true;
      this.change('half-open');
      return undefined;
    }
    if (this.state === 'half-open' && !this.probing) {
      this.probing = true;
      return undefined;
    }
    // Open, or half-open with its probe still out: the probe's own timeouts bound the wait.
    return Math.max(1, this.openUntil - now);
  }

  succeeded(): void {
    this.probing = false;
    this.failures = 0;
    if (this.state !== 'closed') this.change('closed');
  }

  failed(): void {
    this.probing = false;
    this.failures++;
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.options.failureThreshold)) {
      this.openUntil = this.options.now() + this.options.cooldownSeconds * 1000;
      this.change('open');
    }
    // Open already: a late failure of a call sent before it opened does not extend the cool-down.
  }

  /**
   * A call that ended without saying anything about the backend (the gateway could not build
   * it, the node is closing): nothing is counted, and a probe it was lets the next call probe.
   */
  released(): void {
    this.probing = false;
  }

  private change(state: CircuitState): void {
    this.state = state;
    this.options.onChange?.(this.origin, state, this.failures);
  }
}
