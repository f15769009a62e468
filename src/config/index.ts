/** The config folder's face: settings and gateway specs, loaded and validated. */
export * from './types.js';
export { loadSettings, loadSettingsWithSources, SETTING_NAMES } from './settings.js';
export { unknownVariables } from './env-layer.js';
export type { SettingsInput } from './settings.js';
export type { SettingsFlags } from './flag-layer.js';
export { LOG_FORMATS, NODE_ID_PATTERN } from './setting-values.js';
export { parseHostPort, formatHostPort } from './host-port.js';
export {
  defaultSettings,
  DEFAULT_LIMITS,
  TOPIC_DEFAULTS,
  TOPICS_CLAIM_DEFAULT,
  REFRESH_NOTICE_DEFAULT_SECONDS,
  AUTHORIZE_DEFAULTS,
  GRPC_DEFAULTS,
  MANAGEMENT_TIMEOUT_DEFAULTS,
  MANAGEMENT_MAX_CONNECTIONS_DEFAULT,
  AUTH_FAILURE_THROTTLE_DEFAULTS,
  MIN_API_KEY_LENGTH,
} from './defaults.js';
export { loadGatewaySpec, parseGatewaySpec, demoGatewaySpec } from './spec.js';
export { topicSettingsFor, compileTopicPatterns, compileGlob, globMatches } from './topics.js';
export type { TopicSettingsMatcher, CompiledGlob } from './topics.js';
