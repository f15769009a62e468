/**
 * An override layer (environment or flags) over the file's settings: each value carries the
 * name it came from, so an error says `SWITCHBOARD_LISTEN` or `--listen` instead of a file.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { GRPC_DEFAULTS } from './defaults.js';
import { parseHostPort } from './host-port.js';
import type { ListenerOrigins } from './listeners.js';
import { checkApiKey, checkBackplane, checkLogFormat, checkLogLevel, checkNodeId } from './setting-values.js';
import { ALL_SCOPES, type Settings } from './types.js';

/** Each value a layer sets, as `[the variable or flag that gave it, the value]`. */
export interface OverrideLayer {
  listen?: [string, string];
  specs?: [string, string[]];
  managementListen?: [string, string];
  apiKeys?: [string, string[]];
  backplane?: [string, string];
  nodeId?: [string, string];
  logLevel?: [string, string];
  logFormat?: [string, string];
  grpcListen?: [string, string];
}

export function applyLayer(settings: Settings, layer: OverrideLayer, layerRank: number, origins: ListenerOrigins): void {
  if (layer.listen) {
    const [source, text] = layer.listen;
    settings.listen = parseHostPort(text, source, 'listen');
    origins.listen = { source, layer: layerRank };
  }
  if (layer.specs) {
    const [source, files] = layer.specs;
    // resolve('') is the working directory, which would then be "read" as a spec: refuse it here.
    for (const [index, file] of files.entries()) {
      if (file.trim() === '') throw new ConfigError(source.startsWith('--') ? `${source} #${index + 1}` : source, 'spec', 'must not be empty: give the gateway spec\'s file name');
    }
    // Relative to the working directory: that is where a flag or variable was written.
    settings.specs = files.map((file) => resolve(file));
  }
  if (layer.managementListen) {
    const [source, text] = layer.managementListen;
    settings.management.listen = parseHostPort(text, source, 'management.listen');
    origins['management.listen'] = { source, layer: layerRank };
  }
  if (layer.apiKeys) {
    const [source, keys] = layer.apiKeys;
    for (const [index, key] of keys.entries()) {
      // The key's position, 1-based as a person counts them: `--api-key #2`, `SWITCHBOARD_API_KEYS item 2`.
      checkApiKey(key, `${source} ${source.startsWith('--') ? '#' : 'item '}${index + 1}`, 'management.apiKeys');
      // A key named on the command line or in the environment gets every scope and no tenant,
      // replacing a file entry for the same key: the later layer wins, as for every setting.
      settings.management.apiKeys = settings.management.apiKeys.filter((existing) => existing.key !== key);
      settings.management.apiKeys.push({ key, scopes: [...ALL_SCOPES] });
    }
  }
  if (layer.backplane) {
    settings.backplane = checkBackplane(layer.backplane[1], layer.backplane[0], 'backplane');
    origins.backplane = { source: layer.backplane[0], layer: layerRank };
  }
  if (layer.nodeId) settings.nodeId = checkNodeId(layer.nodeId[1], layer.nodeId[0], 'nodeId');
  if (layer.logLevel) settings.log.level = checkLogLevel(layer.logLevel[1], layer.logLevel[0], 'log.level');
  if (layer.logFormat) settings.log.format = checkLogFormat(layer.logFormat[1], layer.logFormat[0], 'log.format');
  if (layer.grpcListen) {
    const [source, text] = layer.grpcListen;
    // The address is replaced; the file's other grpc settings (tls, limits) stay.
    settings.grpc = { ...GRPC_DEFAULTS, ...settings.grpc, listen: parseHostPort(text, source, 'grpc.listen') };
    origins['grpc.listen'] = { source, layer: layerRank };
  }
}
