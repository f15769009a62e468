export { SwitchboardNode } from './gateway/index.js';
export type { NodeOptions } from './gateway/index.js';
export { loadSettings, loadGatewaySpec, parseGatewaySpec, demoGatewaySpec, defaultSettings } from './config/index.js';
export type { Settings, GatewaySpec } from './config/index.js';
export type { Hub, ConnectionView, Payload, PublishResult } from './cluster/index.js';
