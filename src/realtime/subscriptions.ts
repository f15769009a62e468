/**
 * `subscribe` and `unsubscribe`: a connection joins a tenant-scoped topic (recovering what it
 * missed when it names the position it had) and leaves it.
 */
import type { Hub, SubscribeResult } from '../cluster/index.js';
import { scopeTopic } from '../connections/index.js';
import { parseSubscribeData, parseUnsubscribeData } from './envelope.js';
import type { EnvelopeReplies } from './replies.js';
import type { RealtimeSession } from './session.js';
import type { TopicAccess } from './topic-access.js';
import { payloadBytes } from './topic-requests.js';

export interface SubscriptionContext {
  /** Payload bytes one recovery may carry (`limits.outboundBufferBytes`). */
  maxAnswerBytes: number;
  hub: Hub;
  access: TopicAccess;
  replies: EnvelopeReplies;
}

/** `subscribe {topic, since?}` → `subscribed {topic, channel, offset, epoch, recovered?, publications?}`. */
export function handleSubscribe(ctx: SubscriptionContext, session: RealtimeSession, data: unknown, requestId: string | undefined): void {
  let topic: string;
  let since;
  try {
    const request = parseSubscribeData(data);
    topic = scopeTopic(session.record.tenantId!, request.topic, request.field);
    since = request.since;
  } catch (err) {
    ctx.replies.fail(session, err, requestId);
    return;
  }
  const start = (): void => {
    ctx.hub.subscribe(session.record.id, topic, since === undefined ? {} : { since }).then(
      (result) => ctx.replies.reply(session, 'subscribed', subscribedView(topic, withinAnswerBytes(result, ctx.maxAnswerBytes)), requestId),
      (err: unknown) => ctx.replies.fail(session, err, requestId),
    );
  };
  ctx.access.whenAllowed(session, 'subscribe', topic, requestId, start);
}

/** `unsubscribe {topic}` → `unsubscribed {topic, channel}`. */
export function handleUnsubscribe(ctx: SubscriptionContext, session: RealtimeSession, data: unknown, requestId: string | undefined): void {
  let topic: string;
  try {
    const request = parseUnsubscribeData(data);
    topic = scopeTopic(session.record.tenantId!, request.topic, request.field);
  } catch (err) {
    ctx.replies.fail(session, err, requestId);
    return;
  }
  ctx.hub.unsubscribe(session.record.id, topic).then(
    () => ctx.replies.reply(session, 'unsubscribed', { topic, channel: topic }, requestId),
    (err: unknown) => ctx.replies.fail(session, err, requestId),
  );
}

/**
 * A recovery whose missed payloads pass the bytes one answer may carry is answered as one
 * history no longer covers (`recovered: false`, reload from the position): encoded whole, a few
 * resubscribes for large publications cost the node hundreds of megabytes and seconds.
 */
function withinAnswerBytes(result: SubscribeResult, maxBytes: number): SubscribeResult {
  if (result.recovered !== true) return result;
  return payloadBytes(result.publications) > maxBytes ? { ...result, recovered: false, publications: [] } : result;
}

function subscribedView(topic: string, result: SubscribeResult): Record<string, unknown> {
  const data: Record<string, unknown> = { topic, channel: topic, offset: result.offset, epoch: result.epoch };
  if (result.recovered !== undefined) {
    data.recovered = result.recovered;
    data.publications = result.publications.map((p) => ({
      offset: p.offset,
      payload: p.binary ? p.data.toString('base64') : decodeTextPayload(p.data),
      ...(p.binary ? { encoding: 'base64' } : {}),
    }));
  }
  return data;
}

/** Recovered text payloads travel as JSON when they are JSON, as a string otherwise. */
function decodeTextPayload(data: Buffer): unknown {
  const text = data.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
