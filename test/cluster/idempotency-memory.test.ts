import { describe, expect, it } from 'vitest';
import { IdempotencyCache } from '../../src/cluster/idempotency-memory.js';
import { ManualClock } from '../../src/time/index.js';

describe('IdempotencyCache', () => {
  it('answers a key with its stored result and unknown keys with undefined', () => {
    const cache = new IdempotencyCache<{ offset: number }>(new ManualClock());
    cache.set('k1', { offset: 1 });
    expect(cache.get('k1')).toEqual({ offset: 1 });
    expect(cache.get('k2')).toBeUndefined();
  });

  it('forgets a key 5 minutes after it was set, by default', () => {
    const clock = new ManualClock();
    const cache = new IdempotencyCache<string>(clock);
    cache.set('k', 'first');
    clock.advance(299_999);
    expect(cache.get('k')).toBe('first');
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('takes its TTL from the options', () => {
    const clock = new ManualClock();
    const cache = new IdempotencyCache<string>(clock, { ttlSeconds: 10 });
    cache.set('k', 'v');
    clock.advance(10_000);
    expect(cache.get('k')).toBeUndefined();
  });

  it('forgets the oldest key once it holds maxEntries', () => {
    const cache = new IdempotencyCache<number>(new ManualClock(), { maxEntries: 3 });
    for (let i = 1; i <= 4; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
    expect(cache.get('k1')).toBeUndefined();
    expect([cache.get('k2'), cache.get('k3'), cache.get('k4')]).toEqual([2, 3, 4]);
  });

  it('counts a key set again as new, for its TTL and its place in line', () => {
    const clock = new ManualClock();
    const cache = new IdempotencyCache<number>(clock, { maxEntries: 2 });
    cache.set('a', 1);
    clock.advance(200_000);
    cache.set('b', 2);
    cache.set('a', 3);
    cache.set('c', 4); // evicts b, now the oldest
    expect(cache.get('b')).toBeUndefined();
    clock.advance(200_000);
    expect(cache.get('a')).toBe(3);
  });

  it('sweeps expired keys on later writes without being asked for them', () => {
    const clock = new ManualClock();
    const cache = new IdempotencyCache<number>(clock);
    for (let i = 0; i < 40; i++) cache.set(`old${i}`, i);
    clock.advance(300_000);
    cache.set('fresh1', 1);
    expect(cache.size).toBeLessThan(41);
    for (let i = 2; i <= 4; i++) cache.set(`fresh${i}`, i);
    expect(cache.size).toBe(4);
  });
});
