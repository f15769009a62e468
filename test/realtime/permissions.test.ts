import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TOPIC_ACTIONS, type TopicAccess, type TopicAction, type TopicSettings } from '../../src/config/index.js';
import { createTopicPermissions, TopicForbidden, type TopicIdentity, type TopicPermissions } from '../../src/realtime/index.js';
import { BackendPools } from '../../src/routing/index.js';
import { startBackend } from '../support/harness.js';
import { suiteBackend, useBackend } from '../support/scoped.js';

function entry(pattern: string, permissions?: Partial<Record<TopicAction, TopicAccess>>, authorizeUrl?: string, cacheSeconds = 60): TopicSettings {
  const settings: TopicSettings = { pattern, historySize: 0, historyTtlSeconds: 300, presence: false, joinLeave: false };
  if (permissions !== undefined) {
    settings.permissions = { subscribe: 'tenant', publish: 'tenant', presence: 'tenant', history: 'tenant', ...permissions };
  }
  if (authorizeUrl !== undefined) settings.authorize = { url: authorizeUrl, timeoutSeconds: 1, cacheSeconds };
  return settings;
}

function identity(tenantId: string, userId: string, grants?: unknown, connectionId = `c-${tenantId}-${userId}`): TopicIdentity {
  return {
    connectionId,
    tenantId,
    userId,
    claims: grants === undefined ? { tid: tenantId, sub: userId } : { tid: tenantId, sub: userId, topics: grants },
    backendHeaders: () => ({ 'x-switchboard-tenant-id': tenantId, 'x-switchboard-user-id': userId, 'x-yc-apigateway-websocket-connection-id': connectionId }),
  };
}

/** The denial's message, or 'allowed'. */
async function outcome(permissions: TopicPermissions, who: TopicIdentity, action: TopicAction, topic: string): Promise<string> {
  try {
    await permissions.check(who, action, topic);
    return 'allowed';
  } catch (err) {
    expect(err).toBeInstanceOf(TopicForbidden);
    return (err as Error).message;
  }
}

/** Permissions over a pool of their own, closed when the test finishes. */
function engine(topics: TopicSettings[], now: () => number = () => Date.now()): TopicPermissions {
  const pool = new BackendPools({ circuitBreaker: { failureThreshold: 0, cooldownSeconds: 1 } });
  onTestFinished(() => pool.close());
  return createTopicPermissions({ topics, pools: pool, now });
}

describe('topic permissions, each mode for each action', () => {
  it('without rules any connection of the tenant may do anything on its tenant\'s topics, nothing on another tenant\'s', async () => {
    const permissions = engine([entry('*:chat.*')]);
    for (const action of TOPIC_ACTIONS) {
      expect(await outcome(permissions, identity('acme', 'alice'), action, 'acme:chat.lobby')).toBe('allowed');
      expect(await outcome(permissions, identity('acme', 'alice'), action, 'globex:chat.lobby')).toBe('topic "globex:chat.lobby" belongs to another tenant');
    }
  });

  it('none refuses every client, naming the management API', async () => {
    const permissions = engine([entry('*:ticker', { subscribe: 'tenant', publish: 'none', presence: 'none', history: 'none' })]);
    expect(await outcome(permissions, identity('acme', 'alice'), 'subscribe', 'acme:ticker')).toBe('allowed');
    for (const action of ['publish', 'presence', 'history'] as const) {
      expect(await outcome(permissions, identity('acme', 'alice'), action, 'acme:ticker')).toBe(
        `clients may not ${action} topic "acme:ticker": only the server may (management API)`,
      );
    }
  });

  it('token allows exactly the topics the token\'s claim lists, globs and tenant-less patterns included', async () => {
    const rules = { subscribe: 'token', publish: 'token', presence: 'token', history: 'token' } as const;
    const permissions = engine([entry('*:room.*', rules), entry('*:doc.*', rules)]);
    const alice = identity('acme', 'alice', ['acme:room.42', 'acme:doc.*', 'room.7']);
    for (const action of TOPIC_ACTIONS) {
      expect(await outcome(permissions, alice, action, 'acme:room.42')).toBe('allowed');
      expect(await outcome(permissions, alice, action, 'acme:room.7')).toBe('allowed');
      expect(await outcome(permissions, alice, action, 'acme:doc.readme')).toBe('allowed');
      expect(await outcome(permissions, alice, action, 'acme:room.43')).toBe(`token does not grant ${action} on topic "acme:room.43" (claim "topics")`);
    }
    expect(await outcome(permissions, identity('acme', 'bob'), 'subscribe', 'acme:room.42')).toBe('token does not grant subscribe on topic "acme:room.42" (claim "topics")');
    expect(await outcome(permissions, identity('acme', 'bob', 'acme:room.42'), 'subscribe', 'acme:room.42')).toMatch(/^token does not grant/);
    const unauthenticated: TopicIdentity = { connectionId: 'c', tenantId: 'acme', userId: 'x' };
    expect(await outcome(permissions, unauthenticated, 'subscribe', 'acme:room.42')).toBe('subscribe on topic "acme:room.42" needs a token that grants it');
  });

  it('a token grant never reaches another tenant, even with a wildcard', async () => {
    const permissions = engine([entry('*', { subscribe: 'token' })]);
    const alice = identity('acme', 'alice', ['*']);
    expect(await outcome(permissions, alice, 'subscribe', 'acme:anything')).toBe('allowed');
    expect(await outcome(permissions, alice, 'subscribe', 'globex:anything')).toBe('topic "globex:anything" belongs to another tenant');
  });

  it('a pattern bound to {tenantId} and {userId} is only its owner\'s, whatever the user id holds', async () => {
    const permissions = engine([entry('{tenantId}:user.{userId}', { publish: 'none' })]);
    expect(await outcome(permissions, identity('acme', 'alice'), 'subscribe', 'acme:user.alice')).toBe('allowed');
    expect(await outcome(permissions, identity('acme', 'alice'), 'publish', 'acme:user.alice')).toMatch(/^clients may not publish/);
    expect(await outcome(permissions, identity('acme', 'bob'), 'subscribe', 'acme:user.alice')).toBe(
      'topic "acme:user.alice" belongs to another user (pattern "{tenantId}:user.{userId}")',
    );
    // A '*' in a user id is a character, not a wildcard.
    expect(await outcome(permissions, identity('acme', '*'), 'subscribe', 'acme:user.alice')).toMatch(/belongs to another user/);
    expect(await outcome(permissions, identity('acme', '*'), 'subscribe', 'acme:user.*')).toBe('allowed');
  });
});

