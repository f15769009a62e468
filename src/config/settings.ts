/**
 * A node's settings: defaults, then the YAML file, then SWITCHBOARD_* environment variables,
 * then command-line flags, each layer validated as it is read so an error names where the bad
 * value came from (file, variable or flag), the key path and what was found.
 */
import { defaultSettings } from './defaults.js';
import { environmentLayer } from './env-layer.js';
import { flagLayer, type SettingsFlags } from './flag-layer.js';
import { checkListeners, type ListenerOrigin, type ListenerOrigins } from './listeners.js';
import { applyLayer } from './override-layer.js';
import { readSettingsFile } from './settings-file.js';
import type { NamedSetting, Settings, SettingSource, SettingSources } from './types.js';
import type { Environment } from './variables.js';

/** The flag, variable and file key of each setting that start-up errors name, so a message can say how to change it. */
export const SETTING_NAMES: Readonly<Record<NamedSetting, { flag: string; env: string; key: string }>> = {
  listen: { flag: '--listen', env: 'SWITCHBOARD_LISTEN', key: 'listen' },
  'management.listen': { flag: '--management-listen', env: 'SWITCHBOARD_MANAGEMENT_LISTEN', key: 'management.listen' },
  'grpc.listen': { flag: '--grpc-listen', env: 'SWITCHBOARD_GRPC_LISTEN', key: 'grpc.listen' },
  backplane: { flag: '--backplane', env: 'SWITCHBOARD_BACKPLANE', key: 'backplane' },
};

export interface SettingsInput {
  /** The YAML file; when absent, SWITCHBOARD_CONFIG names it; when both are absent, defaults. */
  configFile?: string;
  flags: SettingsFlags;
  env: Environment;
}

/** The kind of each layer, by its rank (0 = default): how a setting's source is reported. */
const LAYER_KINDS: readonly SettingSource['kind'][] = ['default', 'file', 'env', 'flag'];

/**
 * Loads a node's settings. Precedence: flags > SWITCHBOARD_* variables > the YAML file >
 * defaults; API keys from flags and variables are added to the file's.
 */
export function loadSettings(input: SettingsInput): Settings {
  return loadSettingsWithSources(input).settings;
}

/** loadSettings, and where the settings that start-up errors name came from. */
export function loadSettingsWithSources(input: SettingsInput): { settings: Settings; sources: SettingSources } {
  const configFile = input.configFile ?? (input.env.SWITCHBOARD_CONFIG?.trim() || undefined);
  let settings = defaultSettings();
  // Before the layers apply, an address is the file's (or the default's when there is no file).
  const base: ListenerOrigin = { source: configFile ?? '(defaults)', layer: configFile === undefined ? 0 : 1 };
  const origins: ListenerOrigins = { listen: { ...base }, 'management.listen': { ...base }, 'grpc.listen': { ...base }, backplane: { ...base } };
  if (configFile !== undefined) settings = readSettingsFile(configFile, input.env);
  applyLayer(settings, environmentLayer(input.env), 2, origins);
  applyLayer(settings, flagLayer(input.flags), 3, origins);
  checkListeners(settings, origins);
  const sources: SettingSources = {};
  for (const [setting, origin] of Object.entries(origins) as [NamedSetting, ListenerOrigin][]) {
    const kind = LAYER_KINDS[origin.layer] ?? 'default';
    sources[setting] = { kind, name: kind === 'default' ? '' : origin.source };
  }
  return { settings, sources };
}
