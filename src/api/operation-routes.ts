import type { FastifyInstance } from 'fastify';
import { PermissionDenied } from '../errors/index.js';
import type { Metrics } from '../observability/index.js';
import type { HubRoutesOptions } from './connection-routes.js';
import { ROUTES } from './schemas.js';
import { rpcStatus } from './status.js';

/** The probes, public: /healthz answers while the process runs, /readyz while the node takes work. */
export async function probeRoutes(app: FastifyInstance, options: { ready: () => boolean }): Promise<void> {
  app.get('/healthz', { schema: ROUTES.healthz }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: ROUTES.readyz }, async (_req, reply) => (options.ready() ? { status: 'ready' } : reply.code(503).send(rpcStatus('UNAVAILABLE', 'node is not ready'))));
}

/** This node's Prometheus metrics (GET /metrics). */
export async function metricsRoutes(app: FastifyInstance, { metrics }: { metrics: Metrics }): Promise<void> {
  app.get('/metrics', { schema: ROUTES.metrics, config: { scope: 'read' } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

/** Every node's metrics; node-wide, as /metrics, so no tenant's share can be told apart. */
export async function nodeRoutes(app: FastifyInstance, { hub }: HubRoutesOptions): Promise<void> {
  app.get('/nodes/metrics', { schema: ROUTES.nodeMetrics, config: { scope: 'read' } }, async (req) => {
    if (req.caller.tenantId !== undefined) throw new PermissionDenied('metrics are node-wide: a tenant-bound API key cannot read them');
    return { nodes: await hub.nodeMetrics() };
  });
}
