/**
 * Client calls on topics beyond subscribing (DESIGN.md §2.3, "Realtime for real apps"):
 * `publish`, `presence` and `history`, each answered like the management API's call of the same
 * name, through the same Hub, after one permission decision (permissions.ts). One handler per envelope type.
 */
import type { HistoryQuery, Hub, Publication } from '../cluster/index.js';
import { scopeTopic } from '../connections/index.js';
import { InvalidArgument, LimitExceeded } from '../errors/index.js';
import { formatRfc3339 } from '../time/index.js';
import type { TopicAction } from './permissions.js';
import { parseSubscribeData, requireObject, requireTopic } from './envelope.js';
import type { RealtimeSession } from './session.js';

export interface TopicRequestContext {
  /** Payload bytes one `history` answer may carry (`limits.outboundBufferBytes`). */
  maxAnswerBytes: number;
  hub(): Hub;
  /** Rejects (TopicForbidden, answered FORBIDDEN) when the topic's rules refuse the action. */
  check(session: RealtimeSession, action: TopicAction, topic: string): Promise<void>;
  reply(session: RealtimeSession, type: string, data: unknown, requestId?: string): void;
  fail(session: RealtimeSession, err: unknown, requestId?: string): void;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;
export const MAX_HISTORY_LIMIT = 10_000;

/** `publish {topic, data, idempotencyKey?}` → `published {topic, offset, epoch}`. */
export function handlePublish(ctx: TopicRequestContext, session: RealtimeSession, data: unknown, requestId?: string): void {
  answer(ctx, session, requestId, async () => {
    const request = parseClientPublishData(data);
    const topic = await allowedTopic(ctx, session, 'publish', request.topic);
    const result = await ctx.hub().publish(topic, request.payload, request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey });
    return ['published', { topic, offset: result.offset, epoch: result.epoch }];
  });
}

/** `presence {topic}` → `presence {topic, connections, users}`. */
export function handlePresence(ctx: TopicRequestContext, session: RealtimeSession, data: unknown, requestId?: string): void {
  answer(ctx, session, requestId, async () => {
    const topic = await allowedTopic(ctx, session, 'presence', requireTopic(requireObject(data, 'data').topic));
    const result = await ctx.hub().presence(topic);
    return ['presence', { topic, connections: result.connections, users: result.users }];
  });
}

/** `history {topic, since?, limit?}` → `history {topic, publications, offset, epoch, complete}`. */
export function handleHistory(ctx: TopicRequestContext, session: RealtimeSession, data: unknown, requestId?: string): void {
  answer(ctx, session, requestId, async () => {
    const request = parseHistoryData(data);
    const topic = await allowedTopic(ctx, session, 'history', request.topic);
    const result = await ctx.hub().history(topic, request.query);
    // The answer is built whole before the outbound buffer could refuse it: a few requests for
    // large publications would cost the node hundreds of megabytes and seconds of encoding.
    const bytes = payloadBytes(result.publications);
    if (bytes > ctx.maxAnswerBytes) {
      throw new LimitExceeded(
        `the history answer would carry ${bytes} bytes of payloads, over the ${ctx.maxAnswerBytes} one answer may carry (limits.outboundBufferBytes): ask for fewer with data.limit`,
        'limits.outboundBufferBytes',
      );
    }
    return [
      'history',
      { topic, publications: result.publications.map(publicationView), offset: result.offset, epoch: result.epoch, complete: result.complete },
    ];
  });
}

function answer(ctx: TopicRequestContext, session: RealtimeSession, requestId: string | undefined, call: () => Promise<[string, unknown]>): void {
  call().then(
    ([type, body]) => ctx.reply(session, type, body, requestId),
    (err: unknown) => ctx.fail(session, err, requestId),
  );
}

/** The tenant-scoped topic, once the topic's rules allow the action on it. */
async function allowedTopic(ctx: TopicRequestContext, session: RealtimeSession, action: TopicAction, named: string): Promise<string> {
  const topic = scopeTopic(session.record.tenantId!, named);
  await ctx.check(session, action, topic);
  return topic;
}

export interface ClientPublishData {
  topic: string;
  /** The JSON text of `data`, published as a TEXT payload. */
  payload: { data: Buffer; binary: false };
  idempotencyKey?: string;
}

/** `data` of a `publish` envelope: `data.data` is any JSON value and travels as its JSON text. */
export function parseClientPublishData(data: unknown): ClientPublishData {
  const object = requireObject(data, 'data');
  const topic = requireTopic(object.topic);
  if (object.data === undefined) throw new InvalidArgument('data.data is required (any JSON value)', 'data.data');
  const parsed: ClientPublishData = { topic, payload: { data: Buffer.from(JSON.stringify(object.data)), binary: false } };
  const key = object.idempotencyKey;
  if (key !== undefined) {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      throw new InvalidArgument(`data.idempotencyKey must be a string of 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, 'data.idempotencyKey');
    }
    parsed.idempotencyKey = key;
  }
  return parsed;
}

/** `data` of a `history` envelope: `since` is the `{offset, epoch}` position `subscribe` takes. */
export function parseHistoryData(data: unknown): { topic: string; query: HistoryQuery } {
  const { topic, since } = parseSubscribeData(data);
  const query: HistoryQuery = since === undefined ? {} : { sinceOffset: since.offset, epoch: since.epoch };
  const limit = (data as Record<string, unknown>).limit;
  if (limit !== undefined && limit !== null) {
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new InvalidArgument(`data.limit must be an integer between 1 and ${MAX_HISTORY_LIMIT}`, 'data.limit');
    }
    query.limit = limit;
  }
  return { topic, query };
}

/** A stored publication as `history` answers it: the `publication` envelope's payload forms. */
function publicationView(publication: Publication): Record<string, unknown> {
  const view: Record<string, unknown> = { offset: publication.offset };
  if (publication.binary) {
    view.payload = publication.data.toString('base64');
    view.encoding = 'base64';
  } else {
    const text = publication.data.toString('utf8');
    try {
      view.payload = JSON.parse(text);
    } catch {
      view.payload = text;
    }
  }
  view.publishedAt = formatRfc3339(publication.publishedAt);
  return view;
}

/** The payload bytes of an answer's publications: what `limits.outboundBufferBytes` bounds. */
export function payloadBytes(publications: readonly Publication[]): number {
  let bytes = 0;
  for (const publication of publications) bytes += publication.data.length;
  return bytes;
}
