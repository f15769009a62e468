/** The environment layer: the SWITCHBOARD_* variables that override the settings file. */
import type { OverrideLayer } from './override-layer.js';
import type { Environment } from './variables.js';
import { closeKey } from './yaml-fields.js';

/** Every SWITCHBOARD_* variable switchboard reads: start's, and the operator commands' own two. */
const KNOWN_VARIABLES: readonly string[] = [
  'SWITCHBOARD_CONFIG',
  'SWITCHBOARD_SPEC',
  'SWITCHBOARD_LISTEN',
  'SWITCHBOARD_MANAGEMENT_LISTEN',
  'SWITCHBOARD_API_KEYS',
  'SWITCHBOARD_BACKPLANE',
  'SWITCHBOARD_NODE_ID',
  'SWITCHBOARD_LOG_LEVEL',
  'SWITCHBOARD_LOG_FORMAT',
  'SWITCHBOARD_GRPC_LISTEN',
  'SWITCHBOARD_ENDPOINT',
  'SWITCHBOARD_API_KEY',
];

/**
 * A SWITCHBOARD_* variable nothing reads is most likely a misspelt one (SWITCHBOARD_LISTN),
 * whose setting silently keeps its default: one problem per such variable, for a warning.
 */
export function unknownVariables(env: Environment): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('SWITCHBOARD_') && !KNOWN_VARIABLES.includes(name))
    .map((name) => {
      const close = closeKey(name, KNOWN_VARIABLES);
      return `${name} is not a variable switchboard reads${close === undefined ? '' : ` (did you mean ${close}?)`}; it is ignored`;
    });
}

function commaList(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

/** An empty variable counts as unset, so `SWITCHBOARD_BACKPLANE=` in a compose file is harmless. */
export function environmentLayer(env: Environment): OverrideLayer {
  const layer: OverrideLayer = {};
  const read = (name: string): [string, string] | undefined => {
    const value = env[name]?.trim();
    return value ? [name, value] : undefined;
  };
  const listen = read('SWITCHBOARD_LISTEN');
  if (listen) layer.listen = listen;
  const spec = read('SWITCHBOARD_SPEC');
  if (spec) layer.specs = [spec[0], commaList(spec[1])];
  const managementListen = read('SWITCHBOARD_MANAGEMENT_LISTEN');
  if (managementListen) layer.managementListen = managementListen;
  const apiKeys = read('SWITCHBOARD_API_KEYS');
  if (apiKeys) layer.apiKeys = [apiKeys[0], commaList(apiKeys[1])];
  const backplane = read('SWITCHBOARD_BACKPLANE');
  if (backplane) layer.backplane = backplane;
  const nodeId = read('SWITCHBOARD_NODE_ID');
  if (nodeId) layer.nodeId = nodeId;
  const logLevel = read('SWITCHBOARD_LOG_LEVEL');
  if (logLevel) layer.logLevel = logLevel;
  const logFormat = read('SWITCHBOARD_LOG_FORMAT');
  if (logFormat) layer.logFormat = logFormat;
  const grpcListen = read('SWITCHBOARD_GRPC_LISTEN');
  if (grpcListen) layer.grpcListen = grpcListen;
  return layer;
}
