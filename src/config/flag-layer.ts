/** The flag layer: the command-line flags that override the environment and the settings file. */
import type { OverrideLayer } from './override-layer.js';

/** Command-line flags, as the CLI parsed them; each is optional. */
export interface SettingsFlags {
  listen?: string;
  spec?: string[];
  managementListen?: string;
  apiKey?: string[];
  backplane?: string;
  nodeId?: string;
  logLevel?: string;
  logFormat?: string;
  grpcListen?: string;
}

export function flagLayer(flags: SettingsFlags): OverrideLayer {
  const layer: OverrideLayer = {};
  if (flags.listen !== undefined) layer.listen = ['--listen', flags.listen];
  if (flags.spec !== undefined && flags.spec.length > 0) layer.specs = ['--spec', flags.spec];
  if (flags.managementListen !== undefined) layer.managementListen = ['--management-listen', flags.managementListen];
  if (flags.apiKey !== undefined && flags.apiKey.length > 0) layer.apiKeys = ['--api-key', flags.apiKey];
  if (flags.backplane !== undefined) layer.backplane = ['--backplane', flags.backplane];
  if (flags.nodeId !== undefined) layer.nodeId = ['--node-id', flags.nodeId];
  if (flags.logLevel !== undefined) layer.logLevel = ['--log-level', flags.logLevel];
  if (flags.logFormat !== undefined) layer.logFormat = ['--log-format', flags.logFormat];
  if (flags.grpcListen !== undefined) layer.grpcListen = ['--grpc-listen', flags.grpcListen];
  return layer;
}
