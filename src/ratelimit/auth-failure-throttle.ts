import { isIPv6 } from 'node:net';
import { monotonicNow } from './token-bucket.js';

export interface AuthFailureThrottleOptions {
  /** Failures within `windowSeconds` that start a cool-down; 0 turns the throttle off. */
  maxFailures: number;
  windowSeconds: number;
  cooldownSeconds: number;
  /** Addresses tracked at once; past it the oldest entry is dropped. */
  maxAddresses?: number;
}

interface FailureEntry {
  windowStart: number;
  failures: number;
  /** 0 when not blocked. */
  blockedUntil: number;
}

/** ~100 bytes an entry: a few MiB at most, whatever arrives. */
const DEFAULT_MAX_ADDRESSES = 50_000;
/** Entries looked at for expiry per new address: the sweep stays O(1) per failure. */
const SWEEP_PER_INSERT = 4;

/**
 * Failed authentications per source address, in fixed windows: `maxFailures` within
 * `windowSeconds` blocks the address for `cooldownSeconds`. State exists only for addresses
 * that failed; an entry expires when its window and cool-down are over, and the map never holds
 * more than `maxAddresses` (a flood of distinct addresses evicts the oldest entries rather than
 * growing it). IPv6 addresses count per /64, the block one client is usually given.
 */
export class AuthFailureThrottle {
  private readonly entries = new Map<string, FailureEntry>();
  private readonly windowMs: number;
  private readonly cooldownMs: number;
  private readonly maxAddresses: number;

  constructor(
    private readonly options: AuthFailureThrottleOptions,
    private readonly now: () => number = monotonicNow,
  ) {
    this.windowMs = options.windowSeconds * 1000;
    this.cooldownMs = options.cooldownSeconds * 1000;
    this.maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  }

  /** Addresses currently tracked (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Milliseconds until `address` may try again; 0 when it is not blocked. */
  blockedForMs(address: string, now: number = this.now()): number {
    // The common case, no failure anywhere, costs one size check.
    if (this.entries.size === 0) return 0;
    const entry = this.entries.get(keyOf(address));
    if (entry === undefined || entry.blockedUntil <= now) return 0;
    return entry.blockedUntil - now;
  }

  isBlocked(address: string, now: number = this.now()): boolean {
    return this.blockedForMs(address, now) > 0;
  }

  /** Counts one failed authentication; true when it starts the address's cool-down. */
  recordFailure(address: string, now: number = this.now()): boolean {
    if (this.options.maxFailures === 0) return false;
    const key = keyOf(address);
    let entry = this.entries.get(key);
    if (entry === undefined || (entry.blockedUntil <= now && now - entry.windowStart >= this.windowMs)) {
      if (entry !== undefined) this.entries.delete(key);
      else this.makeRoom(now);
      entry = { windowStart: now, failures: 0, blockedUntil: 0 };
      // Re-inserted, so the map stays ordered by when each window began: the oldest are first.
      this.entries.set(key, entry);
    }
    if (entry.blockedUntil > now) return false;
    entry.failures += 1;
    if (entry.failures < this.options.maxFailures) return false;
    entry.blockedUntil = now + this.cooldownMs;
    entry.failures = 0;
    entry.windowStart = now;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return true;
  }

  /** Drops a few expired entries from the front, and the oldest one when the map is full. */
  private makeRoom(now: number): void {
    let looked = 0;
    for (const [key, entry] of this.entries) {
      if (looked++ >= SWEEP_PER_INSERT) break;
      if (entry.blockedUntil <= now && now - entry.windowStart >= this.windowMs) this.entries.delete(key);
    }
    if (this.entries.size >= this.maxAddresses) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }
}

/** IPv4-mapped IPv6 as IPv4; other IPv6 by its /64 (its first four groups). */
function keyOf(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const groups = head === '' ? [] : head.split(':');
  if (groups.length < 4) {
    const tailGroups = tail === '' ? [] : tail.split(':');
    const missing = 8 - groups.length - tailGroups.length;
    groups.push(...Array<string>(missing).fill('0'), ...tailGroups);
  }
  return `${groups.slice(0, 4).join(':')}::/64`;
}
