export { SwitchboardNode } from './node.js';
export type { NodeOptions } from './node.js';
