import { describe, expect, it } from 'vitest';
import { AuthFailureThrottle } from '../../src/ratelimit/index.js';

describe('AuthFailureThrottle', () => {
  it('blocks an address for the cool-down once it fails maxFailures times within the window, and counts afresh after', () => {
    const throttle = new AuthFailureThrottle({ maxFailures: 3, windowSeconds: 60, cooldownSeconds: 30 });
    expect(throttle.recordFailure('10.0.0.1', 0)).toBe(false);
    expect(throttle.recordFailure('10.0.0.1', 1000)).toBe(false);
    expect(throttle.isBlocked('10.0.0.1', 1000)).toBe(false);
    expect(throttle.recordFailure('10.0.0.1', 2000)).toBe(true);
    expect(throttle.blockedForMs('10.0.0.1', 2000)).toBe(30_000);
    expect(throttle.blockedForMs('10.0.0.1', 31_999)).toBe(1);
    // Another address is not touched.
    expect(throttle.isBlocked('10.0.0.2', 2000)).toBe(false);
    // Failures during the cool-down do not extend it.
    throttle.recordFailure('10.0.0.1', 10_000);
    expect(throttle.isBlocked('10.0.0.1', 32_000)).toBe(false);
    expect(throttle.recordFailure('10.0.0.1', 32_000)).toBe(false);
    expect(throttle.recordFailure('10.0.0.1', 33_000)).toBe(false);
    expect(throttle.recordFailure('10.0.0.1', 34_000)).toBe(true);
  });

  it('forgets failures spread over more than the window', () => {
    const throttle = new AuthFailureThrottle({ maxFailures: 3, windowSeconds: 10, cooldownSeconds: 30 });
    for (let t = 0; t < 100_000; t += 6000) expect(throttle.recordFailure('10.0.0.1', t)).toBe(false);
  });

  it('stays bounded under a flood of distinct addresses, and expired entries go', () => {
    const throttle = new AuthFailureThrottle({ maxFailures: 2, windowSeconds: 10, cooldownSeconds: 10, maxAddresses: 100 });
    for (let i = 0; i < 100_000; i++) throttle.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i / 100);
    expect(throttle.size).toBeLessThanOrEqual(100);
    const small = new AuthFailureThrottle({ maxFailures: 2, windowSeconds: 10, cooldownSeconds: 10 });
    for (let i = 0; i < 50; i++) small.recordFailure(`192.0.2.${i}`, 0);
    for (let i = 0; i < 50; i++) small.recordFailure(`198.51.100.${i}`, 20_000);
    expect(small.size).toBeLessThan(100);
  });

  it('counts an IPv6 client per /64 and an IPv4-mapped address as IPv4', () => {
    const throttle = new AuthFailureThrottle({ maxFailures: 2, windowSeconds: 60, cooldownSeconds: 60 });
    throttle.recordFailure('2001:db8:1:2::1', 0);
    expect(throttle.recordFailure('2001:db8:1:2:ffff:ffff:ffff:fffe', 0)).toBe(true);
    expect(throttle.isBlocked('2001:db8:1:2::99', 1)).toBe(true);
    expect(throttle.isBlocked('2001:db8:1:3::1', 1)).toBe(false);
    throttle.recordFailure('::ffff:192.0.2.7', 0);
    expect(throttle.recordFailure('192.0.2.7', 0)).toBe(true);
  });

  it('maxFailures 0 turns it off', () => {
    const throttle = new AuthFailureThrottle({ maxFailures: 0, windowSeconds: 60, cooldownSeconds: 60 });
    for (let i = 0; i < 100; i++) throttle.recordFailure('10.0.0.1', i);
    expect(throttle.isBlocked('10.0.0.1', 100)).toBe(false);
    expect(throttle.size).toBe(0);
  });
});
