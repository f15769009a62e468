/**
 * Shared history on Redis, idempotent appends included: the semantics of the memory
 * backplane's history, held where every node sees the same state.
 */
import { randomBytes } from 'node:crypto';
import type { AlreadyAppended, Appended, HistoryRetentionSettings, IdempotentAppend, SharedHistory } from './backplane.js';
import type { HistoryQuery, HistoryResult, Payload, Publication, StreamPosition } from './hub.js';
import type { RedisLayout } from './redis-layout.js';
import { APPEND, READ, type ScriptRunner } from './redis-scripts.js';

type AppendReply = [epoch: Buffer, offset: number, publishedAt: number] | [firstEpoch: Buffer, firstOffset: number];
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

  append(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<Appended>;
  append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency: IdempotentAppend): Promise<Appended | AlreadyAppended>;
  async append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency?: IdempotentAppend): Promise<Appended | AlreadyAppended> {
    const size = Math.max(0, Math.floor(retention.historySize));
    const ttlMs = retention.historyTtlSeconds > 0 ? Math.round(retention.historyTtlSeconds * 1000) : 0;
    const keys: string[] = this.layout.topicKeys(topic);
    const args: (string | number | Buffer)[] = [size, ttlMs, this.idleMs, epochCandidate(), payload.data, payload.binary ? '1' : '0'];
    if (idempotency !== undefined) {
      keys.push(this.layout.idempotencyKey(topic, idempotency.key));
      args.push(Math.max(1, Math.round(idempotency.ttlSeconds * 1000)));
    }
    const reply = (await this.redis.run(APPEND, keys, args, true)) as AppendReply;
    if (reply.length === 2) return { duplicateOf: { offset: reply[1], epoch: reply[0].toString() } };
    const [epoch, offset, publishedAt] = reply;
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