describe('topic permissions asking a real backend', () => {
  const backend = suiteBackend();

  it('2xx allows and anything else denies; the call carries the identity headers and {action, topic}', async () => {
    backend.setHandler((request, res) => {
      const { topic } = JSON.parse(request.body.toString()) as { topic: string };
      res.statusCode = topic.endsWith('.open') ? 204 : 403;
      res.end();
    });
    const url = `${backend.url}/authorize`;
    const permissions = engine([entry('*:doc.*', { subscribe: 'backend', publish: 'backend', presence: 'backend', history: 'backend' }, url)]);
    for (const action of TOPIC_ACTIONS) {
      expect(await outcome(permissions, identity('acme', 'alice'), action, 'acme:doc.open')).toBe('allowed');
      expect(await outcome(permissions, identity('acme', 'alice'), action, 'acme:doc.secret')).toBe(
        `authorize backend ${url} answered 403: ${action} on topic "acme:doc.secret" denied`,
      );
    }
    const asked = await backend.waitFor((r) => r.body.toString().includes('"history"') && r.body.toString().includes('doc.open'));
    expect(asked.method).toBe('POST');
    expect(asked.url).toBe('/authorize');
    expect(asked.headers['content-type']).toBe('application/json');
    expect(asked.headers['x-switchboard-user-id']).toBe('alice');
    expect(asked.headers['x-switchboard-tenant-id']).toBe('acme');
    expect(JSON.parse(asked.body.toString())).toEqual({ action: 'history', topic: 'acme:doc.open' });
  });

  it('caches answers per connection, topic and action for cacheSeconds; a connection that goes loses its cache', async () => {
    backend.requests.length = 0;
    backend.setHandler((_request, res) => void res.end());
    let clock = 1_000_000;
    const permissions = engine([entry('*:doc.*', { subscribe: 'backend', history: 'backend' }, backend.url, 10)], () => clock);
    const alice = identity('acme', 'alice');
    for (let i = 0; i < 5; i++) await permissions.check(alice, 'subscribe', 'acme:doc.a');
    expect(backend.requests).toHaveLength(1);
    await permissions.check(alice, 'history', 'acme:doc.a');
    await permissions.check(identity('acme', 'bob'), 'subscribe', 'acme:doc.a');
    expect(backend.requests).toHaveLength(3);
    clock += 10_001;
    await permissions.check(alice, 'subscribe', 'acme:doc.a');
    expect(backend.requests).toHaveLength(4);
    permissions.connectionGone(alice.connectionId);
    await permissions.check(alice, 'subscribe', 'acme:doc.a');
    expect(backend.requests).toHaveLength(5);
  });

  it('a backend that is down or too slow denies, saying so, and is asked again next time', async () => {
    const down = await startBackend();
    const downUrl = down.url;
    await down.close();
    const permissions = engine([entry('*:doc.*', { subscribe: 'backend' }, downUrl)]);
    expect(await outcome(permissions, identity('acme', 'alice'), 'subscribe', 'acme:doc.a')).toBe(
      `authorize backend ${downUrl} unavailable: subscribe on topic "acme:doc.a" denied`,
    );

    const slow = await useBackend((_request, res) => void setTimeout(() => res.end(), 1500));
    const slowPermissions = engine([entry('*:doc.*', { subscribe: 'backend' }, slow.url)]);
    expect(await outcome(slowPermissions, identity('acme', 'alice'), 'subscribe', 'acme:doc.a')).toBe(
      `authorize backend ${slow.url} timed out: subscribe on topic "acme:doc.a" denied`,
    );
    slow.setHandler((_request, res) => void res.end());
    expect(await outcome(slowPermissions, identity('acme', 'alice'), 'subscribe', 'acme:doc.a')).toBe('allowed');
  });
});

