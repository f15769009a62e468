/**
 * Shared history and idempotency on Redis: the semantics of MemoryTopicHistory and
 * IdempotencyCache, held where every node sees the same state.
 */
import { randomBytes } from 'node:crypto';
import type { HistoryRetentionSettings, SharedHistory, SharedIdempotency } from './backplane.js';
import type { HistoryQuery, HistoryResult, Payload, Publication, PublishResult, StreamPosition } from './hub.js';
import type { RedisLayout } from './redis-layout.js';
import { APPEND, READ, SET_IF_ABSENT, type ScriptRunner } from './redis-scripts.js';

type AppendReply = [epoch: Buffer, offset: number, publishedAt: number];
type Entry = [offset: number, data: Buffer, binary: Buffer, publishedAt: number];
type ReadReply = [epoch: Buffer, lastOffset: number, oldestOffset: number, entries: Entry[]];

/** The same shape as MemoryTopicHistory's epochs: 16 hex characters. */
function epochCandidate(): string {
  return randomBytes(8).toString('hex');
}

export class RedisHistory implements SharedHistory {
  constructor(
    private readonly redis: ScriptRunner,
    private readonly layout: RedisLayout,
    /** How long a topic with no retained entries and no TTL keeps its epoch (MemoryTopicHistory's idleStreamSeconds). */
    private readonly idleMs: number,
  ) {}

  async append(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<{ publication: Publication; epoch: string }> {
    const size = Math.max(0, Math.floor(retention.historySize));
    const ttlMs = retention.historyTtlSeconds > 0 ? Math.round(retention.historyTtlSeconds * 1000) : 0;
    const args = [size, ttlMs, this.idleMs, epochCandidate(), payload.data, payload.binary ? '1' : '0'];
    const [epoch, offset, publishedAt] = (await this.redis.run(APPEND, this.layout.topicKeys(topic), args, true)) as AppendReply;
    return { publication: { offset, data: payload.data, binary: payload.binary, publishedAt }, epoch: epoch.toString() };
  }

  async position(topic: string): Promise<StreamPosition> {
    const [epoch, offset] = await this.query(topic, 1, 0, '');
    return { offset, epoch: epoch.toString() };
  }

  /** `complete` and the epoch rule exactly as MemoryTopicHistory.read. */
  async read(topic: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    const since = query.sinceOffset;
    const first = since === undefined ? 1 : Math.max(1, Math.floor(since) + 1);
    const limit = query.limit === undefined || query.limit < 0 ? -1 : Math.floor(query.limit);
    const [epochBuffer, last, oldest, entries] = await this.query(topic, first, limit, query.epoch ?? '');
    const epoch = epochBuffer.toString();
    if (query.epoch !== undefined && query.epoch !== epoch) return { offset: last, epoch, publications: [], complete: false };
    const complete = since === undefined || (since >= oldest - 1 && since <= last);
    const publications = entries.map(([offset, data, binary, publishedAt]): Publication => ({ offset, data, binary: binary.toString() === '1', publishedAt }));
    return { offset: last, epoch, publications, complete };
  }

  private async query(topic: string, first: number, limit: number, epoch: string): Promise<ReadReply> {
    return (await this.redis.run(READ, this.layout.topicKeys(topic), [first, limit, epoch, epochCandidate(), this.idleMs], true)) as ReadReply;
  }
}

export class RedisIdempotency implements SharedIdempotency {
  constructor(
    private readonly redis: ScriptRunner & { get(key: string): Promise<string | null> },
    private readonly layout: RedisLayout,
  ) {}

  async get(key: string): Promise<PublishResult | undefined> {
    const stored = await this.redis.get(this.layout.idempotencyKey(key));
    return stored === null ? undefined : (JSON.parse(stored) as PublishResult);
  }

  /** One script: the first SET wins and every later caller reads what it stored. */
  async setIfAbsent(key: string, result: PublishResult, ttlSeconds: number): Promise<PublishResult> {
    const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
    const stored = await this.redis.run(SET_IF_ABSENT, [this.layout.idempotencyKey(key)], [JSON.stringify(result), ttlMs], false);
    return stored === null ? result : (JSON.parse(stored as string) as PublishResult);
  }
}
