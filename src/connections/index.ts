export { ConnectionRecord, OutboundFrame } from './record.js';
export type { ClientTransport, ConnectionProtocol } from './record.js';
export { ConnectionRegistry } from './registry.js';
export { newConnectionId, nodeOfConnectionId, MessageIdGenerator } from './ids.js';
export { scopeTopic, tenantOfTopic, topicBelongsTo } from './topic-names.js';
