/**
 * Which layer set each listener's address (and the backplane), and the check after all
 * layers that no two listeners share a port.
 */
import { ConfigError } from '../errors/index.js';
import { formatHostPort } from './host-port.js';
import type { HostPort, NamedSetting, Settings } from './types.js';

/**
 * Where each listener's address came from, for the clash check after all layers: the name
 * of the file, variable or flag, and how late its layer applied (0 = default).
 */
export interface ListenerOrigin {
  source: string;
  layer: number;
}
type ListenerPath = 'listen' | 'management.listen' | 'grpc.listen';
export type ListenerOrigins = Record<NamedSetting, ListenerOrigin>;

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

/** Two listeners clash when they share a port and one host covers the other. */
function listenersClash(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || WILDCARD_HOSTS.has(a.host) || WILDCARD_HOSTS.has(b.host);
}

/**
 * The management listener is never the client listener (DESIGN §2.2), nor the gRPC one.
 * A clash is reported against the address set last, which is the one that introduced it.
 */
export function checkListeners(settings: Settings, origins: ListenerOrigins): void {
  const listeners: [ListenerPath, HostPort][] = [
    ['listen', settings.listen],
    ['management.listen', settings.management.listen],
  ];
  if (settings.grpc) listeners.push(['grpc.listen', settings.grpc.listen]);
  for (let i = 0; i < listeners.length; i++) {
    for (let j = 0; j < i; j++) {
      const [firstPath, first] = listeners[j]!;
      const [secondPath, second] = listeners[i]!;
      if (!listenersClash(first, second)) continue;
      const blameFirst = origins[firstPath].layer > origins[secondPath].layer;
      const [blamedPath, blamed, otherPath, other] = blameFirst
        ? [firstPath, first, secondPath, second]
        : [secondPath, second, firstPath, first];
      throw new ConfigError(
        origins[blamedPath].source,
        blamedPath,
        `must not share a port with ${otherPath} (${formatHostPort(blamed)} and ${formatHostPort(other)})`,
      );
    }
  }
}

