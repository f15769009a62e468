/**
 * The seeds' gRPC ConnectionService (yandex.cloud.serverless.apigateway.websocket.v1):
 * Get, Send and Disconnect over the Hub, behind the management API's keys.
 */
export { GrpcConnectionServer } from './server.js';
export type { GrpcServerOptions } from './server.js';
export { MAX_CONNECTION_ID_LENGTH } from './service.js';
export {
  CONNECTION_SERVICE_NAME,
  CONNECTION_SERVICE_PROTO,
  SERVER_LOADER_OPTIONS,
  connectionServiceOf,
  loadConnectionServicePackage,
  protoDirectory,
} from './proto.js';
export { timestampOf } from './timestamp.js';
export type * from './messages.js';
