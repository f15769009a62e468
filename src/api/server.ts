import { createServer as createHttpServer, type Server as HttpServer, type RequestListener, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  MANAGEMENT_MAX_CONNECTIONS_DEFAULT,
  MANAGEMENT_TIMEOUT_DEFAULTS,
  type ApiKeySetting,
  type AwsAccessKeySetting,
  type ManagementTimeouts,
} from '../config/index.js';
import { InvalidArgument, NotFound, PermissionDenied, isSwitchboardError } from '../errors/index.js';
import { USER_DISCONNECTED, type ConnectionView, type DisconnectResult, type Hub, type ListFilter } from '../cluster/index.js';
import { topicBelongsTo } from '../connections/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import { ApiKeyAuthenticator, requireScope, type Caller, type CallerBudget } from './auth.js';
import type { AuthFailureGate } from './auth-failures.js';
import { hostAllowListFor } from './host-allowlist.js';
import { awsConnectionsApi } from './aws-connections.js';
import type { AccessKeyRateLimiter } from './rate-limits.js';
import { documented, registerOpenApi } from './openapi.js';
import { allowOnly, decodePayload, requireObject, requireTopic } from './payload.js';
import { ROUTES } from './schemas.js';
import { retryAfterOf, rpcStatus, statusOf } from './status.js';

export interface ManagementApiOptions {
  hub: Hub;
  apiKeys: ApiKeySetting[];
  /** SigV4 credentials of the `@connections` surface; none: it answers 403 to everything. */
  awsAccessKeys?: AwsAccessKeySetting[];
  metrics: Metrics;
  log: Logger;
  /** False while the node starts or drains: /readyz answers 503. */
  ready: () => boolean;
  /** Per-key rate limits (shared with gRPC); absent: unlimited. */
  rateLimiter?: CallerBudget;
  /** Per-access-key rate limits of the `@connections` surface; absent: unlimited. */
  accessKeyRateLimiter?: AccessKeyRateLimiter;
  /** PEM certificate and key: the listener speaks HTTPS. */
  tls?: { certPem: string; keyPem: string };
  /** Host names answered besides the loopback ones when no API key is configured (`management.allowedHosts`). */
  allowedHosts?: readonly string[];
  /** Sockets held at once (`management.maxConnections`). */
  maxConnections?: number;
  /** Head, whole-request and keep-alive bounds (`management.timeouts`). */
  timeouts?: ManagementTimeouts;
  /** Failed API-key authentications per address; absent: not throttled. */
  authFailures?: AuthFailureGate;
  /** Failed SigV4 authentications on `@connections` per address; absent: not throttled. */
  awsAuthFailures?: AuthFailureGate;
}

const V1 = '/apigateways/websocket/v1';
/** Bodies carry at most 131072 bytes as base64 (~175 KiB) plus a little JSON. */
const BODY_LIMIT = 256 * 1024;
const EMPTY = Object.freeze({});

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

/**
 * The management API: the seeds' Connection service and its extensions. Custom methods
 * (`{id}:send`) share one route per resource and dispatch on the verb after the last colon,
 * because the router cannot tell `{id}:send` from `{id}:subscribe` by itself.
 */
