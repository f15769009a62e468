export { ClientEdge } from './listener.js';
export type { ClientEdgeOptions } from './listener.js';
export type { RealtimeIdentity, RealtimeProtocol } from './context.js';
export { ClientSession } from './session.js';
export { CloseCode } from './close-codes.js';