describe('topic permissions as a property', () => {
  const TENANTS = ['acme', 'globex'] as const;
  const USERS = ['alice', 'bob', '*'] as const;
  const ACCESS = ['tenant', 'none', 'token'] as const;
  const NAMES = ['room.1', 'room.2', 'doc.a', 'user.alice', 'user.bob', 'user.*', 'misc'] as const;
  const TOPICS = TENANTS.flatMap((t) => NAMES.map((n) => `${t}:${n}`));
  const GRANTS = ['room.1', 'acme:room.*', 'globex:doc.a', '*', 'user.{userId}', 'acme:user.alice'] as const;
  const rules = fc.record({ subscribe: fc.constantFrom(...ACCESS), publish: fc.constantFrom(...ACCESS), presence: fc.constantFrom(...ACCESS), history: fc.constantFrom(...ACCESS) });

  /** The rules, read the obvious way: the reference the engine must agree with. */
  function expected(entries: { pattern: string; rules: Record<TopicAction, TopicAccess> | undefined }[], who: { tenant: string; user: string; grants: string[] | undefined }, action: TopicAction, topic: string): boolean {
    if (!topic.startsWith(`${who.tenant}:`)) return false;
    const name = topic.slice(who.tenant.length + 1);
    const matching = entries.find((e) => e.pattern === '*:room.*' ? name.startsWith('room.') : e.pattern === '{tenantId}:user.{userId}' ? name.startsWith('user.') : true);
    if (matching === undefined) return true;
    if (matching.pattern === '{tenantId}:user.{userId}' && name !== `user.${who.user}`) return false;
    const access = matching.rules?.[action] ?? 'tenant';
    if (access === 'tenant') return true;
    if (access === 'none' || who.grants === undefined) return false;
    return who.grants.some((grant) => {
      // The grants' only wildcard is a trailing '*'; a '*' the user id brings is literal.
      const wildcard = grant.endsWith('*');
      const bound = (wildcard ? grant.slice(0, -1) : grant).replace('{userId}', who.user);
      const scoped = bound.includes(':') ? bound : `${who.tenant}:${bound}`;
      return wildcard ? topic.startsWith(scoped) : topic === scoped;
    });
  }

  it('no decision ever contradicts the rules', async () => {
    const patterns = ['*:room.*', '{tenantId}:user.{userId}', '*'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([...patterns], { minLength: 0 }),
        fc.array(fc.option(rules, { nil: undefined }), { minLength: 3, maxLength: 3 }),
        fc.array(
          fc.record({
            tenant: fc.constantFrom(...TENANTS),
            user: fc.constantFrom(...USERS),
            grants: fc.option(fc.subarray([...GRANTS]), { nil: undefined }),
            action: fc.constantFrom(...TOPIC_ACTIONS),
            topic: fc.constantFrom(...TOPICS),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        async (chosen, ruleSets, requests) => {
          const entries = chosen.map((pattern, i) => ({ pattern, rules: ruleSets[i] }));
          const permissions = engine(entries.map((e) => entry(e.pattern, e.rules)));
          for (const request of requests) {
            const who: TopicIdentity = {
              connectionId: 'c',
              tenantId: request.tenant,
              userId: request.user,
              ...(request.grants === undefined ? {} : { claims: { topics: request.grants } }),
            };
            const allowed = (await outcome(permissions, who, request.action, request.topic)) === 'allowed';
            expect(allowed, JSON.stringify({ entries, request })).toBe(expected(entries, request, request.action, request.topic));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
