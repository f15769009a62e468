import { describe, expect, it } from 'vitest';
import { AddressBudget } from '../../src/edge/address-budget.js';

describe('AddressBudget', () => {
  function budget(ratePerSecond: number, maxAddresses?: number): { budget: AddressBudget; advance: (ms: number) => void } {
    let now = 0;
    return { budget: new AddressBudget(ratePerSecond, () => now, maxAddresses), advance: (ms) => (now += ms) };
  }

  it('gives each address a burst of one second\'s worth, then the rate; one address never spends another\'s', () => {
    const { budget: b, advance } = budget(5);
    for (let i = 0; i < 5; i++) expect(b.take('203.0.113.1')).toBe(0);
    expect(b.take('203.0.113.1')).toBe(200);
    expect(b.take('203.0.113.2')).toBe(0);
    advance(200);
    expect(b.take('203.0.113.1')).toBe(0);
    expect(b.take('203.0.113.1')).toBe(200);
  });

  it('forgets addresses idle for a second without losing what they spent', () => {
    const { budget: b, advance } = budget(2);
    b.take('a');
    b.take('a');
    advance(600);
    b.take('b'); // no rotation yet
    advance(500); // 1.1 s: rotation; a is in the older generation, still remembered
    expect(b.take('a')).toBe(0); // refilled 2.2 tokens' worth, capped at 2
    advance(1000);
    b.take('c');
    advance(2500);
    b.take('d');
    expect(b.size).toBe(1);
  });

  it('holds no more addresses than its bound however many distinct ones arrive; past it new ones are not limited per address', () => {
    const { budget: b, advance } = budget(1, 1000);
    for (let i = 0; i < 100_000; i++) expect(b.take(`10.0.${i >> 8}.${i & 255}`)).toBe(0);
    expect(b.size).toBeLessThanOrEqual(1000);
    for (let second = 0; second < 5; second++) {
      advance(1000);
      for (let i = 0; i < 10_000; i++) b.take(`2001:db8::${second}:${i}`);
      expect(b.size).toBeLessThanOrEqual(2000);
    }
    advance(2000);
    b.take('x');
    expect(b.size).toBe(1);
  });
});
