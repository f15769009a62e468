import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifySchema } from 'fastify';
import type { Scope } from '../config/index.js';
import { MESSAGE_TYPE_HEADER } from './aws-connections.js';
import { MAX_SEND_BYTES } from './payload.js';
import { INTEGER_RANGE } from './validation.js';

/**
 * The management API's contract as TypeBox schemas: every route declares one, Fastify validates
 * each request against it with Ajv (validation.ts turns its errors into our google.rpc.Status
 * answers), and the OpenAPI document at /openapi.json is generated from the same schemas
 * (openapi.ts). Query parameters are strings, as sent: numbers in them are decimal digits with
 * an `x-integer-range`. Responses are described here but written with JSON.stringify.
 */

// ---- shared shapes (components.schemas) ------------------------------------------------------

function StringEnum<T extends string>(values: readonly T[], options: Record<string, unknown> = {}): TSchema {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

const RFC3339 = { format: 'date-time', examples: ['2026-11-22T11:40:14.123456789Z'] };

export const Status = Type.Object(
  {
    code: Type.Integer({
      description:
        'google.rpc.Code: 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 7 PERMISSION_DENIED, 8 RESOURCE_EXHAUSTED, 9 FAILED_PRECONDITION, 13 INTERNAL, 14 UNAVAILABLE, 16 UNAUTHENTICATED',
    }),
    message: Type.String(),
    details: Type.Array(
      Type.Object(
        {
          '@type': Type.String({ examples: ['type.googleapis.com/google.rpc.BadRequest'] }),
          fieldViolations: Type.Optional(Type.Array(Type.Object({ field: Type.String(), description: Type.String() }))),
        },
        { additionalProperties: true },
      ),
      { description: 'For INVALID_ARGUMENT, one google.rpc.BadRequest whose field violation names the field at fault; for a key over its rate limit, a google.rpc.RetryInfo; otherwise empty.' },
    ),
  },
  {
    $id: 'Status',
    title: 'google.rpc.Status',
    description: 'Every error of the management API.',
    examples: [
      {
        code: 3,
        message: 'type must be "TEXT" or "BINARY", got "JSON"',
        details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'type', description: 'type must be "TEXT" or "BINARY", got "JSON"' }] }],
      },
    ],
  },
);

export const Connection = Type.Object(
  {
    id: Type.String({ maxLength: 50, description: 'Unique across the cluster, never reused; names the node that holds the socket.' }),
    gatewayId: Type.String({ description: 'The gateway (spec) the client connected through.' }),
    identity: Type.Object({ sourceIp: Type.String(), userAgent: Type.String() }),
    connectedAt: Type.String(RFC3339),
    lastActiveAt: Type.String({ ...RFC3339, description: 'Moves on every frame in either direction and every pong.' }),
    tenantId: Type.Optional(Type.String({ description: 'view=FULL only; absent without auth.' })),
    userId: Type.Optional(Type.String({ description: 'view=FULL only; absent without auth.' })),
    subscriptions: Type.Optional(Type.Array(Type.String(), { description: 'view=FULL only.' })),
    isAlive: Type.Optional(Type.Boolean({ description: 'view=FULL only: false from a heartbeat ping until its pong arrives.' })),
    lastPing: Type.Optional(Type.String({ ...RFC3339, description: 'view=FULL only: set at connect, moved when the client answers a heartbeat ping (pong).' })),
  },
  {
    $id: 'Connection',
    description: "The seeds' Connection: exactly id, gatewayId, identity, connectedAt and lastActiveAt unless view=FULL adds the realtime fields.",
  },
);

export const ConnectionList = Type.Object(
  {
    connections: Type.Array(Type.Ref(Connection)),
    nextPageToken: Type.String({ description: 'Empty on the last page.' }),
  },
  { $id: 'ConnectionList' },
);

export const Empty = Type.Object({}, { $id: 'Empty', additionalProperties: false, description: 'The empty message, `{}`.' });

const payloadFields = {
  data: Type.String({
    format: 'byte',
    description: `Base64 (standard or URL-safe alphabet), at most ${MAX_SEND_BYTES} bytes once decoded.`,
  }),
  type: Type.Optional(
    StringEnum(['TEXT', 'BINARY', 'TYPE_UNSPECIFIED'], {
      description: 'TEXT sends a text frame (data must be UTF-8); BINARY, TYPE_UNSPECIFIED or no type a binary frame.',
    }),
  ),
};

