import type { FastifyInstance } from 'fastify';
import type { ConnectionView, Hub, ListFilter } from '../cluster/index.js';
import type { Caller } from './auth.js';
import { checkedBy, reachable, requireTopicTenant, tenantReached } from './access.js';
import { customMethodRoute } from './custom-methods.js';
import { decodePayload } from './payload.js';
import { ROUTES, SendRequest, SubscribeRequest } from './schemas.js';

/** The seeds' Connection service (get, send, disconnect) and its extensions: list, server-side subscriptions. */

/** What the API's resource plugins need; each is registered under the `/apigateways/websocket/v1` prefix. */
export interface HubRoutesOptions {
  hub: Hub;
}

const EMPTY = Object.freeze({});

type View = 'BASIC' | 'FULL';
type ViewQuery = { view?: string };
type ListQuery = ViewQuery & Partial<Record<'gatewayId' | 'tenantId' | 'userId' | 'topic' | 'pageSize' | 'pageToken', string>>;

export async function connectionRoutes(app: FastifyInstance, { hub }: HubRoutesOptions): Promise<void> {
  const path = '/connections';

  app.get<{ Params: { connectionId: string }; Querystring: ViewQuery }>(`${path}/:connectionId`, { schema: ROUTES.getConnection, config: { scope: 'read' } }, async (req) =>
    shape(await reachable(hub, req.caller, req.params.connectionId), viewOf(req.query.view)),
  );

  app.delete<{ Params: { connectionId: string } }>(`${path}/:connectionId`, { schema: ROUTES.disconnect, config: { scope: 'write' } }, async (req) => {
    const id = req.params.connectionId;
    if (req.caller.tenantId !== undefined) await reachable(hub, req.caller, id);
    await hub.disconnect(id, 1000, '');
    return EMPTY;
  });

  app.get<{ Querystring: ListQuery }>(path, { schema: ROUTES.listConnections, config: { scope: 'read' }, preValidation: checkedBy((req) => tenantReached(req.caller, ownTenantAsked(req.query as ListQuery))) }, async (req) => {
    const query = req.query;
    const filter: ListFilter = {};
    for (const key of ['gatewayId', 'tenantId', 'userId', 'topic'] as const) {
      const value = query[key];
      if (value !== undefined && value !== '') filter[key] = value;
    }
    if (req.caller.tenantId !== undefined) filter.tenantId = req.caller.tenantId;
    const pageSize = query.pageSize === undefined || query.pageSize === '' ? 100 : Number(query.pageSize);
    const result = await hub.list(filter, { pageSize, ...(query.pageToken ? { pageToken: query.pageToken } : {}) });
    const view = viewOf(query.view);
    return { connections: result.connections.map((c) => shape(c, view)), nextPageToken: result.nextPageToken };
  });

  customMethodRoute(app, `${path}/:target`, 'connections', ROUTES.connectionMethods, {
    send: {
      scope: 'write',
      body: SendRequest,
      handle: async (req, id, body) => {
        const payload = decodePayload(body);
        if (req.caller.tenantId !== undefined) await reachable(hub, req.caller, id);
        await hub.send(id, payload);
        return EMPTY;
      },
    },
    subscribe: { scope: 'write', body: SubscribeRequest, handle: async (req, id, body) => {
      const topic = await subscribable(hub, req.caller, id, body.topic as string);
      const position = await hub.subscribe(id, topic);
      return { topic, offset: position.offset, epoch: position.epoch };
    } },
    unsubscribe: { scope: 'write', body: SubscribeRequest, handle: async (req, id, body) => {
      await hub.unsubscribe(id, await subscribable(hub, req.caller, id, body.topic as string));
      return EMPTY;
    } },
  });
}

/** The tenantId filter asked for; empty is none. Not yet validated: an array is refused as another tenant. */
function ownTenantAsked(query: ListQuery): unknown {
  return query.tenantId === '' ? undefined : query.tenantId;
}

async function subscribable(hub: Hub, caller: Caller, id: string, topic: string): Promise<string> {
  requireTopicTenant(caller, topic);
  if (caller.tenantId !== undefined) await reachable(hub, caller, id);
  return topic;
}

/** The schema lets through "", "BASIC" and "FULL". */
function viewOf(value: string | undefined): View {
  return value === 'FULL' ? 'FULL' : 'BASIC';
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
