import { Metadata, type ServerErrorResponse } from '@grpc/grpc-js';
import { RPC_CODE, RateLimited, isSwitchboardError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';

const INTERNAL = RPC_CODE.INTERNAL;

/**
 * The gRPC status of a failed call: a Switchboard error keeps its kind (google.rpc.Code numbers
 * are gRPC's status codes) and message; anything else is INTERNAL and is logged, not shown.
 * The field at fault of an INVALID_ARGUMENT travels as `x-switchboard-field` trailing metadata,
 * the wait of a rate-limited call as `retry-after-ms`.
 */
export function grpcErrorOf(err: unknown, log: Logger, method: string): ServerErrorResponse {
  if (isSwitchboardError(err)) {
    const metadata = new Metadata();
    if (err.field !== undefined) metadata.set('x-switchboard-field', err.field);
    if (err instanceof RateLimited) metadata.set('retry-after-ms', String(err.retryAfterMs));
    return Object.assign(new Error(err.message), { code: RPC_CODE[err.kind], details: err.message, metadata });
  }
  log.error({ err, method }, 'gRPC ConnectionService call failed');
  return Object.assign(new Error('internal error'), { code: INTERNAL, details: 'internal error' });
}
