import { createServer as createHttpServer, type Server as HttpServer, type RequestListener, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  MANAGEMENT_MAX_CONNECTIONS_DEFAULT,
  MANAGEMENT_TIMEOUT_DEFAULTS,
  type ApiKeySetting,
  type AwsAccessKeySetting,
  type ManagementTimeouts,
} from '../config/index.js';
import type { Hub } from '../cluster/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import { guardByApiKey } from './access.js';
import { ApiKeyAuthenticator, type CallerBudget } from './auth.js';
import type { AuthFailureGate } from './auth-failures.js';
import { awsConnectionsApi } from './aws-connections.js';
import { connectionRoutes } from './connection-routes.js';
import { deliveryRoutes } from './delivery-routes.js';
import { answerErrorsAsStatus } from './error-answers.js';
import { hostAllowListFor } from './host-allowlist.js';
import { acceptJsonWithoutItsType } from './json-bodies.js';
import { registerOpenApi } from './openapi.js';
import { metricsRoutes, nodeRoutes, probeRoutes } from './operation-routes.js';
import type { AccessKeyRateLimiter } from './rate-limits.js';
import { rpcStatus } from './status.js';
import { topicRoutes } from './topic-routes.js';
import { AJV_OPTIONS, schemaErrorFormatter } from './validation.js';

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

/**
 * The management API: the seeds' Connection service and its extensions, one plugin per
 * resource, each route validated by Fastify against its schema (schemas.ts) after the key and
 * its scope are checked (access.ts); `@connections`, the probes and the document beside them.
 */
export function createManagementApi(options: ManagementApiOptions): FastifyInstance {
  const { hub } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    ajv: AJV_OPTIONS,
    schemaErrorFormatter,
    routerOptions: { maxParamLength: 512 },
    // The router answers a malformed %-escape or a parameter over maxParamLength itself,
    // bypassing the error handler: those get the google.rpc.Status shape too.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).send(rpcStatus('INVALID_ARGUMENT', err.message, 'path'));
    },
    serverFactory: (handler: RequestListener) => createListener(handler, options),
  });
  // Responses are written as the handlers build them: fast-json-stringify would drop any field
  // a response schema does not list.
  app.setSerializerCompiler(() => (data: unknown) => JSON.stringify(data));
  guardHosts(app, options);
  answerErrorsAsStatus(app, options.log, BODY_LIMIT);
  app.addHook('onResponse', (req, reply, done) => {
    options.metrics.countApiRequest(req.method, reply.statusCode);
    done();
  });

  // GET /openapi.json and /docs, public. First: the document sees only the routes declared
  // after it loads, which is why every route below is declared inside a plugin.
  registerOpenApi(app);
  app.register(probeRoutes, { ready: options.ready });
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
    guardByApiKey(secured, new ApiKeyAuthenticator(options.apiKeys, options.rateLimiter, options.authFailures));
    secured.register(metricsRoutes, { metrics: options.metrics });
    const routes = { hub, prefix: V1 };
    secured.register(nodeRoutes, routes);
    secured.register(connectionRoutes, routes);
    secured.register(topicRoutes, routes);
    secured.register(deliveryRoutes, routes);
  });
  return app;
}

/**
 * First of all hooks, so it covers every route of the listener (API, @connections, console,
 * metrics, probes, 404s): a page on a rebinding name gets nothing, not even /healthz.
 */
function guardHosts(app: FastifyInstance, options: ManagementApiOptions): void {
  const hosts = hostAllowListFor(options.apiKeys.length, options.allowedHosts ?? []);
  if (hosts === undefined) return;
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
