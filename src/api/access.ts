import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import type { Scope } from '../config/index.js';
import { NotFound, PermissionDenied } from '../errors/index.js';
import type { ConnectionView, Hub } from '../cluster/index.js';
import { topicBelongsTo } from '../connections/index.js';
import { requireScope, type ApiKeyAuthenticator, type Caller } from './auth.js';

/**
 * Who may call what on the API-key routes: the key is admitted as the request arrives, and the
 * route's scope is checked in preValidation, before Fastify validates the request, so a key
 * without the scope gets 403 whatever its input.
 */

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** The scope the route needs; custom-method routes check theirs per verb. */
    scope?: Scope;
  }
}

export function guardByApiKey(app: FastifyInstance, authenticator: ApiKeyAuthenticator): void {
  // Callback style: no promise per request on the hottest path.
  app.addHook('onRequest', (req, _reply, done) => {
    try {
      req.caller = authenticator.admit(req.headers.authorization, req.socket.remoteAddress);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
  app.addHook(
    'preValidation',
    checkedBy((req) => {
      const scope = req.routeOptions.config.scope;
      if (scope !== undefined) requireScope(req.caller, scope);
    }),
  );
}

/**
 * A preValidation hook running a check that throws (a 403 or 404 before the request is
 * validated). Route-level ones run after the scope hook above. Callback style, as above.
 */
export function checkedBy(check: (req: FastifyRequest) => void): preValidationHookHandler {
  return (req, _reply, done) => {
    try {
      check(req);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };
}

/** A tenant-bound key sees another tenant's connection as not there at all. */
export async function reachable(hub: Hub, caller: Caller, id: string): Promise<ConnectionView> {
  const view = await hub.get(id);
  if (caller.tenantId !== undefined && view.tenantId !== caller.tenantId) throw new NotFound(`connection ${id} not found`);
  return view;
}

export function requireTopicTenant(caller: Caller, topic: string): void {
  if (!topicBelongsTo(topic, caller.tenantId)) {
    throw new PermissionDenied('this API key reaches only topics of its own tenant');
  }
}

/** The tenant a call reaches: the one asked for, which a tenant-bound key may only ask for as its own. */
export function tenantReached(caller: Caller, requested: unknown): unknown {
  if (caller.tenantId === undefined) return requested;
  if (requested !== undefined && requested !== caller.tenantId) throw new PermissionDenied('this API key reaches only its own tenant');
  return caller.tenantId;
}
