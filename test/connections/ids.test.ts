import { describe, expect, it } from 'vitest';
import { MessageIdGenerator } from '../../src/connections/index.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('MessageIdGenerator', () => {
  it('makes UUIDv7 ids whose first 48 bits are the millisecond', () => {
    const ids = new MessageIdGenerator();
    const ms = Date.UTC(2026, 11, 6, 18, 0, 0, 123);
    const id = ids.next(ms);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
  });

  it('keeps ids in order within a millisecond, across milliseconds and when the clock steps back', () => {
    const ids = new MessageIdGenerator();
    const base = 1_800_000_000_000;
    const made = [base, base, base, base + 1, base + 1, base - 5, base + 2].map((ms) => ids.next(ms));
    for (const id of made) expect(id).toMatch(UUID_V7);
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
    // The id made when the clock stepped back stays in the last millisecond seen.
    expect(made[5]!.slice(0, 13)).toBe(made[4]!.slice(0, 13));
    expect(made[6]!.slice(0, 13)).not.toBe(made[5]!.slice(0, 13));
  });

  it('borrows the next millisecond when 4096 ids were made in one', () => {
    const ids = new MessageIdGenerator();
    const ms = 1_800_000_000_000;
    const made = Array.from({ length: 4097 }, () => ids.next(ms));
    expect(made[4095]!.slice(14, 18)).toBe('7fff');
    expect(parseInt(made[4096]!.slice(0, 8) + made[4096]!.slice(9, 13), 16)).toBe(ms + 1);
    expect(made[4096]!.slice(14, 18)).toBe('7000');
    expect([...made].sort()).toEqual(made);
  });
});
