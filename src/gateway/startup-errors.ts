/**
 * Start-up failures in the operator's words: which setting (as they gave it: a flag, a
 * variable or a file's key), what went wrong, and how to change it. Node's own errors
 * (`listen EADDRINUSE: address already in use 0.0.0.0:8080`) name neither the listener nor the fix.
 */
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:net';
import { formatHostPort, SETTING_NAMES, type HostPort, type NamedSetting, type SettingSources } from '../config/index.js';
import { StartupError } from '../errors/index.js';

/** `--listen 0.0.0.0:8080`, `SWITCHBOARD_LISTEN=0.0.0.0:8080`, `switchboard.yaml: listen 0.0.0.0:8080`, or `listen 0.0.0.0:8080 (the default)`. */
export function settingLabel(setting: NamedSetting, value: string, sources: SettingSources | undefined): string {
  const source = sources?.[setting];
  switch (source?.kind) {
    case 'flag':
      return `${source.name} ${value}`;
    case 'env':
      return `${source.name}=${value}`;
    case 'file':
      return `${source.name}: ${SETTING_NAMES[setting].key} ${value}`;
    case 'default':
      return `${SETTING_NAMES[setting].key} ${value} (the default)`;
    default:
      return `${SETTING_NAMES[setting].key} ${value}`;
  }
}

/** `--listen or SWITCHBOARD_LISTEN`, plus the file's key when the value came from a file. */
export function settingHow(setting: NamedSetting, sources: SettingSources | undefined): string {
  const names = SETTING_NAMES[setting];
  const source = sources?.[setting];
  const file = source?.kind === 'file' ? `, or the key ${names.key} in ${source.name}` : '';
  return `${names.flag} or ${names.env}${file}`;
}

/** What a failed bind means, by its errno code, and what to do about it. */
function listenProblem(code: string | undefined, how: string): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `address already in use: another process listens there; choose another port with ${how}`;
    case 'EACCES':
      return `permission denied: ports below 1024 need privileges; choose a port above 1023 with ${how}`;
    case 'EADDRNOTAVAIL':
      return `not an address of this machine; use one of its addresses (0.0.0.0 for all, 127.0.0.1 for this machine only) with ${how}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found; use an address of this machine (0.0.0.0 for all, 127.0.0.1 for this machine only) with ${how}`;
    default:
      return undefined;
  }
}

/** Binds a throwaway server where a listener failed, to learn the errno that libraries (gRPC) hide in prose. */
function probeListen(address: HostPort): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    probe.listen(address.port, address.host, () => probe.close(() => resolve(undefined)));
  });
}

/** The StartupError for a listener that could not bind; other errors pass through unchanged. */
export async function listenFailure(setting: NamedSetting, address: HostPort, err: unknown, sources: SettingSources | undefined): Promise<unknown> {
  let code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('E')) code = address.port === 0 ? undefined : await probeListen(address);
  const problem = listenProblem(code, settingHow(setting, sources));
  return problem === undefined ? err : new StartupError(`${settingLabel(setting, formatHostPort(address), sources)}: ${problem}`);
}

/** A listener open to the network with nothing to check callers against: refused, naming the listener and both ways out. */
export function unprotectedListener(setting: NamedSetting, address: HostPort, sources: SettingSources | undefined): StartupError {
  return new StartupError(
    `${settingLabel(setting, formatHostPort(address), sources)} is not a loopback address and no API key is configured: ` +
      `add --api-key (or SWITCHBOARD_API_KEYS, or management.apiKeys in the config file), or listen on 127.0.0.1 with ${settingHow(setting, sources)}`,
  );
}

/** `redis://:secret@host:6379` → `redis://***@host:6379`: a message may be pasted into a ticket. */
export function withoutCredentials(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//***@');
}

/**
 * Why the backplane could not be reached at start: a host that does not resolve is named; else
 * nothing answered there in time. The backplane's own error is vaguer and may carry the URL's password.
 */
export async function backplaneFailure(url: string, sources: SettingSources | undefined): Promise<StartupError> {
  const label = settingLabel('backplane', withoutCredentials(url), sources);
  const how = settingHow('backplane', sources);
  for (const server of url.split(',')) {
    const host = URL.canParse(server) ? new URL(server).hostname.replace(/^\[|\]$/g, '') : undefined;
    if (host === undefined || host === '') continue;
    try {
      await lookup(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
        return new StartupError(`${label}: host not found: ${host} does not resolve; check the host in ${how}`);
      }
    }
  }
  const kind = url.startsWith('nats://') ? 'NATS' : 'Redis';
  return new StartupError(`${label}: not reachable: no ${kind} server answered there; start it, or point ${how} at a running one`);
}