export const SendRequest = Type.Object(payloadFields, {
  $id: 'SendRequest',
  additionalProperties: false,
  examples: [{ data: 'aGVsbG8=', type: 'TEXT' }],
});

const TOPIC = { minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' };

export const SubscribeRequest = Type.Object(
  { topic: Type.String({ ...TOPIC, description: 'Printable ASCII without spaces; `{tenantId}:…` for a connection with a tenant.' }) },
  { $id: 'SubscribeRequest', additionalProperties: false, examples: [{ topic: 'acme:chat.room1' }] },
);

export const SubscribeResponse = Type.Object(
  {
    topic: Type.String(),
    offset: Type.Integer({ minimum: 0, description: "The topic's current offset: what the connection receives next is after it." }),
    epoch: Type.String({ description: 'Changes when the history is lost and rebuilt.' }),
  },
  { $id: 'SubscribeResponse' },
);

export const PublishRequest = Type.Object(
  {
    ...payloadFields,
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'A repeated key publishes once and answers the first position again.' })),
  },
  { $id: 'PublishRequest', additionalProperties: false, examples: [{ data: 'eyJ0ZXh0IjoiaGkifQ==', type: 'TEXT', idempotencyKey: 'msg-42' }] },
);

export const PublishResponse = Type.Object(
  {
    offset: Type.Integer({ minimum: 1, description: 'The publication’s offset in the topic.' }),
    epoch: Type.String(),
    delivered: Type.Integer({ minimum: 0, description: 'Connections it was sent to.' }),
  },
  { $id: 'PublishResponse' },
);

export const UserSendRequest = Type.Object(
  {
    ...payloadFields,
    tenantId: Type.Optional(Type.String({ description: "Only this tenant's connections of the user; a tenant-bound key always means its own tenant." })),
  },
  { $id: 'UserSendRequest', additionalProperties: false, examples: [{ data: 'aGk=', type: 'TEXT', tenantId: 'acme' }] },
);

export const UserDisconnectRequest = Type.Object(
  {
    tenantId: Type.Optional(Type.String({ minLength: 1, description: "Only this tenant's connections of the user; a tenant-bound key always means its own tenant." })),
  },
  { $id: 'UserDisconnectRequest', additionalProperties: false, examples: [{ tenantId: 'acme' }] },
);

export const DisconnectResult = Type.Object(
  { disconnected: Type.Integer({ minimum: 0, description: 'Connections closed, on every node, with close code 4001 "user disconnected".' }) },
  { $id: 'DisconnectResult' },
);

export const DeliveryResult = Type.Object({ delivered: Type.Integer({ minimum: 0, description: 'Connections the frame was sent to.' }) }, { $id: 'DeliveryResult' });

export const Presence = Type.Object(
  {
    connections: Type.Array(Type.Object({ connectionId: Type.String(), tenantId: Type.Optional(Type.String()), userId: Type.Optional(Type.String()) })),
    users: Type.Array(Type.String(), { description: 'Distinct user ids among the connections.' }),
  },
  { $id: 'Presence' },
);

export const History = Type.Object(
  {
    offset: Type.Integer({ minimum: 0, description: "The topic's latest offset." }),
    epoch: Type.String(),
    complete: Type.Boolean({ description: 'False when the history no longer holds everything after sinceOffset (or the epoch differs).' }),
    publications: Type.Array(
      Type.Object({
        offset: Type.Integer({ minimum: 1 }),
        data: Type.String({ format: 'byte' }),
        type: StringEnum(['TEXT', 'BINARY']),
        publishedAt: Type.String({ format: 'date-time' }),
      }),
    ),
  },
  { $id: 'History' },
);

export const NodeMetricsList = Type.Object(
  {
    nodes: Type.Array(
      Type.Object({
        nodeId: Type.String(),
        metrics: Type.String({ description: "The node's own /metrics, in the Prometheus text exposition format." }),
      }),
      { description: 'Every live node, the serving one included; a node gone from the backplane is left out.' },
    ),
  },
  { $id: 'NodeMetricsList' },
);

export const AwsConnection = Type.Object(
  {
    connectedAt: Type.String({ format: 'date-time' }),
    identity: Type.Object({ sourceIp: Type.String(), userAgent: Type.String() }),
    lastActiveAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'AwsConnection', description: "GetConnection's answer in the ApiGatewayManagementApi shape." },
);

export const AwsError = Type.Object({ message: Type.String() }, { $id: 'AwsError', description: 'An ApiGatewayManagementApi error; its type is in x-amzn-ErrorType.' });

