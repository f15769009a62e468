import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../../src/cluster/hub.js';
import { PublicationOrder } from '../../src/cluster/publication-order.js';

function publication(offset: number): Publication {
  return { offset, data: Buffer.from(String(offset)), binary: false, publishedAt: 0 };
}

describe('PublicationOrder', () => {
  let delivered: [string, number, string][];
  let order: PublicationOrder;
  let listened: Set<string>;
  const accept = (offset: number, epoch = 'e1', topic = 't'): number => order.accept(topic, publication(offset), epoch, () => (listened.has(topic) ? 3 : 0));
  /** A subscribe on this node read the topic's position: delivery goes on after it. */
  const subscribed = (offset: number, epoch = 'e1', topic = 't'): void => {
    listened.add(topic);
    order.start(topic, { offset, epoch });
  };

  beforeEach(() => {
    vi.useFakeTimers();
    delivered = [];
    listened = new Set();
    order = new PublicationOrder(
      (topic, p, epoch) => {
        delivered.push([topic, p.offset, epoch]);
        return 3;
      },
      { gapWaitMs: 250, idleMs: 30_000, hasSubscribers: (topic) => listened.has(topic) },
    );
  });
  afterEach(() => {
    order.close();
    vi.useRealTimers();
  });

  const offsets = (): number[] => delivered.map(([, offset]) => offset);
  const offsetsOf = (topic: string): number[] => delivered.filter(([t]) => t === topic).map(([, offset]) => offset);

  it('delivers in order at once, going on from the position a subscribe read', () => {
    subscribed(6);
    for (const offset of [7, 8, 9]) expect(accept(offset)).toBe(3);
    expect(offsets()).toEqual([7, 8, 9]);
    expect(order.waiting).toBe(0);
  });

  it('holds a later offset until the earlier one arrives, then delivers both in order', () => {
    subscribed(0);
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
    subscribed(0);
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

  it('starts over at offset 1 in a new epoch, delivering what the old one held', () => {
    subscribed(3);
    accept(4);
    accept(6);
    accept(2, 'e2');
    expect(delivered).toEqual([
      ['t', 4, 'e1'],
      ['t', 6, 'e1'],
    ]);
    accept(1, 'e2');
    expect(delivered.slice(2)).toEqual([
      ['t', 1, 'e2'],
      ['t', 2, 'e2'],
    ]);
  });

  it('keeps topics apart', () => {
    subscribed(0, 'e1', 'a');
    subscribed(9, 'e1', 'b');
    accept(1, 'e1', 'a');
    accept(3, 'e1', 'a');
    accept(10, 'e1', 'b');
    accept(11, 'e1', 'b');
    expect(delivered.filter(([topic]) => topic === 'b').map(([, offset]) => offset)).toEqual([10, 11]);
    expect(order.waiting).toBe(1);
  });

  it('delivers what it holds when closed, in offset order', () => {
    subscribed(0);
    accept(1);
    accept(5);
    accept(3);
    order.close();
    expect(offsets()).toEqual([1, 3, 5]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never starts a topic from the first arrival: one that overtook its predecessors waits for them', () => {
    subscribed(0);
    accept(3);
    accept(4);
    expect(offsets()).toEqual([]);
    accept(1);
    accept(2);
    expect(offsets()).toEqual([1, 2, 3, 4]);
  });

  it('holds what arrives while a subscribe reads the position, then goes on from that position', () => {
    listened.add('t');
    // Stored before the read (the subscriber was told offset 2 and finds them in history) or after it.
    for (const offset of [4, 2, 3, 1]) expect(accept(offset)).toBe(3);
    expect(offsets()).toEqual([]);
    order.start('t', { offset: 2, epoch: 'e1' });
    expect(offsets()).toEqual([3, 4]);
    // A copy of an offset at or before the position, arriving late, goes to no one.
    expect(accept(1)).toBe(0);
    expect(offsets()).toEqual([3, 4]);
  });

  it('starts from the first arrival only when no subscribe tells the position within the gap wait', () => {
    listened.add('t');
    accept(5);
    accept(7);
    vi.advanceTimersByTime(250);
    expect(offsets()).toEqual([5]);
    vi.advanceTimersByTime(250);
    expect(offsets()).toEqual([5, 7]);
  });

  it('delivers a topic nobody here subscribes to at once and keeps no state for it', () => {
    expect(accept(5, 'e1', 'nobody')).toBe(3);
    expect(offsets()).toEqual([5]);
    expect(order.size).toBe(0);
  });

  it('keeps a quiet topic with subscribers past the idle interval, so it goes on where it stood', () => {
    subscribed(0);
    accept(1);
    vi.advanceTimersByTime(31_000);
    for (let i = 0; i < 10; i++) accept(i + 1, 'e1', 'other');
    expect(order.size).toBe(1);
    accept(3);
    expect(offsetsOf('t')).toEqual([1]);
    accept(2);
    expect(offsetsOf('t')).toEqual([1, 2, 3]);
  });

  it('forgets an idle topic nobody here subscribes to, and re-learns it from the next subscribe position', () => {
    subscribed(0);
    accept(1);
    listened.delete('t');
    accept(2);
    vi.advanceTimersByTime(31_000);
    accept(1, 'e1', 'other');
    expect(order.size).toBe(0);
    accept(3);
    subscribed(3);
    accept(5);
    // 3 came while nobody listened; the subscribe at 3 starts the topic again, so 5 waits for 4.
    expect(offsetsOf('t')).toEqual([1, 2, 3]);
    accept(4);
    expect(offsetsOf('t')).toEqual([1, 2, 3, 4, 5]);
  });
});
