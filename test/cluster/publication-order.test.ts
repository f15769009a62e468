import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../../src/cluster/hub.js';
import { PublicationOrder } from '../../src/cluster/publication-order.js';

function publication(offset: number): Publication {
  return { offset, data: Buffer.from(String(offset)), binary: false, publishedAt: 0 };
}

describe('PublicationOrder', () => {
  let delivered: [string, number, string][];
  let order: PublicationOrder;
  const accept = (offset: number, epoch = 'e1', topic = 't'): number => order.accept(topic, publication(offset), epoch, () => 3);

  beforeEach(() => {
    vi.useFakeTimers();
    delivered = [];
    order = new PublicationOrder((topic, p, epoch) => {
      delivered.push([topic, p.offset, epoch]);
      return 3;
    }, 250);
  });
  afterEach(() => {
    order.close();
    vi.useRealTimers();
  });

  const offsets = (): number[] => delivered.map(([, offset]) => offset);

  it('delivers in order at once, starting wherever the topic is first seen', () => {
    for (const offset of [7, 8, 9]) expect(accept(offset)).toBe(3);
    expect(offsets()).toEqual([7, 8, 9]);
    expect(order.waiting).toBe(0);
  });

  it('holds a later offset until the earlier one arrives, then delivers both in order', () => {
    accept(1);
    expect(accept(3)).toBe(3);
    expect(accept(4)).toBe(3);
    expect(offsets()).toEqual([1]);
    expect(order.waiting).toBe(1);
    accept(2);
    expect(offsets()).toEqual([1, 2, 3, 4]);
    expect(order.waiting).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(offsets()).toEqual([1, 2, 3, 4]);
  });

  it('skips a gap that stays open past the wait, and still delivers its publication if it comes late', () => {
    accept(1);
    accept(3);
    accept(6);
    vi.advanceTimersByTime(249);
    expect(offsets()).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(offsets()).toEqual([1, 3]);
    vi.advanceTimersByTime(250);
    expect(offsets()).toEqual([1, 3, 6]);
    accept(2);
    accept(7);
    expect(offsets()).toEqual([1, 3, 6, 2, 7]);
  });

  it('starts over in a new epoch, delivering what the old one held', () => {
    accept(4);
    accept(6);
    accept(1, 'e2');
    accept(2, 'e2');
    expect(delivered).toEqual([
      ['t', 4, 'e1'],
      ['t', 6, 'e1'],
      ['t', 1, 'e2'],
      ['t', 2, 'e2'],
    ]);
  });

  it('keeps topics apart', () => {
    accept(1, 'e1', 'a');
    accept(3, 'e1', 'a');
    accept(10, 'e1', 'b');
    accept(11, 'e1', 'b');
    expect(delivered.filter(([topic]) => topic === 'b').map(([, offset]) => offset)).toEqual([10, 11]);
    expect(order.waiting).toBe(1);
  });

  it('delivers what it holds when closed, in offset order', () => {
    accept(1);
    accept(5);
    accept(3);
    order.close();
    expect(offsets()).toEqual([1, 3, 5]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
