export { ClientEdge } from './listener.js';
export type { ClientEdgeOptions } from './listener.js';
export type { RealtimeIdentity, RealtimeProtocol } from '../realtime/index.js';
export { ClientSession } from './session.js';
export { CloseCode } from './close-codes.js';