/** Registered with addSchema, so routes reference them and the document lists them once. */
export const SHARED_SCHEMAS: readonly TSchema[] = [
  Status,
  Connection,
  ConnectionList,
  Empty,
  SendRequest,
  SubscribeRequest,
  SubscribeResponse,
  PublishRequest,
  PublishResponse,
  UserSendRequest,
  UserDisconnectRequest,
  DisconnectResult,
  DeliveryResult,
  Presence,
  History,
  NodeMetricsList,
  AwsConnection,
  AwsError,
];

// ---- security ---------------------------------------------------------------------------------

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A key of management.apiKeys (or --api-key) as `Authorization: Bearer KEY`. Keys carry scopes (read, write, broadcast; each operation lists the one it needs) and may be bound to one tenant. With no key configured, allowed only on a loopback listener, every call is let through.',
  },
  apiKeyAuth: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'The same key as `Authorization: Api-Key KEY`.',
  },
  sigv4: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    'x-amazon-apigateway-authtype': 'awsSigv4',
    description:
      'AWS Signature Version 4 (AWS4-HMAC-SHA256, service execute-api, any region) with a key pair of management.awsAccessKeys, as @aws-sdk/client-apigatewaymanagementapi signs: X-Amz-Date within 5 minutes of the server clock, the body hashed into the signature. API keys do not apply here.',
  },
} as const;

type Security = NonNullable<FastifySchema['security']>;

/** Either form of the API key; the role list is the scope the operation needs (OpenAPI 3.1). */
export function apiKey(scope: Scope): Security {
  return [{ bearerAuth: [scope] }, { apiKeyAuth: [scope] }];
}
const PUBLIC: Security = [];
const SIGV4: Security = [{ sigv4: [] }];

// ---- responses --------------------------------------------------------------------------------

const ERRORS = {
  400: 'INVALID_ARGUMENT (the details name the field) or FAILED_PRECONDITION',
  401: 'UNAUTHENTICATED: no API key, or not a valid one',
  403: 'PERMISSION_DENIED: the key lacks the scope, or reaches only another tenant',
  404: 'NOT_FOUND',
} as const;
type ErrorCode = keyof typeof ERRORS;

function status(description: string, headers?: Record<string, unknown>): TSchema {
  return Type.Unsafe({ $ref: 'Status', description, ...(headers ? { headers } : {}) });
}

const RATE_LIMITED = status("RESOURCE_EXHAUSTED: the key is over its rate limit (management.rateLimit, apiKeys[].rateLimit); the details' google.rpc.RetryInfo and Retry-After say when to try again", {
  'Retry-After': { type: 'integer', minimum: 1, description: 'Seconds to wait.' },
});

/**
 * The listed errors; 429 for the key's rate limit, which every API-key call is charged against;
 * and as `default` what a call that reaches the Hub may meet on a cluster.
 */
function errors(codes: readonly ErrorCode[], overrides: Partial<Record<ErrorCode, string>> = {}, reachesHub = true): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const code of codes) out[code] = status(overrides[code] ?? ERRORS[code]);
  out[429] = RATE_LIMITED;
  if (reachesHub) out.default = status('INTERNAL 500, UNAVAILABLE 503 (the backplane), DEADLINE_EXCEEDED 504 (another node did not answer), RESOURCE_EXHAUSTED 429 (a backplane limit)');
  return out;
}

function ok(schema: TSchema, description: string): TSchema {
  return Type.Unsafe({ $ref: schema.$id as string, description });
}

// ---- routes -----------------------------------------------------------------------------------

export type RouteSchema = FastifySchema & { [extension: `x-${string}`]: unknown };

const TAG = {
  connection: 'Connection service',
  topics: 'Topics',
  delivery: 'Users and tenants',
  aws: 'AWS @connections',
  operations: 'Operations',
} as const;

export const TAGS = [
  { name: TAG.connection, description: "The seeds' Connection service (get, send, disconnect) and its extensions: list, server-side subscriptions." },
  { name: TAG.topics, description: 'Publish to a topic; read its presence and history.' },
  { name: TAG.delivery, description: "Frames to every connection of a user, or of a tenant." },
  { name: TAG.aws, description: "AWS API Gateway's ApiGatewayManagementApi wire format, so its SDK works unchanged; SigV4 only." },
  { name: TAG.operations, description: 'Probes, metrics and this document.' },
];

