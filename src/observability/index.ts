export { chooseLogFormat, createLogger } from './logger.js';
export { formatPrettyLine } from './pretty.js';
export type { Logger } from './logger.js';
export { Metrics, TrafficCounters } from './metrics.js';
export { LatencyHistogram } from './latency-histogram.js';
export type { LatencyLabels } from './latency-histogram.js';
export type { AuthSurface } from './metrics.js';