export function createManagementApi(options: ManagementApiOptions): FastifyInstance {
  const { hub } = options;
  const authenticator = new ApiKeyAuthenticator(options.apiKeys, options.rateLimiter, options.authFailures);
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Ajv must not coerce: "12345" is not a number and ["TEXT"] is not a string here.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 512 },
    // The router answers a malformed %-escape or a parameter over maxParamLength itself,
    // bypassing the error handler: those get the google.rpc.Status shape too.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).send(rpcStatus('INVALID_ARGUMENT', err.message, 'path'));
    },
    serverFactory: (handler: RequestListener) => createListener(handler, options),
  });
  app.decorateRequest('caller', undefined as unknown as Caller);

  // First of all hooks, so it covers every route of the listener (API, @connections, console,
  // metrics, probes, 404s): a page on a rebinding name gets nothing, not even /healthz.
  const hosts = hostAllowListFor(options.apiKeys.length, options.allowedHosts ?? []);
  if (hosts !== undefined) {
    app.addHook('onRequest', (req, reply, done) => {
      try {
        hosts.check(req.headers.host);
      } catch (err) {
        reply.code(403).send(rpcStatus('PERMISSION_DENIED', (err as Error).message));
        return;
      }
      done();
    });
  }

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, _req, reply) => {
    if (isSwitchboardError(err)) {
      const { http, body } = statusOf(err);
      const retryAfter = retryAfterOf(err);
      if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
      return reply.code(http).send(body);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(rpcStatus('INVALID_ARGUMENT', `request body exceeds ${BODY_LIMIT} bytes`, 'body'));
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own 4xx (bad JSON, bad content type, schema): same google.rpc.Status shape.
      return reply.code(400).send(rpcStatus('INVALID_ARGUMENT', err.message, 'body'));
    }
    options.log.error({ err }, 'management API request failed');
    return reply.code(500).send(rpcStatus('INTERNAL', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(rpcStatus('NOT_FOUND', `no method ${req.method} ${req.url.split('?')[0]}`));
  });
  app.addHook('onResponse', (req, reply, done) => {
    options.metrics.countApiRequest(req.method, reply.statusCode);
    done();
  });

  // GET /openapi.json and /docs, public. First: the document sees only the routes declared
  // after it loads, which is why every route below is declared inside a plugin.
  registerOpenApi(app);

  app.register(async (probes) => {
    probes.get('/healthz', documented(ROUTES.healthz), async () => ({ status: 'ok' }));
    probes.get('/readyz', documented(ROUTES.readyz), async (_req, reply) => (options.ready() ? { status: 'ready' } : reply.code(503).send(rpcStatus('UNAVAILABLE', 'node is not ready'))));
  });

  // AWS's `@connections` surface: SigV4 only, outside the API-key scope below.
  app.register(awsConnectionsApi, {
    hub,
    awsAccessKeys: options.awsAccessKeys ?? [],
    log: options.log,
    ...(options.accessKeyRateLimiter ? { rateLimiter: options.accessKeyRateLimiter } : {}),
    ...(options.awsAuthFailures ? { authFailures: options.awsAuthFailures } : {}),
  });

  app.register(async (secured) => {
    acceptJsonWithoutItsType(secured);
    // Callback style: no promise per request on the hottest path.
    secured.addHook('onRequest', (req, _reply, done) => {
      try {
        req.caller = authenticator.admit(req.headers.authorization, req.socket.remoteAddress);
      } catch (err) {
        done(err as Error);
        return;
      }
      done();
    });

    secured.get('/metrics', documented(ROUTES.metrics), async (req, reply) => {
      requireScope(req.caller, 'read');
      reply.header('content-type', options.metrics.registry.contentType);
      return options.metrics.registry.metrics();
    });

    // Node-wide, as /metrics: no tenant's share can be told apart in it.
    secured.get(`${V1}/nodes/metrics`, documented(ROUTES.nodeMetrics), async (req) => {
      requireScope(req.caller, 'read');
      if (req.caller.tenantId !== undefined) throw new PermissionDenied('metrics are node-wide: a tenant-bound API key cannot read them');
      return { nodes: await hub.nodeMetrics() };
    });

    // ---- connections ----
    secured.get<{ Params: { connectionId: string }; Querystring: Record<string, string> }>(`${V1}/connections/:connectionId`, documented(ROUTES.getConnection), async (req) => {
      requireScope(req.caller, 'read');
      const view = await reachable(hub, req.caller, req.params.connectionId);
      return shape(view, viewParam(req.query.view));
    });

    secured.delete<{ Params: { connectionId: string } }>(`${V1}/connections/:connectionId`, documented(ROUTES.disconnect), async (req) => {
      requireScope(req.caller, 'write');
      const id = req.params.connectionId;
      if (req.caller.tenantId !== undefined) await reachable(hub, req.caller, id);
      await hub.disconnect(id, 1000, '');
      return EMPTY;
    });

    secured.post<{ Params: { target: string } }>(`${V1}/connections/:target`, documented(ROUTES.connectionMethods), async (req) => {
      const { name: id, verb } = splitVerb(req.params.target);
      const body = requireObject(req.body);
      switch (verb) {
        case 'send': {
          requireScope(req.caller, 'write');
          allowOnly(body, ['data', 'type']);
          const payload = decodePayload(body);
          if (req.caller.tenantId !== undefined) await reachable(hub, req.caller, id);
          await hub.send(id, payload);
          return EMPTY;
        }
        case 'subscribe':
        case 'unsubscribe': {
          requireScope(req.caller, 'write');
          allowOnly(body, ['topic']);
          const topic = requireTopic(body.topic, 'topic');
          requireTopicTenant(req.caller, topic);
          if (req.caller.tenantId !== undefined) await reachable(hub, req.caller, id);
          if (verb === 'subscribe') {
            const position = await hub.subscribe(id, topic);
            return { topic, offset: position.offset, epoch: position.epoch };
          }
          await hub.unsubscribe(id, topic);
          return EMPTY;
        }
        default:
          throw new NotFound(`no method ${verb} on connections; use :send, :subscribe or :unsubscribe`);
      }
    });

    secured.get<{ Querystring: Record<string, string | undefined> }>(`${V1}/connections`, documented(ROUTES.listConnections), async (req) => {
      requireScope(req.caller, 'read');
      const query = req.query;
      const filter: ListFilter = {};
      for (const key of ['gatewayId', 'tenantId', 'userId', 'topic'] as const) {
        const value = query[key];
        if (value !== undefined && value !== '') filter[key] = value;
      }
      if (req.caller.tenantId !== undefined) {
        if (filter.tenantId !== undefined && filter.tenantId !== req.caller.tenantId) {
          throw new PermissionDenied('this API key reaches only its own tenant');
        }
        filter.tenantId = req.caller.tenantId;
      }
      const pageSize = intParam(query.pageSize, 'pageSize', 1, 1000) ?? 100;
      const result = await hub.list(filter, { pageSize, ...(query.pageToken ? { pageToken: query.pageToken } : {}) });
      const view = viewParam(query.view);
      return { connections: result.connections.map((c) => shape(c, view)), nextPageToken: result.nextPageToken };
    });

    // ---- topics ----
    secured.post<{ Params: { target: string } }>(`${V1}/topics/:target`, documented(ROUTES.topicMethods), async (req) => {
      const { name: topic, verb } = splitVerb(req.params.target);
      if (verb !== 'publish') throw new NotFound(`no method ${verb} on topics; use :publish`);
      requireScope(req.caller, 'broadcast');
      requireTopic(topic, 'topic');
      requireTopicTenant(req.caller, topic);
      const body = requireObject(req.body);
      allowOnly(body, ['data', 'type', 'idempotencyKey']);
      const payload = decodePayload(body);
      const key = body.idempotencyKey;
      if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 256)) {
        throw new InvalidArgument('idempotencyKey must be a string of 1-256 characters', 'idempotencyKey');
      }
      return hub.publish(topic, payload, key === undefined ? {} : { idempotencyKey: key });
    });

    secured.get<{ Params: { topic: string } }>(`${V1}/topics/:topic/presence`, documented(ROUTES.presence), async (req) => {
      requireScope(req.caller, 'read');
      const topic = requireTopic(req.params.topic, 'topic');
      requireTopicTenant(req.caller, topic);
      return hub.presence(topic);
    });

    secured.get<{ Params: { topic: string }; Querystring: Record<string, string | undefined> }>(`${V1}/topics/:topic/history`, documented(ROUTES.history), async (req) => {
      requireScope(req.caller, 'read');
      const topic = requireTopic(req.params.topic, 'topic');
      requireTopicTenant(req.caller, topic);
      const sinceOffset = intParam(req.query.sinceOffset, 'sinceOffset', 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(req.query.limit, 'limit', 1, 10000);
      const epoch = req.query.epoch;
      const result = await hub.history(topic, {
        ...(sinceOffset !== undefined ? { sinceOffset } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(epoch !== undefined && epoch !== '' ? { epoch } : {}),
      });
      return {
        offset: result.offset,
        epoch: result.epoch,
        complete: result.complete,
        publications: result.publications.map((p) => ({
          offset: p.offset,
          data: p.data.toString('base64'),
          type: p.binary ? 'BINARY' : 'TEXT',
          publishedAt: new Date(p.publishedAt).toISOString(),
        })),
      };
    });

    // ---- users and tenants ----
    secured.post<{ Params: { target: string } }>(`${V1}/users/:target`, documented(ROUTES.userMethods), async (req) => {
      const { name: userId, verb } = splitVerb(req.params.target);
      if (verb === 'disconnect') return disconnectUser(hub, req.caller, userId, req.body);
      if (verb !== 'send') throw new NotFound(`no method ${verb} on users; use :send or :disconnect`);
      requireScope(req.caller, 'broadcast');
      const body = requireObject(req.body);
      allowOnly(body, ['data', 'type', 'tenantId']);
      const payload = decodePayload(body);
      let tenantId = body.tenantId;
      if (tenantId !== undefined && typeof tenantId !== 'string') throw new InvalidArgument('tenantId must be a string', 'tenantId');
      if (req.caller.tenantId !== undefined) {
        if (tenantId !== undefined && tenantId !== req.caller.tenantId) throw new PermissionDenied('this API key reaches only its own tenant');
        tenantId = req.caller.tenantId;
      }
      return hub.sendToUser(userId, payload, tenantId as string | undefined);
    });

    secured.post<{ Params: { target: string } }>(`${V1}/tenants/:target`, documented(ROUTES.tenantMethods), async (req) => {
      const { name: tenantId, verb } = splitVerb(req.params.target);
      if (verb !== 'broadcast') throw new NotFound(`no method ${verb} on tenants; use :broadcast`);
      requireScope(req.caller, 'broadcast');
      if (req.caller.tenantId !== undefined && req.caller.tenantId !== tenantId) {
        throw new PermissionDenied('this API key reaches only its own tenant');
      }
      const body = requireObject(req.body);
      allowOnly(body, ['data', 'type']);
      return hub.broadcast(tenantId, decodePayload(body));
    });
  });

  return app;
}

