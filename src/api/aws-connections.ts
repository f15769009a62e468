import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AwsAccessKeySetting } from '../config/index.js';
import { RateLimited, isSwitchboardError, type ErrorKind } from '../errors/index.js';
import type { Hub, Payload } from '../cluster/index.js';
import type { Logger } from '../observability/index.js';
import { retryAfterSeconds } from '../ratelimit/index.js';
import { formatRfc3339, parseRfc3339 } from '../time/index.js';
import { MAX_SEND_BYTES, isValidUtf8 } from './payload.js';
import type { AuthFailureGate } from './auth-failures.js';
import type { AccessKeyRateLimiter } from './rate-limits.js';
import { MAX_CLOCK_SKEW_MS, SigV4Error, SigV4Verifier, type HeaderBag, type PendingVerification } from './sigv4.js';

/**
 * The `@connections` surface of AWS API Gateway's WebSocket management API
 * (`ApiGatewayManagementApi`: PostToConnection, GetConnection, DeleteConnection) with its wire
 * format, so `@aws-sdk/client-apigatewaymanagementapi` works against Switchboard unchanged:
 *
 *   POST   /@connections/{id}   raw body → one frame            200, empty body
 *   GET    /@connections/{id}   {connectedAt, identity, lastActiveAt}
 *   DELETE /@connections/{id}                                   204
 *
 * The same three also answer under one leading stage segment (`/production/@connections/{id}`),
 * the shape of an API Gateway endpoint URL. Authentication is SigV4 only (service
 * `execute-api`, any region) against `management.awsAccessKeys`; the API keys of the other
 * routes do not apply here. Errors are that API's: `{"message"}` with `x-amzn-ErrorType`.
 */

export interface AwsConnectionsOptions {
  hub: Hub;
  awsAccessKeys: readonly AwsAccessKeySetting[];
  log: Logger;
  /** Per access key; absent: unlimited. Past it: 429 LimitExceededException with Retry-After. */
  rateLimiter?: AccessKeyRateLimiter;
  /** Failed signatures per source address; past the throttle: 429 LimitExceededException before any check. */
  authFailures?: AuthFailureGate;
  /** The clock X-Amz-Date is checked against (tests); default Date.now. */
  now?: () => number;
  maxClockSkewMs?: number;
}

/** Overrides the frame type of a PostToConnection: `TEXT` or `BINARY` (case-insensitive). */
export const MESSAGE_TYPE_HEADER = 'x-switchboard-message-type';

const SERVICE = 'execute-api';

type AwsErrorType =
  | 'BadRequestException'
  | 'ForbiddenException'
  | 'GoneException'
  | 'PayloadTooLargeException'
  | 'LimitExceededException'
  | 'InternalServerErrorException';

/** An error answered as-is in the AWS shape. */
export class AwsApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: AwsErrorType,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

const BY_KIND: Record<ErrorKind, [number, AwsErrorType]> = {
  NOT_FOUND: [410, 'GoneException'],
  INVALID_ARGUMENT: [400, 'BadRequestException'],
  FAILED_PRECONDITION: [400, 'BadRequestException'],
  UNAUTHENTICATED: [403, 'ForbiddenException'],
  PERMISSION_DENIED: [403, 'ForbiddenException'],
  RESOURCE_EXHAUSTED: [429, 'LimitExceededException'],
  UNAVAILABLE: [500, 'InternalServerErrorException'],
  DEADLINE_EXCEEDED: [500, 'InternalServerErrorException'],
  INTERNAL: [500, 'InternalServerErrorException'],
};

/** Fastify plugin; register it outside the API-key scope. */
export async function awsConnectionsApi(app: FastifyInstance, options: AwsConnectionsOptions): Promise<void> {
  // The body is the message itself, whatever its content type (the SDK sends
  // application/octet-stream): no JSON or text parsing here, just the bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });
  answerErrorsInAwsShape(app, options.log);
  requireSignatures(app, options);
  declareRoutes(app, options.hub);
}

function answerErrorsInAwsShape(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof AwsApiError) return sendError(reply, err.status, err.type, err.message);
    if (err instanceof SigV4Error) return sendError(reply, 403, 'ForbiddenException', err.message);
    if (isSwitchboardError(err)) {
      const [status, type] = BY_KIND[err.kind];
      if (err instanceof RateLimited) reply.header('retry-after', String(retryAfterSeconds(err.retryAfterMs)));
      if (status >= 500) log.error({ err, url: req.url }, '@connections request failed');
      return sendError(reply, status, type, err.message);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, 413, 'PayloadTooLargeException', `Request body exceeds the limit of ${MAX_SEND_BYTES} bytes`);
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 400, 'BadRequestException', err.message);
    }
    log.error({ err, url: req.url }, '@connections request failed');
    return sendError(reply, 500, 'InternalServerErrorException', 'Internal server error');
  });
}

