import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryTopicHistory } from '../../src/cluster/history-memory.js';
import { ManualClock } from '../../src/time/index.js';

const KEEP_10 = { historySize: 10, historyTtlSeconds: 300 };

function text(value: string): { data: Buffer; binary: boolean } {
  return { data: Buffer.from(value), binary: false };
}

function offsets(publications: { offset: number }[]): number[] {
  return publications.map((publication) => publication.offset);
}

function publishMany(history: MemoryTopicHistory, topic: string, count: number, retention = KEEP_10): string {
  let epoch = '';
  for (let i = 1; i <= count; i++) epoch = history.append(topic, text(`m${i}`), retention).epoch;
  return epoch;
}

describe('MemoryTopicHistory', () => {
  it('assigns offsets from 1, one more per publication, per topic, in one epoch', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const first = history.append('acme:a', text('x'), KEEP_10);
    const second = history.append('acme:a', text('y'), KEEP_10);
    const other = history.append('acme:b', text('z'), KEEP_10);
    expect([first.publication.offset, second.publication.offset, other.publication.offset]).toEqual([1, 2, 1]);
    expect(second.epoch).toBe(first.epoch);
    expect(other.epoch).not.toBe(first.epoch);
    expect(first.epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(history.position('acme:a')).toEqual({ offset: 2, epoch: first.epoch });
  });

  it('stamps publications with the clock and keeps their bytes', () => {
    const clock = new ManualClock();
    const history = new MemoryTopicHistory(clock);
    const { publication } = history.append('acme:a', { data: Buffer.from([1, 2]), binary: true }, KEEP_10);
    expect(publication).toEqual({ offset: 1, data: Buffer.from([1, 2]), binary: true, publishedAt: clock.now() });
  });

  it('gives an unknown topic offset 0 and an epoch that stays until the stream is dropped', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const position = history.position('acme:new');
    expect(position.offset).toBe(0);
    expect(history.position('acme:new')).toEqual(position);
    expect(history.append('acme:new', text('x'), KEEP_10).epoch).toBe(position.epoch);
  });

  it('advances offsets even when historySize is 0, and keeps nothing', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const none = { historySize: 0, historyTtlSeconds: 300 };
    const epoch = publishMany(history, 'acme:a', 3, none);
    expect(history.position('acme:a').offset).toBe(3);
    expect(history.read('acme:a', { sinceOffset: 3, epoch })).toMatchObject({ publications: [], complete: true });
    expect(history.read('acme:a', { sinceOffset: 2, epoch })).toMatchObject({ publications: [], complete: false });
  });

  it('returns exactly the missed publications, in order, after a given offset', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const epoch = publishMany(history, 'acme:a', 8);
    const missed = history.read('acme:a', { sinceOffset: 5, epoch });
    expect(offsets(missed.publications)).toEqual([6, 7, 8]);
    expect(missed.publications.map((p) => p.data.toString())).toEqual(['m6', 'm7', 'm8']);
    expect(missed).toMatchObject({ offset: 8, epoch, complete: true });
    expect(history.read('acme:a', { sinceOffset: 8, epoch })).toMatchObject({ publications: [], complete: true });
    expect(offsets(history.read('acme:a', {}).publications)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('evicts the oldest past historySize and reports an incomplete read that reaches past it', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const epoch = publishMany(history, 'acme:a', 25);
    expect(offsets(history.read('acme:a', {}).publications)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    // The oldest retained is 16: a client at 15 missed nothing that is gone, one at 14 lost 15.
    expect(history.read('acme:a', { sinceOffset: 15, epoch })).toMatchObject({ complete: true });
    const lost = history.read('acme:a', { sinceOffset: 14, epoch });
    expect(lost.complete).toBe(false);
    expect(offsets(lost.publications)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  });

  it('reports incomplete for another epoch and returns nothing from it', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    publishMany(history, 'acme:a', 3);
    const read = history.read('acme:a', { sinceOffset: 1, epoch: 'an-old-epoch' });
    expect(read).toMatchObject({ offset: 3, complete: false, publications: [] });
  });

  it('reports incomplete for an offset past the stream end', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const epoch = publishMany(history, 'acme:a', 3);
    expect(history.read('acme:a', { sinceOffset: 9, epoch })).toMatchObject({ complete: false, publications: [] });
  });

  it('drops publications older than the TTL and reports what they leave missing', () => {
    const clock = new ManualClock();
    const history = new MemoryTopicHistory(clock);
    const retention = { historySize: 100, historyTtlSeconds: 60 };
    const epoch = publishMany(history, 'acme:a', 3, retention);
    clock.advance(30_000);
    history.append('acme:a', text('m4'), retention);
    clock.advance(31_000); // 1..3 are 61 s old, 4 is 31 s old
    const read = history.read('acme:a', { sinceOffset: 1, epoch });
    expect(read.complete).toBe(false);
    expect(offsets(read.publications)).toEqual([4]);
    expect(history.read('acme:a', { sinceOffset: 3, epoch })).toMatchObject({ complete: true, epoch });
  });

  it('starts a new epoch for a topic left without entries and activity for its TTL', () => {
    const clock = new ManualClock();
    const history = new MemoryTopicHistory(clock);
    const retention = { historySize: 5, historyTtlSeconds: 60 };
    const epoch = publishMany(history, 'acme:a', 2, retention);
    clock.advance(61_000);
    const read = history.read('acme:a', { sinceOffset: 2, epoch });
    expect(read.complete).toBe(false);
    expect(read.epoch).not.toBe(epoch);
    expect(read.offset).toBe(0);
    expect(history.append('acme:a', text('again'), retention)).toMatchObject({ epoch: read.epoch, publication: { offset: 1 } });
  });

  it('caps a read at limit, oldest first, without changing completeness', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    const epoch = publishMany(history, 'acme:a', 10);
    const page = history.read('acme:a', { sinceOffset: 2, epoch, limit: 3 });
    expect(offsets(page.publications)).toEqual([3, 4, 5]);
    expect(page.complete).toBe(true);
    expect(history.read('acme:a', { sinceOffset: 2, epoch, limit: 0 }).publications).toEqual([]);
    expect(offsets(history.read('acme:a', { limit: 2 }).publications)).toEqual([1, 2]);
  });

  it('follows a change of historySize, keeping the newest entries', () => {
    const history = new MemoryTopicHistory(new ManualClock());
    publishMany(history, 'acme:a', 10);
    history.append('acme:a', text('m11'), { historySize: 3, historyTtlSeconds: 300 });
    expect(offsets(history.read('acme:a', {}).publications)).toEqual([9, 10, 11]);
    history.append('acme:a', text('m12'), KEEP_10);
    expect(offsets(history.read('acme:a', {}).publications)).toEqual([9, 10, 11, 12]);
  });

  it('forgets idle topics nobody touches any more, a few per call', () => {
    const clock = new ManualClock();
    const history = new MemoryTopicHistory(clock, { idleStreamSeconds: 60 });
    for (let i = 0; i < 50; i++) history.position(`acme:looked-at-${i}`);
    expect(history.topicCount).toBe(50);
    clock.advance(61_000);
    for (let i = 0; i < 60; i++) history.append('acme:busy', text('x'), KEEP_10);
    expect(history.topicCount).toBe(1);
  });

  it('matches a plain array model for any sequence of appends and reads', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), size: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('read' as const), since: fc.integer({ min: 0, max: 40 }), limit: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const history = new MemoryTopicHistory(new ManualClock());
        let model: number[] = [];
        let last = 0;
        const epoch = history.position('t:x').epoch;
        for (const op of operations) {
          if (op.kind === 'append') {
            const { publication } = history.append('t:x', text('p'), { historySize: op.size, historyTtlSeconds: 300 });
            last++;
            expect(publication.offset).toBe(last);
            model.push(last);
            model = op.size === 0 ? [] : model.slice(-op.size);
          } else {
            const read = history.read('t:x', { sinceOffset: op.since, epoch, limit: op.limit });
            const after = model.filter((offset) => offset > op.since);
            expect(offsets(read.publications)).toEqual(op.limit === undefined ? after : after.slice(0, op.limit));
            const oldest = model.length === 0 ? last + 1 : model[0]!;
            expect(read.complete).toBe(op.since >= oldest - 1 && op.since <= last);
          }
        }
      }),
    );
  });
});
