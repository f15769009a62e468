/**
 * Per-topic permissions of realtime clients (README, "Topic permissions"): for each action a
 * `topics[]` entry says who may do it — any connection of the tenant, nobody from a client,
 * whoever the token's topics claim grants, or whoever the topic's authorize backend allows.
 * Checked once per subscribe or client call, never per delivered publication; the management
 * API, being the server, never asks here.
 */
import {
  compileGlob,
  globMatches,
  topicSettingsFor,
  TOPICS_CLAIM_DEFAULT,
  type CompiledGlob,
  type TopicAction,
  type TopicAuthorizeSetting,
  type TopicSettings,
} from '../config/index.js';
import { topicBelongsTo } from '../connections/index.js';
import { PermissionDenied } from '../errors/index.js';
import { BackendFailure, createBackend, type Backend, type BackendPools } from '../routing/index.js';

export type { TopicAction };

/** Who asks: a realtime connection, as its record and token describe it. */
export interface TopicIdentity {
  readonly connectionId: string;
  readonly tenantId?: string | undefined;
  readonly userId?: string | undefined;
  /** The verified token's claims set; absent on paths without auth.jwt. */
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
  /** The identity headers every backend call carries; built only when an authorize backend is asked. */
  backendHeaders?(): Record<string, string>;
}

/** A client action the rules refuse: the `error` envelope's code is `FORBIDDEN`. */
export class TopicForbidden extends PermissionDenied {}

export interface TopicPermissions {
  /** Resolves when `identity` may do `action` on the (tenant-scoped) topic; rejects with `TopicForbidden` naming why not. */
  check(identity: TopicIdentity, action: TopicAction, topic: string): Promise<void>;
  /**
   * The same decision, synchronous unless a backend must be asked: returns undefined (allowed),
   * throws `TopicForbidden`, or returns the backend's pending answer. A caller that keeps a
   * connection's requests in order uses this, so rules decided locally cost no turn.
   */
  decide(identity: TopicIdentity, action: TopicAction, topic: string): Promise<void> | undefined;
  /** Drops the connection's cached backend answers. */
  connectionGone(connectionId: string): void;
}

export interface TopicPermissionsOptions {
  topics: readonly TopicSettings[];
  /** The JWT claim listing the topic patterns a token grants. */
  topicsClaim?: string;
  /** For authorize backends: the node's pools and circuit breakers. */
  pools: BackendPools;
  /** Milliseconds, for cache expiry. */
  now: () => number;
}

/** Backend answers cached per connection before the oldest are forgotten. */
const DECISIONS_PER_CONNECTION = 256;
/** An authorize answer's body is not read; a backend that sends megabytes is cut short. */
const AUTHORIZE_RESPONSE_BYTES = 65_536;

interface Decision {
  allowed: boolean;
  reason: string;
  until: number;
}