// No maxLength: an id no connection can have is simply not found.
const connectionId = Type.String({ description: 'A connection id (at most 50 characters), as the upgrade answered it in X-Yc-Apigateway-Websocket-Connection-Id.' });
const view = Type.Optional(StringEnum(['BASIC', 'FULL', ''], { description: 'FULL adds tenantId, userId, subscriptions, isAlive and lastPing; empty or absent means BASIC.', default: 'BASIC' }));
const topicName = Type.String({ ...TOPIC, description: 'A topic, 1-256 printable ASCII characters without spaces (`{tenantId}:…` for a tenant).' });

/** A query parameter holding a decimal integer in a range; empty means absent. */
function integerParam(minimum: number, maximum: number, options: Record<string, unknown> = {}): TSchema {
  return Type.Optional(Type.String({ pattern: '^\\d*$', [INTEGER_RANGE]: { minimum, maximum }, ...options }));
}

/** What a custom-method route (`{name}:verb`) is documented as: one operation per verb. */
export interface CustomMethod {
  verb: string;
  operationId: string;
  summary: string;
  description?: string;
  scope: Scope;
  body: TSchema;
  response: TSchema;
  responseDescription: string;
  errors: readonly ErrorCode[];
}

export interface CustomMethods {
  /** The path parameter's name in the document (the route itself has one `:target`). */
  param: string;
  paramSchema: TSchema;
  /** What a 404 means here. */
  notFound: string;
  methods: readonly CustomMethod[];
}

/** A custom method's responses, in the form of a route schema's. */
export function customMethodResponses(method: CustomMethod, notFound: string): Record<string, TSchema> {
  return { 200: ok(method.response, method.responseDescription), ...errors(method.errors, { 404: notFound }) };
}

/** The route schema key holding a custom-method route's verbs; openapi.ts expands it. */
export const CUSTOM_METHODS = 'x-switchboard-custom-methods';

function customMethods(tag: string, resource: string, methods: CustomMethods): RouteSchema {
  return {
    tags: [tag],
    summary: `Custom methods on ${resource}`,
    params: Type.Object({ target: Type.String({ description: `{${methods.param}}:{verb}` }) }),
    [CUSTOM_METHODS]: methods,
  };
}

