import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkedBy, requireTopicTenant } from './access.js';
import type { HubRoutesOptions } from './connection-routes.js';
import { customMethodRoute } from './custom-methods.js';
import { decodePayload } from './payload.js';
import { PublishRequest, ROUTES, SubscribeRequest } from './schemas.js';
import { validateBody } from './validation.js';

/** Publish to a topic; read its presence and history. */

type HistoryQuery = Partial<Record<'sinceOffset' | 'limit' | 'epoch', string>>;
type TopicParams = { topic: string };

export async function topicRoutes(app: FastifyInstance, { hub }: HubRoutesOptions): Promise<void> {
  const path = '/topics';

  customMethodRoute(app, `${path}/:target`, 'topics', ROUTES.topicMethods, {
    publish: {
      scope: 'broadcast',
      body: PublishRequest,
      // The topic is part of the custom method's segment, not a field of its own.
      authorize: reachableTopic,
      handle: async (_req, topic, body) => {
        const key = body.idempotencyKey as string | undefined;
        return hub.publish(topic, decodePayload(body), key === undefined ? {} : { idempotencyKey: key });
      },
    },
  });

  const topicInPath = checkedBy((req) => reachableTopic(req, (req.params as TopicParams).topic));

  app.get<{ Params: TopicParams }>(`${path}/:topic/presence`, { schema: ROUTES.presence, config: { scope: 'read' }, preValidation: topicInPath }, async (req) => hub.presence(req.params.topic));

  app.get<{ Params: TopicParams; Querystring: HistoryQuery }>(`${path}/:topic/history`, { schema: ROUTES.history, config: { scope: 'read' }, preValidation: topicInPath }, async (req) => {
    const topic = req.params.topic;
    const { sinceOffset, limit, epoch } = req.query;
    const result = await hub.history(topic, {
      ...(sinceOffset !== undefined && sinceOffset !== '' ? { sinceOffset: Number(sinceOffset) } : {}),
      ...(limit !== undefined && limit !== '' ? { limit: Number(limit) } : {}),
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
}

/**
 * A topic named in the path: a valid name (400 naming `topic`, by the subscription schema),
 * then one a tenant-bound key reaches (403), before the rest of the request is validated.
 */
function reachableTopic(req: FastifyRequest, topic: string): void {
  validateBody(req, SubscribeRequest, { topic });
  requireTopicTenant(req.caller, topic);
}
