/** Reconnect delays: exponential growth, a ceiling, and (full, by default) jitter. */

export interface ReconnectOptions {
  /** The ceiling of the first delay. Default 500 ms. */
  initialDelayMs: number;
  /** No delay exceeds this. Default 20 000 ms. */
  maxDelayMs: number;
  /** Each consecutive failure multiplies the ceiling by this. Default 2. */
  factor: number;
  /**
   * The randomised share of each delay: `true` or 1 is full jitter (uniform in [0, ceiling]),
   * `false` or 0 none (exactly the ceiling), 0.5 uniform in [ceiling/2, ceiling]. Default full.
   */
  jitter: boolean | number;
  /** Consecutive failed attempts before the client gives up. Default Infinity. */
  maxAttempts: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 20_000,
  factor: 2,
  jitter: true,
  maxAttempts: Number.POSITIVE_INFINITY,
});

export function reconnectOptions(given: Partial<ReconnectOptions> | undefined): ReconnectOptions {
  const options = { ...DEFAULT_RECONNECT, ...stripUndefined(given ?? {}) };
  if (!(options.initialDelayMs >= 0)) throw new RangeError('reconnect.initialDelayMs must be >= 0');
  if (!(options.maxDelayMs >= options.initialDelayMs)) throw new RangeError('reconnect.maxDelayMs must be >= initialDelayMs');
  if (!(options.factor >= 1)) throw new RangeError('reconnect.factor must be >= 1');
  const jitter = jitterShare(options.jitter);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError('reconnect.jitter must be a boolean or a number in [0, 1]');
  if (!(options.maxAttempts >= 1)) throw new RangeError('reconnect.maxAttempts must be >= 1');
  return options;
}

/** The ceiling before jitter for the failure numbered `attempt` (0 for the first). */
export function backoffCeiling(options: ReconnectOptions, attempt: number): number {
  // Math.pow grows to Infinity rather than throwing, and min() then caps it.
  return Math.min(options.maxDelayMs, options.initialDelayMs * Math.pow(options.factor, Math.max(0, attempt)));
}

/** The delay before the next attempt after the failure numbered `attempt`; `random` in [0, 1). */
export function backoffDelay(options: ReconnectOptions, attempt: number, random: () => number): number {
  const ceiling = backoffCeiling(options, attempt);
  const share = jitterShare(options.jitter);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling * (1 - share) + ceiling * share * r);
}

function jitterShare(jitter: boolean | number): number {
  if (jitter === true) return 1;
  if (jitter === false) return 0;
  return jitter;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}
