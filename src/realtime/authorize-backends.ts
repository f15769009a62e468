/**
 * Topics' authorize backends (README, "Topic permissions"): asked with `{action, topic}` and
 * the connection's identity headers, answers cached per connection for `cacheSeconds`.
 */
import type { TopicAction, TopicAuthorizeSetting } from '../config/index.js';
import { BackendFailure, createBackend, type Backend, type BackendPools } from '../routing/index.js';
import { TopicForbidden, type TopicIdentity } from './topic-identity.js';

/** Backend answers cached per connection before the oldest are forgotten. */
const DECISIONS_PER_CONNECTION = 256;
/** An authorize answer's body is not read; a backend that sends megabytes is cut short. */
const AUTHORIZE_RESPONSE_BYTES = 65_536;

interface Decision {
  allowed: boolean;
  reason: string;
  until: number;
}

export class AuthorizeBackends {
  private readonly backends = new Map<TopicAuthorizeSetting, Backend>();
  /** By connection id, then by `action topic`. */
  private readonly decisions = new Map<string, Map<string, Decision>>();

  constructor(
    private readonly pools: BackendPools,
    /** Milliseconds, for cache expiry. */
    private readonly now: () => number,
  ) {}

  /** Resolves when the topic's backend allows the action (or allowed it within `cacheSeconds`); rejects with TopicForbidden. */
  async ask(identity: TopicIdentity, action: TopicAction, topic: string, setting: TopicAuthorizeSetting): Promise<void> {
    const key = `${action} ${topic}`;
    let cache = this.decisions.get(identity.connectionId);
    if (cache === undefined && setting.cacheSeconds > 0) this.decisions.set(identity.connectionId, (cache = new Map()));
    const cached = cache?.get(key);
    if (cached !== undefined && cached.until > this.now()) {
      if (cached.allowed) return;
      throw new TopicForbidden(cached.reason);
    }
    const status = await this.call(identity, action, topic, setting);
    const allowed = status >= 200 && status < 300;
    const reason = `authorize backend ${setting.url} answered ${status}: ${action} on topic "${topic}" denied`;
    // A connection that went while the backend thought has no cache to fill any more.
    if (cache !== undefined && this.decisions.get(identity.connectionId) === cache) {
      remember(cache, key, { allowed, reason, until: this.now() + setting.cacheSeconds * 1000 });
    }
    if (!allowed) throw new TopicForbidden(reason);
  }

  /** Drops the connection's cached answers. */
  forget(connectionId: string): void {
    this.decisions.delete(connectionId);
  }

  /** The backend's HTTP status; a backend that cannot answer denies, uncached. */
  private async call(identity: TopicIdentity, action: TopicAction, topic: string, setting: TopicAuthorizeSetting): Promise<number> {
    try {
      const response = await this.backendOf(setting).call({
        eventType: 'AUTHORIZE',
        headers: identity.backendHeaders?.() ?? {},
        body: Buffer.from(JSON.stringify({ action, topic })),
        contentType: 'application/json',
        pathParams: {},
        timeoutMs: setting.timeoutSeconds * 1000,
      });
      return response.status;
    } catch (err) {
      // Down, breaker open or too slow: denied, not cached, so the next try asks again.
      const why = err instanceof BackendFailure && err.status === 504 ? 'timed out' : 'unavailable';
      throw new TopicForbidden(`authorize backend ${setting.url} ${why}: ${action} on topic "${topic}" denied`);
    }
  }

  private backendOf(setting: TopicAuthorizeSetting): Backend {
    let backend = this.backends.get(setting);
    if (backend === undefined) {
      const ms = setting.timeoutSeconds * 1000;
      backend = createBackend({ type: 'http', url: setting.url, method: 'POST', headers: {}, timeouts: { connectMs: ms, readMs: ms } }, this.pools, AUTHORIZE_RESPONSE_BYTES);
      this.backends.set(setting, backend);
    }
    return backend;
  }
}

/** Caches one answer, forgetting the connection's oldest when its cache is full. */
function remember(cache: Map<string, Decision>, key: string, decision: Decision): void {
  if (cache.size >= DECISIONS_PER_CONNECTION) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(key, decision);
}