export const ROUTES = {
  healthz: {
    tags: [TAG.operations],
    operationId: 'healthz',
    summary: 'Liveness: answers while the process runs',
    security: PUBLIC,
    response: { 200: Type.Object({ status: StringEnum(['ok']) }, { description: 'The process is up.' }) },
  },
  readyz: {
    tags: [TAG.operations],
    operationId: 'readyz',
    summary: 'Readiness: 503 while the node starts or drains',
    security: PUBLIC,
    response: {
      200: Type.Object({ status: StringEnum(['ready']) }, { description: 'The node takes connections and calls.' }),
      503: status('UNAVAILABLE: starting or draining'),
    },
  },
  metrics: {
    tags: [TAG.operations],
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    security: apiKey('read'),
    response: {
      200: {
        description: 'The Prometheus text exposition format.',
        content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: Type.String() } },
      },
      ...errors([401, 403], {}, false),
    },
  },
  nodeMetrics: {
    tags: [TAG.operations],
    operationId: 'Node.Metrics',
    summary: "Every node's Prometheus metrics",
    description: 'Each live node answers its own /metrics text over the backplane, for cluster-wide charts. Node-wide: a tenant-bound key is refused.',
    security: apiKey('read'),
    response: { 200: ok(NodeMetricsList, "Each node's metrics."), ...errors([401, 403], { 403: 'PERMISSION_DENIED: the key lacks the read scope, or is bound to a tenant' }) },
  },
  openapi: {
    tags: [TAG.operations],
    operationId: 'openapi',
    summary: 'This document (OpenAPI 3.1); the same at /docs as a page',
    security: PUBLIC,
    response: { 200: Type.Object({}, { additionalProperties: true, description: 'The OpenAPI document.' }) },
  },

  getConnection: {
    tags: [TAG.connection],
    operationId: 'Connection.Get',
    summary: 'Get a connection',
    security: apiKey('read'),
    params: Type.Object({ connectionId }),
    querystring: Type.Object({ view }),
    response: { 200: ok(Connection, 'The connection.'), ...errors([400, 401, 403, 404], { 404: 'NOT_FOUND: unknown or closed connection' }) },
  },
  disconnect: {
    tags: [TAG.connection],
    operationId: 'Connection.Disconnect',
    summary: 'Close a connection (close code 1000)',
    security: apiKey('write'),
    params: Type.Object({ connectionId }),
    response: { 200: ok(Empty, 'Closed.'), ...errors([401, 403, 404], { 404: 'NOT_FOUND: unknown or closed connection' }) },
  },
  listConnections: {
    tags: [TAG.connection],
    operationId: 'Connection.List',
    summary: 'List connections, filtered and paged in connection order',
    description: "A tenant-bound key lists only its tenant's connections.",
    security: apiKey('read'),
    querystring: Type.Object({
      gatewayId: Type.Optional(Type.String()),
      tenantId: Type.Optional(Type.String()),
      userId: Type.Optional(Type.String()),
      topic: Type.Optional(Type.String({ description: 'Connections subscribed to this topic.' })),
      pageSize: integerParam(1, 1000, { default: '100' }),
      pageToken: Type.Optional(Type.String({ description: 'nextPageToken of the previous page.' })),
      view,
    }),
    response: { 200: ok(ConnectionList, 'One page of connections.'), ...errors([400, 401, 403]) },
  },
  connectionMethods: customMethods(TAG.connection, 'connections', {
    param: 'connectionId',
    paramSchema: connectionId,
    notFound: 'NOT_FOUND: unknown or closed connection, or no such method',
    methods: [
      {
        verb: 'send',
        operationId: 'Connection.Send',
        summary: 'Send one frame to a connection',
        scope: 'write',
        body: SendRequest,
        response: Empty,
        responseDescription: 'Sent.',
        errors: [400, 401, 403, 404],
      },
      {
        verb: 'subscribe',
        operationId: 'Connection.Subscribe',
        summary: 'Subscribe a connection to a topic, server-side',
        description:
          'A connection with a tenant takes only topics of that tenant (403 otherwise). A connection holds at most limits.maxSubscriptionsPerConnection topics (default 128): past it, 400 FAILED_PRECONDITION naming the limit.',
        scope: 'write',
        body: SubscribeRequest,
        response: SubscribeResponse,
        responseDescription: 'Subscribed; the stream position to recover from.',
        errors: [400, 401, 403, 404],
      },
      {
        verb: 'unsubscribe',
        operationId: 'Connection.Unsubscribe',
        summary: 'Unsubscribe a connection from a topic',
        description: 'Not being subscribed is not an error.',
        scope: 'write',
        body: SubscribeRequest,
        response: Empty,
        responseDescription: 'Unsubscribed.',
        errors: [400, 401, 403, 404],
      },
    ],
  }),

  topicMethods: customMethods(TAG.topics, 'topics', {
    param: 'topic',
    paramSchema: topicName,
    notFound: 'NOT_FOUND: no such method',
    methods: [
      {
        verb: 'publish',
        operationId: 'Topic.Publish',
        summary: "Publish to a topic's subscribers",
        description: 'Realtime connections receive a `publication` envelope, raw ones the payload itself. Kept in history per the topic settings.',
        scope: 'broadcast',
        body: PublishRequest,
        response: PublishResponse,
        responseDescription: 'Published.',
        errors: [400, 401, 403, 404],
      },
    ],
  }),
  presence: {
    tags: [TAG.topics],
    operationId: 'Topic.Presence',
    summary: "A topic's subscribed connections and users",
    security: apiKey('read'),
    params: Type.Object({ topic: topicName }),
    response: { 200: ok(Presence, 'Who is subscribed.'), ...errors([400, 401, 403], { 400: 'INVALID_ARGUMENT (topic), or FAILED_PRECONDITION: the topic settings keep no presence' }) },
  },
  history: {
    tags: [TAG.topics],
    operationId: 'Topic.History',
    summary: "A topic's retained publications",
    security: apiKey('read'),
    params: Type.Object({ topic: topicName }),
    querystring: Type.Object({
      sinceOffset: integerParam(0, Number.MAX_SAFE_INTEGER, { description: 'Only publications after this offset.' }),
      epoch: Type.Optional(Type.String({ description: 'The epoch sinceOffset belongs to; another epoch answers complete=false.' })),
      limit: integerParam(1, 10000),
    }),
    response: { 200: ok(History, 'The retained publications.'), ...errors([400, 401, 403]) },
  },

  userMethods: customMethods(TAG.delivery, 'users', {
    param: 'userId',
    paramSchema: Type.String(),
    notFound: 'NOT_FOUND: no such method',
    methods: [
      {
        verb: 'send',
        operationId: 'User.Send',
        summary: 'Send one frame to every connection of a user',
        scope: 'broadcast',
        body: UserSendRequest,
        response: DeliveryResult,
        responseDescription: 'Sent.',
        errors: [400, 401, 403, 404],
      },
      {
        verb: 'disconnect',
        operationId: 'User.Disconnect',
        summary: 'Close every connection of a user, on every node',
        description:
          'Each connection is closed with close code 4001 and reason "user disconnected". The body may be empty. A tenant-bound key closes only its own tenant\'s connections (another tenantId: 403).',
        scope: 'write',
        body: UserDisconnectRequest,
        response: DisconnectResult,
        responseDescription: 'Closed.',
        errors: [400, 401, 403, 404],
      },
    ],
  }),
  tenantMethods: customMethods(TAG.delivery, 'tenants', {
    param: 'tenantId',
    paramSchema: Type.String(),
    notFound: 'NOT_FOUND: no such method',
    methods: [
      {
        verb: 'broadcast',
        operationId: 'Tenant.Broadcast',
        summary: 'Send one frame to every connection of a tenant',
        scope: 'broadcast',
        body: SendRequest,
        response: DeliveryResult,
        responseDescription: 'Sent.',
        errors: [400, 401, 403, 404],
      },
    ],
  }),
} satisfies Record<string, RouteSchema>;