/**
 * SigV4 on every request: the headers as it arrives, so an unsigned request is refused before
 * its body is read; the signature over the body before the handler; then the key's rate limit.
 */
function requireSignatures(app: FastifyInstance, options: AwsConnectionsOptions): void {
  const verifier = new SigV4Verifier(options.awsAccessKeys, {
    service: SERVICE,
    maxClockSkewMs: options.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS,
    ...(options.now ? { now: options.now } : {}),
  });
  const pending = new WeakMap<FastifyRequest, PendingVerification>();

  /** A request that carries a signature which does not hold counts against its address; an unsigned one guesses nothing. */
  function signatureFailure<T>(req: FastifyRequest, check: () => T): T {
    try {
      return check();
    } catch (err) {
      if (err instanceof SigV4Error && req.headers.authorization !== undefined) options.authFailures?.failed(req.socket.remoteAddress);
      throw err;
    }
  }

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-amzn-RequestId', randomUUID());
    if (!verifier.enabled) throw new AwsApiError(403, 'ForbiddenException', 'no AWS access keys configured: add management.awsAccessKeys to use @connections');
    options.authFailures?.admit(req.socket.remoteAddress);
    pending.set(req, signatureFailure(req, () => verifier.precheck(headersOf(req))));
  });

  app.addHook('preHandler', async (req) => {
    const started = pending.get(req);
    if (started === undefined) throw new AwsApiError(403, 'ForbiddenException', 'request was not authenticated');
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const signed = { method: req.method, path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers: headersOf(req) };
    signatureFailure(req, () => verifier.verify(signed, bodyOf(req), started));
    options.rateLimiter?.charge(started.auth.accessKeyId);
  });
}

type ConnectionRequest = FastifyRequest<{ Params: { connectionId: string } }>;

/** PostToConnection, GetConnection and DeleteConnection, with and without a leading stage segment. */
function declareRoutes(app: FastifyInstance, hub: Hub): void {
  const post = async (req: ConnectionRequest, reply: FastifyReply) => {
    await hub.send(req.params.connectionId, framePayload(bodyOf(req), req.headers[MESSAGE_TYPE_HEADER]));
    return reply.code(200).send();
  };
  const get = async (req: ConnectionRequest) => {
    const view = await hub.get(req.params.connectionId);
    return {
      connectedAt: iso(view.connectedAt),
      identity: { sourceIp: view.identity.sourceIp, userAgent: view.identity.userAgent },
      lastActiveAt: iso(view.lastActiveAt),
    };
  };
  const remove = async (req: ConnectionRequest, reply: FastifyReply) => {
    await hub.disconnect(req.params.connectionId, 1000, '');
    return reply.code(204).send();
  };
  for (const prefix of ['', '/:stage']) {
    const path = `${prefix}/@connections/:connectionId`;
    app.post<{ Params: { connectionId: string } }>(path, { bodyLimit: MAX_SEND_BYTES }, post);
    app.get<{ Params: { connectionId: string } }>(path, get);
    app.delete<{ Params: { connectionId: string } }>(path, { bodyLimit: MAX_SEND_BYTES }, remove);
  }
}

function bodyOf(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/**
 * The frame a PostToConnection becomes. The SDK always sends `application/octet-stream`, so the
 * content type cannot tell text from binary: valid UTF-8 goes out as a text frame, anything else
 * as a binary frame, unless `X-Switchboard-Message-Type: BINARY` (or `TEXT`) says otherwise.
 */
export function framePayload(body: Buffer, typeHeader: string | string[] | undefined): Payload {
  const requested = Array.isArray(typeHeader) ? typeHeader.join(',') : typeHeader;
  const type = requested?.trim().toUpperCase();
  if (type === undefined || type === '') return { data: body, binary: !isValidUtf8(body) };
  if (type === 'BINARY') return { data: body, binary: true };
  if (type === 'TEXT') {
    if (!isValidUtf8(body)) throw new AwsApiError(400, 'BadRequestException', `${MESSAGE_TYPE_HEADER}: TEXT needs a body of valid UTF-8`);
    return { data: body, binary: false };
  }
  throw new AwsApiError(400, 'BadRequestException', `${MESSAGE_TYPE_HEADER} must be TEXT or BINARY, got ${JSON.stringify(requested)}`);
}

/** Repeated headers kept apart (SigV4 joins them with commas); Node's parser has them, an injected request may not. */
function headersOf(req: FastifyRequest): HeaderBag {
  return (req.raw.headersDistinct as HeaderBag | undefined) ?? req.headers;
}

/** AWS answers ISO 8601 with milliseconds; the SDK parses any RFC 3339 into a Date. */
function iso(value: string): string {
  const ms = parseRfc3339(value);
  return ms === undefined ? value : formatRfc3339(ms);
}

function sendError(reply: FastifyReply, status: number, type: AwsErrorType, message: string): FastifyReply {
  return reply.code(status).header('x-amzn-ErrorType', type).header('content-type', 'application/json').send(JSON.stringify({ message }));
}
