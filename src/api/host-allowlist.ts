import { PermissionDenied } from '../errors/index.js';

/** The names a loopback client uses; a rebinding page's Host is its own name, never one of these. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * DNS rebinding defence for a listener without API keys: a page on `rebind.attacker.example`,
 * re-resolved to 127.0.0.1, reaches the loopback listener from the victim's browser, but its
 * requests still carry `Host: rebind.attacker.example`. Only loopback names and the operator's
 * `management.allowedHosts` are answered.
 */
export class HostAllowList {
  private readonly hosts: ReadonlySet<string>;

  constructor(allowedHosts: readonly string[]) {
    this.hosts = new Set([...LOOPBACK_HOSTS, ...allowedHosts.map((host) => host.toLowerCase())]);
  }

  /** Throws PermissionDenied naming the host and the setting unless `host` (a Host header or `:authority`) is allowed. */
  check(host: string | undefined): void {
    if (host !== undefined && this.hosts.has(hostNameOf(host))) return;
    const shown = host === undefined ? 'no Host header' : `Host ${JSON.stringify(host.length > 100 ? `${host.slice(0, 97)}...` : host)}`;
    throw new PermissionDenied(
      `${shown} is not allowed on this listener without API keys (DNS rebinding defence): use localhost, 127.0.0.1 or [::1], add the name to management.allowedHosts, or configure API keys`,
    );
  }
}

/** `Example.com:8081` → `example.com`, `[::1]:8081` → `[::1]`; anything odd is returned whole (and matches nothing). */
function hostNameOf(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    if (end < 0) return lower;
    const rest = lower.slice(end + 1);
    return rest === '' || /^:\d{1,5}$/.test(rest) ? lower.slice(0, end + 1) : lower;
  }
  const colon = lower.indexOf(':');
  if (colon < 0) return lower;
  return /^\d{1,5}$/.test(lower.slice(colon + 1)) ? lower.slice(0, colon) : lower;
}

/** Whether the listener needs the check: no key to stop a rebinding page, or the operator listed names. */
export function hostAllowListFor(apiKeyCount: number, allowedHosts: readonly string[]): HostAllowList | undefined {
  return apiKeyCount === 0 || allowedHosts.length > 0 ? new HostAllowList(allowedHosts) : undefined;
}