/**
 * The listener under Fastify, built here rather than by Fastify's `https` option (which would
 * change the instance's type for every route) so its socket bounds are set at creation: Node
 * checks `headersTimeout` and `requestTimeout` from a request's first byte, whatever trickles
 * in after it, every `connectionsCheckingInterval`; the default 30 s interval would let a
 * trickler live 30 s past its bound.
 */
function createListener(handler: RequestListener, options: ManagementApiOptions): HttpServer {
  const timeouts = options.timeouts ?? MANAGEMENT_TIMEOUT_DEFAULTS;
  const bounds: ServerOptions = {
    headersTimeout: timeouts.headersSeconds * 1000,
    requestTimeout: timeouts.requestSeconds * 1000,
    keepAliveTimeout: timeouts.keepAliveSeconds * 1000,
    connectionsCheckingInterval: 1000,
  };
  const tls = options.tls;
  // A TLS handshake gets the head's bound too (Node's own is 120 s).
  const server = tls
    ? (createHttpsServer({ ...bounds, handshakeTimeout: bounds.headersTimeout, cert: tls.certPem, key: tls.keyPem }, handler) as unknown as HttpServer)
    : createHttpServer(bounds, handler);
  server.maxConnections = options.maxConnections ?? MANAGEMENT_MAX_CONNECTIONS_DEFAULT;
  return server;
}

