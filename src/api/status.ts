import { RPC_CODE, RateLimited, type ErrorKind, type SwitchboardError } from '../errors/index.js';
import { retryAfterSeconds } from '../ratelimit/index.js';

/** google.rpc.Status as JSON, the shape of every error the management API answers. */
export interface RpcStatus {
  code: number;
  message: string;
  details: unknown[];
}

export const HTTP_STATUS: Record<ErrorKind, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

export function rpcStatus(kind: ErrorKind, message: string, field?: string): RpcStatus {
  const details: unknown[] = [];
  if (field !== undefined) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field, description: message }],
    });
  }
  return { code: RPC_CODE[kind], message, details };
}

export function statusOf(err: SwitchboardError): { http: number; body: RpcStatus } {
  const body = rpcStatus(err.kind, err.message, err.field);
  if (err instanceof RateLimited) {
    body.details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${(err.retryAfterMs / 1000).toFixed(3)}s` });
  }
  return { http: HTTP_STATUS[err.kind], body };
}

/** The `Retry-After` header (whole seconds) an error calls for, if any. */
export function retryAfterOf(err: SwitchboardError): string | undefined {
  return err instanceof RateLimited ? String(retryAfterSeconds(err.retryAfterMs)) : undefined;
}
