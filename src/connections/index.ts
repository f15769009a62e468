export { ConnectionRecord, OutboundFrame } from './record.js';
export type { ClientTransport, ConnectionProtocol } from './record.js';
export { ConnectionRegistry } from './registry.js';
export { newConnectionId, nodeOfConnectionId, MessageIdGenerator, NODE_ID_PATTERN } from './ids.js';
