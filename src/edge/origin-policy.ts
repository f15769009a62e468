import type { EdgeSettings } from '../config/index.js';
import type { Route } from '../routing/index.js';

/**
 * One allow-list, compiled once: exact origins in a Set, `https://*.example.com` patterns as a
 * scheme and a suffix. Entries arrive normalised by the config (lower case, default port dropped).
 */
class OriginList {
  private readonly any: boolean;
  private readonly exact = new Set<string>();
  private readonly wildcards: { prefix: string; suffix: string }[] = [];

  constructor(patterns: readonly string[]) {
    this.any = patterns.includes('*');
    for (const pattern of patterns) {
      const star = pattern.indexOf('://*.');
      if (star < 0) this.exact.add(pattern);
      else this.wildcards.push({ prefix: pattern.slice(0, star + 3), suffix: pattern.slice(star + 4) });
    }
  }

  allows(origin: string): boolean {
    if (this.any) return true;
    const lower = origin.toLowerCase();
    if (this.exact.has(lower)) return true;
    for (const { prefix, suffix } of this.wildcards) {
      if (!lower.startsWith(prefix) || !lower.endsWith(suffix)) continue;
      // What the `*` stands for: one or more whole labels, nothing that could smuggle a port or a path.
      const labels = lower.slice(prefix.length, lower.length - suffix.length);
      if (SUBDOMAIN_LABELS.test(labels)) return true;
    }
    return false;
  }
}

const SUBDOMAIN_LABELS = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/;

/**
 * Which browser origins may open a WebSocket on a path (cross-site WebSocket hijacking is a
 * page on another site opening a socket with the user's cookies): the path's own
 * `x-switchboard-allowed-origins` or else `edge.allowedOrigins`. No global list allows any
 * origin; a path's empty list allows none (only clients that send no Origin). A handshake without Origin comes from a non-browser client and passes unless
 * `edge.requireOrigin` is set.
 */
export class OriginPolicy {
  private readonly global: OriginList | undefined;
  private readonly perRoute = new WeakMap<Route, OriginList | undefined>();
  private readonly requireOrigin: boolean;

  constructor(settings: EdgeSettings | undefined) {
    this.global = settings && settings.allowedOrigins.length > 0 ? new OriginList(settings.allowedOrigins) : undefined;
    this.requireOrigin = settings?.requireOrigin ?? false;
  }

  /** undefined when the handshake may go on; else why it is refused. */
  refusal(origin: string | undefined, route: Route): string | undefined {
    if (origin === undefined) return this.requireOrigin ? 'an Origin header is required' : undefined;
    const list = this.listOf(route);
    if (list === undefined || list.allows(origin)) return undefined;
    return `origin ${JSON.stringify(origin.slice(0, 100))} is not allowed on this path`;
  }

  private listOf(route: Route): OriginList | undefined {
    const own = route.spec.allowedOrigins;
    if (own === undefined) return this.global;
    if (!this.perRoute.has(route)) this.perRoute.set(route, new OriginList(own));
    return this.perRoute.get(route);
  }
}
