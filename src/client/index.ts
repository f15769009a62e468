/**
 * `switchboard/client`: the realtime protocol's client SDK for browsers and Node
 * (DESIGN.md §2.3). Nothing here imports Node-only modules.
 */
export { SwitchboardClient } from './client.js';
export { TypedEmitter } from './emitter.js';
export type { Listener } from './emitter.js';
export { CLIENT_CLOSE_CODES, CLIENT_ERROR_CODES, SERVER_CLOSE_CODES, SwitchboardClientError } from './errors.js';
export { DEFAULT_RECONNECT, backoffCeiling, backoffDelay } from './backoff.js';
export type { ReconnectOptions } from './backoff.js';
export { base64ToBytes, bytesToBase64, payloadBytes } from './base64.js';
export type {
  ClientEvents,
  ClientState,
  ConnectedEvent,
  ConnectingEvent,
  DisconnectedEvent,
  ClientMessageEvent,
  PresenceEvent,
  PublicationEvent,
  PublicationHandler,
  RawMessageEvent,
  RecoveryEvent,
  RefreshedEvent,
  RequestOptions,
  ServerEnvelope,
  StreamPosition,
  SubscribedData,
  SubscribedEvent,
  SubscribeOptions,
  SwitchboardClientOptions,
  WebSocketConstructor,
} from './types.js';
