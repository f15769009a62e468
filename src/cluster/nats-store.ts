/**
 * The JetStream store of the NATS backplane: the history stream and the three KV buckets
 * (liveness, epochs, idempotency keys), created when missing and brought to the settings this
 * node runs with. Run at start and again after every reconnect, since the server may have come
 * back without its store. docs/nats-layout.md describes each.
 */
import { nanos, type JetStreamManager, type KV, type StreamConfig } from 'nats';
import type { NatsLayout } from './nats-layout.js';
import { apiErrorCode, STREAM_NOT_FOUND } from './nats-link.js';

export interface NatsStoreSettings {
  layout: NatsLayout;
  /** Max age of a liveness entry. */
  livenessTtlMs: number;
  /** How long the epoch of a topic with no entries is kept. */
  idleStreamMs: number;
  /** How long an idempotency key is kept at least. */
  idempotencyTtlMs: number;
  /** JetStream replicas of the stream and buckets. */
  replicas: number;
}

export interface NatsBuckets {
  nodes: KV;
  epochs: KV;
  idempotency: KV;
}

export async function ensureStore(jsm: JetStreamManager, settings: NatsStoreSettings): Promise<NatsBuckets> {
  const { layout } = settings;
  await ensureHistoryStream(jsm, settings);
  const nodes = await ensureBucket(jsm, layout.nodesBucket, settings.livenessTtlMs, 'exact', settings.replicas);
  const epochs = await ensureBucket(jsm, layout.epochsBucket, settings.idleStreamMs, 'exact', settings.replicas);
  const idempotency = await ensureBucket(jsm, layout.idempotencyBucket, settings.idempotencyTtlMs, 'at-least', settings.replicas);
  return { nodes, epochs, idempotency };
}

async function ensureHistoryStream(jsm: JetStreamManager, { layout, replicas }: NatsStoreSettings): Promise<void> {
  const config: Partial<StreamConfig> = {
    name: layout.historyStream,
    subjects: [`${layout.subjectPrefix}.hist.>`],
    description: 'Switchboard topic history: one subject per topic, offset and epoch in headers',
    // Limits are per message (see nats-history.ts), so the stream itself keeps everything
    // it is given and the backplane trims it.
    max_msgs_per_subject: -1,
    allow_rollup_hdrs: true,
    allow_direct: true,
    num_replicas: replicas,
  };
  try {
    const info = await jsm.streams.info(config.name!);
    if (!info.config.allow_rollup_hdrs || !info.config.allow_direct) await jsm.streams.update(config.name!, { allow_rollup_hdrs: true, allow_direct: true });
  } catch (err) {
    if (apiErrorCode(err) !== STREAM_NOT_FOUND) throw err;
    await jsm.streams.add(config);
  }
}

/** A KV bucket whose max age is the TTL (exactly, or at least it for idempotency, see nats-idempotency.ts). */
async function ensureBucket(jsm: JetStreamManager, bucket: string, ttlMs: number, mode: 'exact' | 'at-least', replicas: number): Promise<KV> {
  const kv = await jsm.jetstream().views.kv(bucket, { ttl: ttlMs, history: 1, replicas, allow_direct: true });
  const status = await kv.status();
  if (mode === 'exact' ? status.ttl !== ttlMs : status.ttl < ttlMs) await jsm.streams.update(`KV_${bucket}`, { max_age: nanos(ttlMs) });
  return kv;
}
