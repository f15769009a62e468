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
  type TopicSettings,
} from '../config/index.js';
import { topicBelongsTo } from '../connections/index.js';
import type { BackendPools } from '../routing/index.js';
import { AuthorizeBackends } from './authorize-backends.js';
import { TopicForbidden, type TopicIdentity } from './topic-identity.js';

export type { TopicAction };

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

export function createTopicPermissions(options: TopicPermissionsOptions): TopicPermissions {
  return new TopicRules(options);
}

/** The `topics[]` rules, decided per request: the tenant check, bound patterns, then the action's access. */
class TopicRules implements TopicPermissions {
  private readonly topics: readonly TopicSettings[];
  private readonly topicsClaim: string;
  /** Without rules or bound patterns, the tenant check alone is today's behaviour. */
  private readonly hasRules: boolean;
  private readonly authorizeBackends: AuthorizeBackends;
  /** Token grants compiled once per claims set (a connection's token, until it refreshes). */
  private readonly grants = new WeakMap<object, CompiledGlob[]>();

  constructor(options: TopicPermissionsOptions) {
    this.topics = options.topics;
    this.topicsClaim = options.topicsClaim ?? TOPICS_CLAIM_DEFAULT;
    this.hasRules = options.topics.some((settings) => settings.permissions !== undefined || isBound(settings.pattern));
    this.authorizeBackends = new AuthorizeBackends(options.pools, options.now);
  }

  async check(identity: TopicIdentity, action: TopicAction, topic: string): Promise<void> {
    await this.decide(identity, action, topic);
  }

  decide(identity: TopicIdentity, action: TopicAction, topic: string): Promise<void> | undefined {
    if (!topicBelongsTo(topic, identity.tenantId)) throw new TopicForbidden(`topic "${topic}" belongs to another tenant`);
    if (!this.hasRules) return undefined;
    const settings = topicSettingsFor(this.topics, topic);
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
      case 'token':
        this.checkGrant(identity, action, topic);
        return undefined;
      case 'backend':
        // Settings validation makes `authorize` present whenever a rule says backend.
        return this.authorizeBackends.ask(identity, action, topic, settings.authorize!);
    }
  }

  connectionGone(connectionId: string): void {
    this.authorizeBackends.forget(connectionId);
  }

  /** A `token` rule: the token's topics claim must grant a pattern matching the topic. */
  private checkGrant(identity: TopicIdentity, action: TopicAction, topic: string): void {
    const granted = this.grantsOf(identity);
    if (granted === undefined) throw new TopicForbidden(`${action} on topic "${topic}" needs a token that grants it`);
    if (!granted.some((glob) => globMatches(glob, topic))) {
      throw new TopicForbidden(`token does not grant ${action} on topic "${topic}" (claim "${this.topicsClaim}")`);
    }
  }

  private grantsOf(identity: TopicIdentity): CompiledGlob[] | undefined {
    const claims = identity.claims;
    if (claims === undefined) return undefined;
    let compiled = this.grants.get(claims);
    if (compiled === undefined) {
      const listed = claims[this.topicsClaim];
      compiled = Array.isArray(listed)
        ? listed.filter((entry): entry is string => typeof entry === 'string' && entry !== '').map((pattern) => compileGlob(scopePattern(pattern, identity.tenantId), identity))
        : [];
      this.grants.set(claims, compiled);
    }
    return compiled;
  }
}

function isBound(pattern: string): boolean {
  return pattern.includes('{tenantId}') || pattern.includes('{userId}');
}

/** A granted pattern without a tenant part is the connection's tenant's: `room.*` → `acme:room.*`. */
function scopePattern(pattern: string, tenantId: string | undefined): string {
  return tenantId === undefined || pattern.includes(':') ? pattern : `${tenantId}:${pattern}`;
}