const SEND_JSON = 'send Content-Type: application/json with a JSON body';
/** What `curl -d` sends when no -H says otherwise. */
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * Reads a body sent as curl's form type or with no Content-Type as JSON, as HTTP/JSON
 * transcoding gateways do, so `curl -d '{"data":…}'` works; any other type is refused with
 * the header to send. Scoped to the API-key routes: `@connections` keeps its raw bodies.
 */
function acceptJsonWithoutItsType(app: FastifyInstance): void {
  const parseJson = (text: string, describedType: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new InvalidArgument(`the request body (${describedType}) is not JSON: ${SEND_JSON}`, 'body');
    }
  };
  app.addContentTypeParser(FORM_TYPE, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJson(body as string, `Content-Type: ${FORM_TYPE}`));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // The catch-all also receives bodies that carry no Content-Type at all.
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const type = req.headers['content-type'];
    try {
      if (type !== undefined) throw new InvalidArgument(`Content-Type ${JSON.stringify(type.slice(0, 100))} is not supported: ${SEND_JSON}`, 'body');
      done(null, parseJson(body as string, 'no Content-Type'));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

type View = 'BASIC' | 'FULL';

function viewParam(value: string | undefined): View {
  if (value === undefined || value === '' || value === 'BASIC') return 'BASIC';
  if (value === 'FULL') return 'FULL';
  throw new InvalidArgument(`view must be "BASIC" or "FULL", got ${JSON.stringify(value)}`, 'view');
}

/** The seeds' Connection JSON exactly; the realtime fields only for view=FULL. */
function shape(view: ConnectionView, mode: View): Record<string, unknown> {
  const basic = { id: view.id, gatewayId: view.gatewayId, identity: view.identity, connectedAt: view.connectedAt, lastActiveAt: view.lastActiveAt };
  if (mode === 'BASIC') return basic;
  return {
    ...basic,
    ...(view.tenantId !== undefined ? { tenantId: view.tenantId } : {}),
    ...(view.userId !== undefined ? { userId: view.userId } : {}),
    subscriptions: view.subscriptions,
    isAlive: view.isAlive,
    lastPing: view.lastPing,
  };
}

function splitVerb(target: string): { name: string; verb: string } {
  const colon = target.lastIndexOf(':');
  if (colon <= 0) throw new NotFound(`no method on "${target}": custom methods look like {name}:verb`);
  return { name: target.slice(0, colon), verb: target.slice(colon + 1) };
}

function intParam(value: string | undefined, field: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new InvalidArgument(`${field} must be an integer, got ${JSON.stringify(value)}`, field);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgument(`${field} must be between ${min} and ${max}`, field);
  return n;
}

/** A tenant-bound key sees another tenant's connection as not there at all. */
async function reachable(hub: Hub, caller: Caller, id: string): Promise<ConnectionView> {
  const view = await hub.get(id);
  if (caller.tenantId !== undefined && view.tenantId !== caller.tenantId) throw new NotFound(`connection ${id} not found`);
  return view;
}

/** `users/{userId}:disconnect`: every connection of the user, on every node; the body is optional. */
async function disconnectUser(hub: Hub, caller: Caller, userId: string, rawBody: unknown): Promise<DisconnectResult> {
  requireScope(caller, 'write');
  const body = rawBody === undefined || rawBody === null ? {} : requireObject(rawBody);
  allowOnly(body, ['tenantId']);
  const requested = body.tenantId;
  if (requested !== undefined && (typeof requested !== 'string' || requested === '')) throw new InvalidArgument('tenantId must be a non-empty string', 'tenantId');
  let tenantId = requested as string | undefined;
  if (caller.tenantId !== undefined) {
    if (tenantId !== undefined && tenantId !== caller.tenantId) throw new PermissionDenied('this API key reaches only its own tenant');
    tenantId = caller.tenantId;
  }
  return hub.disconnectUser(userId, tenantId, USER_DISCONNECTED.code, USER_DISCONNECTED.reason);
}

function requireTopicTenant(caller: Caller, topic: string): void {
  if (!topicBelongsTo(topic, caller.tenantId)) {
    throw new PermissionDenied('this API key reaches only topics of its own tenant');
  }
}

export type { FastifyReply, FastifyRequest };
