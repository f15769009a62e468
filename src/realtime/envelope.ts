/**
 * The realtime protocol's codec (DESIGN.md §2.3): client envelopes in, server envelopes out.
 * Every envelope is `{type, data, tenantId, userId?, timestamp, requestId?}`; a parse error
 * names the field at fault so the client's `error` envelope can say what to fix.
 */
import { InvalidArgument, LimitExceeded, type ErrorKind, type SwitchboardError } from '../errors/index.js';
import { TopicForbidden } from './topic-identity.js';

/** What a client sent, after validation; `data` is the type's business and is checked per type. */
export interface ClientEnvelope {
  type: string;
  data: unknown;
  requestId?: string;
  /** Informational only: the connection's tenant comes from its token, never from a frame. */
  tenantId?: string;
}

export interface SubscribeData {
  topic: string;
  /** Where the client named it (`data.topic`, or the seed's `data.channel`), for error envelopes. */
  field: TopicField;
  since?: { offset: number; epoch: string };
}

export interface UnsubscribeData {
  topic: string;
  field: TopicField;
}

export interface RefreshData {
  token: string;
}

export type TopicField = 'data.topic' | 'data.channel';

/** The parts of a hub `Publication` its envelope carries. */
export interface PublishedPayload {
  offset: number;
  data: Buffer;
  binary: boolean;
}

/** Codes of `error` envelopes; clients switch on these, so they never change meaning. */
export const ERROR_CODES = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN_TENANT: 'FORBIDDEN_TENANT',
  /** A topic permission refused the action (README, "Topic permissions"). */
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  RATE_LIMITED: 'RATE_LIMITED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  BACKEND_ERROR: 'BACKEND_ERROR',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

const ERROR_CODE_OF_KIND: Readonly<Record<ErrorKind, ErrorCode>> = {
  INVALID_ARGUMENT: ERROR_CODES.BAD_REQUEST,
  FAILED_PRECONDITION: ERROR_CODES.BAD_REQUEST,
  UNAUTHENTICATED: ERROR_CODES.UNAUTHORIZED,
  PERMISSION_DENIED: ERROR_CODES.FORBIDDEN_TENANT,
  NOT_FOUND: ERROR_CODES.NOT_FOUND,
  RESOURCE_EXHAUSTED: ERROR_CODES.RATE_LIMITED,
  UNAVAILABLE: ERROR_CODES.BACKEND_ERROR,
  DEADLINE_EXCEEDED: ERROR_CODES.BACKEND_ERROR,
  INTERNAL: ERROR_CODES.INTERNAL,
};

/** The envelope code for an internal error: the realtime edge's one mapping of error kinds. */
export function errorCodeOf(err: SwitchboardError): ErrorCode {
  if (err instanceof LimitExceeded) return ERROR_CODES.LIMIT_EXCEEDED;
  if (err instanceof TopicForbidden) return ERROR_CODES.FORBIDDEN;
  return ERROR_CODE_OF_KIND[err.kind];
}

/**
 * A parse failure that remembers the envelope's `requestId` when it was readable, so the
 * `error` reply can still be correlated by the client.
 */
export class InvalidEnvelope extends InvalidArgument {
  constructor(
    message: string,
    field: string,
    readonly requestId?: string,
  ) {
    super(message, field);
  }
}

export const MAX_TYPE_LENGTH = 64;
export const MAX_REQUEST_ID_LENGTH = 128;
export const MAX_TENANT_ID_LENGTH = 128;
export const MAX_TOPIC_LENGTH = 256;
export const MAX_EPOCH_LENGTH = 64;
/** Default bound of one envelope's text, the client message limit of DESIGN.md §2.4. */
export const DEFAULT_MAX_ENVELOPE_BYTES = 131_072;

/** Parses one client text frame; throws `InvalidEnvelope` (an `InvalidArgument`) naming the field. */
export function parseEnvelope(text: string, maxBytes = DEFAULT_MAX_ENVELOPE_BYTES): ClientEnvelope {
  if (utf8LengthExceeds(text, maxBytes)) {
    throw new InvalidEnvelope(`envelope exceeds ${maxBytes} bytes`, 'envelope');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidEnvelope('envelope is not valid JSON', 'envelope');
  }
  if (!isPlainObject(value)) throw new InvalidEnvelope('envelope must be a JSON object', 'envelope');

  // requestId first: every later error can then carry it back to the client.
  const requestId = value.requestId;
  if (requestId !== undefined && (typeof requestId !== 'string' || requestId.length > MAX_REQUEST_ID_LENGTH)) {
    throw new InvalidEnvelope(`requestId must be a string of at most ${MAX_REQUEST_ID_LENGTH} characters`, 'requestId');
  }
  const type = value.type;
  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH) {
    throw new InvalidEnvelope(`type must be a non-empty string of at most ${MAX_TYPE_LENGTH} characters`, 'type', requestId);
  }
  const tenantId = value.tenantId;
  if (tenantId !== undefined && (typeof tenantId !== 'string' || tenantId.length > MAX_TENANT_ID_LENGTH)) {
    throw new InvalidEnvelope(`tenantId must be a string of at most ${MAX_TENANT_ID_LENGTH} characters`, 'tenantId', requestId);
  }
  const timestamp = value.timestamp;
  if (timestamp !== undefined && timestamp !== null && !isClientTimestamp(timestamp)) {
    throw new InvalidEnvelope('timestamp must be epoch milliseconds (a number) or an RFC 3339 string', 'timestamp', requestId);
  }
  const envelope: ClientEnvelope = { type, data: value.data };
  if (requestId !== undefined) envelope.requestId = requestId;
  if (tenantId !== undefined) envelope.tenantId = tenantId;
  return envelope;
}

