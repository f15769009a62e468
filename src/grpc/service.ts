import type { handleUnaryCall, Metadata, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ApiKeyAuthenticator, MAX_SEND_BYTES, isValidUtf8, requireScope, type Caller, type HostAllowList } from '../api/index.js';
import type { ConnectionView, Hub, Payload } from '../cluster/index.js';
import { InvalidArgument, NotFound } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { ConnectionMessage, DisconnectRequest, EmptyResponse, GetConnectionRequest, SendToConnectionRequest } from './messages.js';
import { grpcErrorOf } from './status.js';
import { timestampOf } from './timestamp.js';

/** The upstream .proto's `(length) = "<=50"` on every connection_id. */
export const MAX_CONNECTION_ID_LENGTH = 50;

export interface ConnectionServiceOptions {
  hub: Hub;
  authenticator: ApiKeyAuthenticator;
  /** Set when the listener checks `:authority` (no API keys, or `management.allowedHosts` listed). */
  hosts?: HostAllowList | undefined;
  log: Logger;
}

const EMPTY: EmptyResponse = Object.freeze({});

/**
 * Get, Send and Disconnect with the management API's semantics: the same API keys (metadata
 * `authorization: Bearer KEY` or `Api-Key KEY`), scopes read (Get) and write (Send,
 * Disconnect), tenant-bound keys seeing other tenants' connections as NOT_FOUND, and the same
 * Hub calls underneath, so a connection on another node answers the same way.
 */
export function connectionServiceHandlers(options: ConnectionServiceOptions): UntypedServiceImplementation {
  const { hub, authenticator, hosts, log } = options;

  function unary<Req, Res>(method: string, run: (request: Req, caller: Caller) => Promise<Res>): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      // admit() throws synchronously; inside the chain its error becomes the call's status.
      Promise.resolve()
        .then(() => {
          hosts?.check(call.getHost());
          return run(call.request, authenticator.admit(authorizationOf(call.metadata), addressOf(call.getPeer())));
        })
        .then(
          (response) => callback(null, response),
          (err: unknown) => callback(grpcErrorOf(err, log, method)),
        );
    };
  }

  return {
    Get: unary<GetConnectionRequest, ConnectionMessage>('Get', async (request, caller) => {
      requireScope(caller, 'read');
      const view = await reachable(hub, caller, connectionIdOf(request));
      return connectionMessageOf(view);
    }),

    Send: unary<SendToConnectionRequest, EmptyResponse>('Send', async (request, caller) => {
      requireScope(caller, 'write');
      const id = connectionIdOf(request);
      const payload = payloadOf(request);
      if (caller.tenantId !== undefined) await reachable(hub, caller, id);
      await hub.send(id, payload);
      return EMPTY;
    }),

    Disconnect: unary<DisconnectRequest, EmptyResponse>('Disconnect', async (request, caller) => {
      requireScope(caller, 'write');
      const id = connectionIdOf(request);
      if (caller.tenantId !== undefined) await reachable(hub, caller, id);
      await hub.disconnect(id, 1000, '');
      return EMPTY;
    }),
  };
}

/** The seeds' Connection: REST get's JSON fields, times as google.protobuf.Timestamp. */
export function connectionMessageOf(view: ConnectionView): ConnectionMessage {
  return {
    id: view.id,
    gatewayId: view.gatewayId,
    identity: { sourceIp: view.identity.sourceIp, userAgent: view.identity.userAgent },
    connectedAt: timestampOf(view.connectedAt),
    lastActiveAt: timestampOf(view.lastActiveAt),
  };
}

/** `127.0.0.1:50412` or `::1:50412` (grpc-js's peer form, IPv6 unbracketed) → the address. */
function addressOf(peer: string): string | undefined {
  const colon = peer.lastIndexOf(':');
  return colon > 0 ? peer.slice(0, colon) : undefined;
}

function authorizationOf(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}

function connectionIdOf(request: { connectionId: string }): string {
  const id = request.connectionId;
  if (id === '') throw new InvalidArgument('connection_id is required', 'connection_id');
  if (id.length > MAX_CONNECTION_ID_LENGTH) {
    throw new InvalidArgument(`connection_id is ${id.length} characters; the limit is ${MAX_CONNECTION_ID_LENGTH}`, 'connection_id');
  }
  return id;
}

/** TEXT is a text frame of valid UTF-8; BINARY and the zero value DATA_TYPE_UNSPECIFIED are binary, as in REST. */
function payloadOf(request: SendToConnectionRequest): Payload {
  const data = request.data;
  if (data.length > MAX_SEND_BYTES) throw new InvalidArgument(`data is ${data.length} bytes; the limit is ${MAX_SEND_BYTES}`, 'data');
  switch (request.type) {
    case 'BINARY':
    case 'DATA_TYPE_UNSPECIFIED':
      return { data, binary: true };
    case 'TEXT':
      if (!isValidUtf8(data)) throw new InvalidArgument('data of a TEXT message must be valid UTF-8', 'data');
      return { data, binary: false };
    default:
      throw new InvalidArgument(`type must be BINARY or TEXT, got ${JSON.stringify(request.type)}`, 'type');
  }
}

/** A tenant-bound key sees another tenant's connection as not there at all. */
async function reachable(hub: Hub, caller: Caller, id: string): Promise<ConnectionView> {
  const view = await hub.get(id);
  if (caller.tenantId !== undefined && view.tenantId !== caller.tenantId) throw new NotFound(`connection ${id} not found`);
  return view;
}
