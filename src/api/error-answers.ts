import type { FastifyInstance } from 'fastify';
import { isSwitchboardError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { retryAfterOf, rpcStatus, statusOf } from './status.js';

/**
 * Every error of the listener as google.rpc.Status: ours (validation included, see
 * validation.ts) with their HTTP status, Fastify's own 4xx as 400, anything else as 500.
 */
export function answerErrorsAsStatus(app: FastifyInstance, log: Logger, bodyLimit: number): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (isSwitchboardError(err)) {
      const { http, body } = statusOf(err);
      const retryAfter = retryAfterOf(err);
      if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
      return reply.code(http).send(body);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(rpcStatus('INVALID_ARGUMENT', `request body exceeds ${bodyLimit} bytes`, 'body'));
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own 4xx (bad JSON, bad content type): same google.rpc.Status shape.
      return reply.code(400).send(rpcStatus('INVALID_ARGUMENT', err.message, 'body'));
    }
    log.error({ err }, 'management API request failed');
    return reply.code(500).send(rpcStatus('INTERNAL', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(rpcStatus('NOT_FOUND', `no method ${req.method} ${req.url.split('?')[0]}`));
  });
}