export function createTopicPermissions(options: TopicPermissionsOptions): TopicPermissions {
  const { topics, pools, now } = options;
  const topicsClaim = options.topicsClaim ?? TOPICS_CLAIM_DEFAULT;
  // Without rules or bound patterns, the tenant check alone is today's behaviour.
  const hasRules = topics.some((settings) => settings.permissions !== undefined || isBound(settings.pattern));
  const backends = new Map<TopicAuthorizeSetting, Backend>();
  const decisions = new Map<string, Map<string, Decision>>();
  /** Token grants compiled once per claims set (a connection's token, until it refreshes). */
  const grants = new WeakMap<object, CompiledGlob[]>();

  const grantsOf = (identity: TopicIdentity): CompiledGlob[] | undefined => {
    const claims = identity.claims;
    if (claims === undefined) return undefined;
    let compiled = grants.get(claims);
    if (compiled === undefined) {
      const listed = claims[topicsClaim];
      compiled = Array.isArray(listed)
        ? listed.filter((entry): entry is string => typeof entry === 'string' && entry !== '').map((pattern) => compileGlob(scopePattern(pattern, identity.tenantId), identity))
        : [];
      grants.set(claims, compiled);
    }
    return compiled;
  };

  const backendOf = (setting: TopicAuthorizeSetting): Backend => {
    let backend = backends.get(setting);
    if (backend === undefined) {
      const ms = setting.timeoutSeconds * 1000;
      backend = createBackend({ type: 'http', url: setting.url, method: 'POST', headers: {}, timeouts: { connectMs: ms, readMs: ms } }, pools, AUTHORIZE_RESPONSE_BYTES);
      backends.set(setting, backend);
    }
    return backend;
  };

  const askBackend = async (identity: TopicIdentity, action: TopicAction, topic: string, setting: TopicAuthorizeSetting): Promise<void> => {
    const key = `${action} ${topic}`;
    let cache = decisions.get(identity.connectionId);
    if (cache === undefined && setting.cacheSeconds > 0) decisions.set(identity.connectionId, (cache = new Map()));
    const cached = cache?.get(key);
    if (cached !== undefined && cached.until > now()) {
      if (cached.allowed) return;
      throw new TopicForbidden(cached.reason);
    }
    let status: number;
    try {
      const response = await backendOf(setting).call({
        eventType: 'AUTHORIZE',
        headers: identity.backendHeaders?.() ?? {},
        body: Buffer.from(JSON.stringify({ action, topic })),
        contentType: 'application/json',
        pathParams: {},
        timeoutMs: setting.timeoutSeconds * 1000,
      });
      status = response.status;
    } catch (err) {
      // Down, breaker open or too slow: denied, not cached, so the next try asks again.
      const why = err instanceof BackendFailure && err.status === 504 ? 'timed out' : 'unavailable';
      throw new TopicForbidden(`authorize backend ${setting.url} ${why}: ${action} on topic "${topic}" denied`);
    }
    const allowed = status >= 200 && status < 300;
    const reason = `authorize backend ${setting.url} answered ${status}: ${action} on topic "${topic}" denied`;
    // A connection that went while the backend thought has no cache to fill any more.
    if (cache !== undefined && decisions.get(identity.connectionId) === cache) {
      if (cache.size >= DECISIONS_PER_CONNECTION) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(key, { allowed, reason, until: now() + setting.cacheSeconds * 1000 });
    }
    if (!allowed) throw new TopicForbidden(reason);
  };

  const decide = (identity: TopicIdentity, action: TopicAction, topic: string): Promise<void> | undefined => {
    if (!topicBelongsTo(topic, identity.tenantId)) throw new TopicForbidden(`topic "${topic}" belongs to another tenant`);
    if (!hasRules) return undefined;
    const settings = topicSettingsFor(topics, topic);
    if (settings === undefined) return undefined;
    if (isBound(settings.pattern) && !globMatches(compileGlob(settings.pattern, identity), topic)) {
      throw new TopicForbidden(`topic "${topic}" belongs to another user (pattern "${settings.pattern}")`);
    }
    const access = settings.permissions?.[action] ?? 'tenant';
    switch (access) {
      case 'tenant':
        return undefined;
      case 'none':
        throw new TopicForbidden(`clients may not ${action} topic "${topic}": only the server may (management API)`);
      case 'token': {
        const granted = grantsOf(identity);
        if (granted === undefined) throw new TopicForbidden(`${action} on topic "${topic}" needs a token that grants it`);
        if (!granted.some((glob) => globMatches(glob, topic))) {
          throw new TopicForbidden(`token does not grant ${action} on topic "${topic}" (claim "${topicsClaim}")`);
        }
        return undefined;
      }
      case 'backend':
        // Settings validation makes `authorize` present whenever a rule says backend.
        return askBackend(identity, action, topic, settings.authorize!);
    }
  };

  return {
    decide,
    async check(identity, action, topic): Promise<void> {
      await decide(identity, action, topic);
    },
    connectionGone(connectionId: string): void {
      decisions.delete(connectionId);
    },
  };
}

function isBound(pattern: string): boolean {
  return pattern.includes('{tenantId}') || pattern.includes('{userId}');
}

/** A granted pattern without a tenant part is the connection's tenant's: `room.*` → `acme:room.*`. */
function scopePattern(pattern: string, tenantId: string | undefined): string {
  return tenantId === undefined || pattern.includes(':') ? pattern : `${tenantId}:${pattern}`;
}