// ---- AWS @connections -------------------------------------------------------------------------

const AWS_ERRORS = {
  400: ['BadRequestException', 'a bad frame type header or body'],
  403: ['ForbiddenException', 'unsigned, badly signed, an unknown key, a skewed clock, or no awsAccessKeys configured'],
  410: ['GoneException', 'unknown or closed connection'],
  413: ['PayloadTooLargeException', `a body over ${MAX_SEND_BYTES} bytes`],
  429: ['LimitExceededException', 'a limit of the node or the backplane'],
  500: ['InternalServerErrorException', 'the node failed, or the backplane is unavailable'],
} as const;

function awsErrors(codes: readonly (keyof typeof AWS_ERRORS)[]): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const code of codes) {
    const [type, meaning] = AWS_ERRORS[code];
    out[code] = Type.Unsafe({
      $ref: 'AwsError',
      description: `${type}: ${meaning}`,
      headers: { 'x-amzn-ErrorType': { type: 'string', enum: [type], description: 'The exception.' } },
    });
  }
  return out;
}

/**
 * The schema of one `@connections` route (aws-connections.ts registers them, with and without
 * a leading stage segment); undefined for a route that is not one of them.
 */
export function awsConnectionsSchema(method: string, url: string): RouteSchema | undefined {
  const staged = url === '/:stage/@connections/:connectionId';
  if (!staged && url !== '/@connections/:connectionId') return undefined;
  const params = Type.Object({
    ...(staged ? { stage: Type.String({ description: 'Any one segment, the stage of an API Gateway endpoint URL (`production`); ignored.' }) } : {}),
    connectionId,
  });
  const common = { tags: [TAG.aws], security: SIGV4, params };
  const suffix = staged ? 'Staged' : '';
  switch (method) {
    case 'POST':
      return {
        ...common,
        operationId: `PostToConnection${suffix}`,
        summary: 'PostToConnection: the raw body becomes one frame',
        description: `Valid UTF-8 goes out as a text frame, anything else as binary, unless ${MESSAGE_TYPE_HEADER} says otherwise. At most ${MAX_SEND_BYTES} bytes.`,
        consumes: ['application/octet-stream', 'text/plain', 'application/json'],
        body: Type.String({ format: 'binary' }),
        headers: Type.Object({ [MESSAGE_TYPE_HEADER]: Type.Optional(StringEnum(['TEXT', 'BINARY'], { description: 'The frame type, case-insensitive.' })) }),
        response: { 200: Type.Unsafe({ type: 'null', description: 'Sent; empty body.' }), ...awsErrors([400, 403, 410, 413, 429, 500]) },
      };
    case 'GET':
      return {
        ...common,
        operationId: `GetConnection${suffix}`,
        summary: 'GetConnection',
        response: { 200: ok(AwsConnection, 'The connection.'), ...awsErrors([403, 410, 429, 500]) },
      };
    case 'DELETE':
      return {
        ...common,
        operationId: `DeleteConnection${suffix}`,
        summary: 'DeleteConnection (close code 1000)',
        response: { 204: Type.Unsafe({ type: 'null', description: 'Closed; no body.' }), ...awsErrors([403, 410, 429, 500]) },
      };
    default:
      return undefined;
  }
}
