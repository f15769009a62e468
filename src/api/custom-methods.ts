import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import type { Scope } from '../config/index.js';
import { NotFound } from '../errors/index.js';
import { requireScope } from './auth.js';
import type { RouteSchema } from './schemas.js';
import { validateBody } from './validation.js';

/**
 * Custom methods (`{name}:verb`) share one route per resource: the router cannot split a
 * segment on its last colon, and names (topics) hold colons themselves. The verb picks the
 * method in preValidation, where its scope and its path checks run; its body is validated
 * against its own schema once the method is known.
 */
export interface CustomMethod {
  scope: Scope;
  /** The body's schema (a shared one, by $id). */
  body: TSchema;
  /** An absent or null body is read as `{}`. */
  bodyOptional?: boolean;
  /** Checks on the name, after the scope and before the body (a 400 or 403 of the path). */
  authorize?: (req: FastifyRequest, name: string) => void;
  handle: (req: FastifyRequest, name: string, body: Record<string, unknown>) => Promise<unknown>;
}

interface Target {
  name: string;
  method: CustomMethod;
}

export function customMethodRoute(app: FastifyInstance, path: string, resource: string, schema: RouteSchema, methods: Record<string, CustomMethod>): void {
  const targets = new WeakMap<FastifyRequest, Target>();
  const verbs = Object.keys(methods).map((verb) => `:${verb}`);
  const advice = verbs.length === 1 ? verbs[0] : `${verbs.slice(0, -1).join(', ')} or ${verbs[verbs.length - 1]}`;

  app.post<{ Params: { target: string } }>(path, {
    schema,
    preValidation: (req, _reply, done) => {
      try {
        const { name, verb } = splitVerb(req.params.target);
        const method = Object.hasOwn(methods, verb) ? methods[verb] : undefined;
        if (method === undefined) throw new NotFound(`no method ${verb} on ${resource}; use ${advice}`);
        requireScope(req.caller, method.scope);
        method.authorize?.(req, name);
        targets.set(req, { name, method });
      } catch (err) {
        done(err as Error);
        return;
      }
      done();
    },
    handler: async (req) => {
      const { name, method } = targets.get(req) as Target;
      const body = method.bodyOptional && (req.body === undefined || req.body === null) ? {} : req.body;
      validateBody(req, method.body, body);
      return method.handle(req, name, body as Record<string, unknown>);
    },
  });
}

function splitVerb(target: string): { name: string; verb: string } {
  const colon = target.lastIndexOf(':');
  if (colon <= 0) throw new NotFound(`no method on "${target}": custom methods look like {name}:verb`);
  return { name: target.slice(0, colon), verb: target.slice(colon + 1) };
}
