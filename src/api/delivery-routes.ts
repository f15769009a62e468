import type { FastifyInstance } from 'fastify';
import { USER_DISCONNECTED } from '../cluster/index.js';
import { tenantReached } from './access.js';
import type { HubRoutesOptions } from './connection-routes.js';
import { customMethodRoute } from './custom-methods.js';
import { decodePayload } from './payload.js';
import { ROUTES, SendRequest, UserDisconnectRequest, UserSendRequest } from './schemas.js';

/** Frames to every connection of a user or of a tenant; closing every connection of a user. */
export async function deliveryRoutes(app: FastifyInstance, { hub }: HubRoutesOptions): Promise<void> {
  customMethodRoute(app, '/users/:target', 'users', ROUTES.userMethods, {
    send: {
      scope: 'broadcast',
      body: UserSendRequest,
      handle: async (req, userId, body) => {
        const payload = decodePayload(body);
        return hub.sendToUser(userId, payload, tenantReached(req.caller, body.tenantId) as string | undefined);
      },
    },
    // Every connection of the user, on every node; the body is optional.
    disconnect: {
      scope: 'write',
      body: UserDisconnectRequest,
      bodyOptional: true,
      handle: async (req, userId, body) =>
        hub.disconnectUser(userId, tenantReached(req.caller, body.tenantId) as string | undefined, USER_DISCONNECTED.code, USER_DISCONNECTED.reason),
    },
  });

  customMethodRoute(app, '/tenants/:target', 'tenants', ROUTES.tenantMethods, {
    broadcast: {
      scope: 'broadcast',
      body: SendRequest,
      authorize: (req, tenantId) => tenantReached(req.caller, tenantId),
      handle: async (_req, tenantId, body) => hub.broadcast(tenantId, decodePayload(body)),
    },
  });
}