/**
 * The seed manager's clients send `timestamp` as epoch milliseconds, ours as RFC 3339; it is
 * informational either way (the server stamps its own), so it is only checked for shape.
 */
function isClientTimestamp(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0;
  return typeof value === 'string' && value.length <= 64 && RFC3339.test(value);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** `data` of a `subscribe` envelope; `since` (null counts as absent) asks for recovery. */
export function parseSubscribeData(data: unknown): SubscribeData {
  const object = requireObject(data, 'data');
  const parsed: SubscribeData = topicOrChannel(object);
  const since = object.since;
  if (since === undefined || since === null) return parsed;
  const position = requireObject(since, 'data.since');
  const offset = position.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidArgument('data.since.offset must be a non-negative integer', 'data.since.offset');
  }
  const epoch = position.epoch;
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH) {
    throw new InvalidArgument(`data.since.epoch must be a non-empty string of at most ${MAX_EPOCH_LENGTH} characters`, 'data.since.epoch');
  }
  parsed.since = { offset, epoch };
  return parsed;
}

/** `data` of an `unsubscribe` envelope. */
export function parseUnsubscribeData(data: unknown): UnsubscribeData {
  return topicOrChannel(requireObject(data, 'data'));
}

/**
 * `topic`, or the seed manager's `channel` (its full `tenant:name`) for a client written to
 * that manager; both at once must agree.
 */
function topicOrChannel(data: Record<string, unknown>): { topic: string; field: TopicField } {
  if (data.topic === undefined && data.channel !== undefined) return { topic: requireTopic(data.channel, 'data.channel'), field: 'data.channel' };
  const topic = requireTopic(data.topic);
  if (data.channel !== undefined && data.channel !== topic) {
    throw new InvalidArgument('data.channel and data.topic name different topics', 'data.channel');
  }
  return { topic, field: 'data.topic' };
}

/** Longer than any honest JWT, as on the connect path. */
export const MAX_TOKEN_LENGTH = 16_384;

/** `data` of a `refresh` envelope: the connection's new token. */
export function parseRefreshData(data: unknown): RefreshData {
  const token = requireObject(data, 'data').token;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new InvalidArgument(`data.token must be a non-empty string of at most ${MAX_TOKEN_LENGTH} characters`, 'data.token');
  }
  return { token };
}

/** Printable ASCII without space: topics travel in URLs and logs unescaped. */
const TOPIC_PATTERN = /^[\x21-\x7e]+$/;

export function requireTopic(topic: unknown, field = 'data.topic'): string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH || !TOPIC_PATTERN.test(topic)) {
    throw new InvalidArgument(`${field} must be 1 to ${MAX_TOPIC_LENGTH} printable ASCII characters without spaces`, field);
  }
  return topic;
}

/**
 * A server envelope as JSON text, keys in the protocol's order. `undefined` fields are left
 * out (JSON.stringify drops them), so a connection without auth has no tenantId.
 */
export function encodeEnvelope(
  type: string,
  data: unknown,
  tenantId: string | undefined,
  userId: string | undefined,
  timestamp: string,
  requestId?: string,
): string {
  return JSON.stringify({ type, data, tenantId, userId, timestamp, requestId });
}

/**
 * The `publication` envelope every realtime subscriber of a topic receives; built once per
 * publish and shared. A text payload that is JSON is spliced in as it came (no parse and
 * re-stringify, and large numbers keep their digits), other text goes as a JSON string,
 * binary as base64 with `"encoding":"base64"`.
 */
export function encodePublicationEnvelope(
  topic: string,
  publication: PublishedPayload,
  epoch: string,
  tenantId: string | undefined,
  timestamp: string,
): string {
  let payload: string;
  if (publication.binary) {
    payload = `${JSON.stringify(publication.data.toString('base64'))},"encoding":"base64"`;
  } else {
    const text = publication.data.toString('utf8');
    payload = isJsonText(text) ? text : JSON.stringify(text);
  }
  const tenant = tenantId === undefined ? '' : `,"tenantId":${JSON.stringify(tenantId)}`;
  return (
    `{"type":"publication","data":{"topic":${JSON.stringify(topic)},"offset":${publication.offset},` +
    `"epoch":${JSON.stringify(epoch)},"payload":${payload}}${tenant},"timestamp":${JSON.stringify(timestamp)}}`
  );
}

/**
 * Whether text is one JSON value. The first character screens out most plain text before
 * paying for a parse and its exception.
 */
function isJsonText(text: string): boolean {
  const first = text.trimStart().charCodeAt(0);
  const mayBeJson =
    first === 0x7b /* { */ ||
    first === 0x5b /* [ */ ||
    first === 0x22 /* " */ ||
    first === 0x2d /* - */ ||
    (first >= 0x30 && first <= 0x39) ||
    first === 0x74 /* t */ ||
    first === 0x66 /* f */ ||
    first === 0x6e; /* n */
  if (!mayBeJson) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidArgument(`${field} must be an object`, field);
  return value;
}

/** UTF-8 length > max, without encoding when the UTF-16 length already decides it. */
function utf8LengthExceeds(text: string, max: number): boolean {
  // Each UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair is 2 units, 4 bytes).
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return Buffer.byteLength(text, 'utf8') > max;
}
