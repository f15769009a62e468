import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AccessKeyRateLimiter, ApiKeyRateLimiter } from '../../src/api/index.js';
import { awsConnectionsApi } from '../../src/api/aws-connections.js';
import { amzDateOf, sign } from '../../src/api/sigv4.js';
import type { Hub } from '../../src/cluster/index.js';
import { NotFound } from '../../src/errors/index.js';
import { createLogger } from '../../src/observability/index.js';
import { RateLimited } from '../../src/errors/index.js';
import { TokenBucket } from '../../src/ratelimit/index.js';
import { ApiKeyAuthenticator } from '../../src/api/index.js';
import { useNode } from '../support/scoped.js';
import { expectCode, protoClient, STATUS } from '../grpc/support.js';
import { V1 } from '../support/harness.js';

const LIST = `${V1}/connections`;
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

describe('TokenBucket', () => {
  it('gives its burst at once, then one token per 1/rate seconds, and says how long to wait', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(500);
    now += 250;
    expect(bucket.take()).toBe(250);
    now += 250;
    expect(bucket.take()).toBe(0);
    now += 60_000;
    // Refill stops at the burst.
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0, 500]);
  });
});

describe('ApiKeyRateLimiter', () => {
  it('keeps one bucket per key, with a key\'s own limit over the default, and leaves callers without a key alone', () => {
    let now = 0;
    const keys = [
      { key: 'k-default', scopes: ['read' as const] },
      { key: 'k-own', scopes: ['read' as const], rateLimit: { requestsPerSecond: 1, burst: 1 } },
    ];
    const limiter = new ApiKeyRateLimiter(keys, { requestsPerSecond: 10, burst: 2 }, () => now);
    const auth = new ApiKeyAuthenticator(keys, limiter);
    auth.admit('Bearer k-own');
    expect(() => auth.admit('Bearer k-own')).toThrow(RateLimited);
    auth.admit('Bearer k-default');
    auth.admit('Bearer k-default');
    const err = (() => {
      try {
        auth.admit('Api-Key k-default');
      } catch (e) {
        return e as RateLimited;
      }
      throw new Error('not limited');
    })();
    expect(err.kind).toBe('RESOURCE_EXHAUSTED');
    expect(err.retryAfterMs).toBe(100);
    expect(err.message).toContain('10 requests per second, burst 2');
    now += 1000;
    expect(() => auth.admit('Bearer k-own')).not.toThrow();
    // No key configured: nothing to charge.
    const open = new ApiKeyAuthenticator([], new ApiKeyRateLimiter([], { requestsPerSecond: 1, burst: 1 }, () => now));
    for (let i = 0; i < 5; i++) open.admit(undefined);
  });
});

describe('per-key rate limits on the management API', () => {
  it('answers 429 google.rpc.Status code 8 with Retry-After and RetryInfo past the burst; other keys keep their budget', async () => {
    const node = await useNode({
      settings: {
        management: {
          apiKeys: [
            { key: 'busy-key', scopes: ['read'], rateLimit: { requestsPerSecond: 1, burst: 3 } },
            { key: 'calm-key', scopes: ['read'] },
          ],
          rateLimit: { requestsPerSecond: 1000, burst: 2000 },
        },
      },
    });
    for (let i = 0; i < 3; i++) expect((await node.api('GET', LIST, undefined, bearer('busy-key'))).status).toBe(200);
    const limited = await node.api('GET', LIST, undefined, bearer('busy-key'));
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ code: 8, message: expect.stringContaining('rate limit') });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((limited.json as { details: unknown[] }).details).toContainEqual({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: expect.stringMatching(/^\d+\.\d{3}s$/),
    });
    // The message names the limit, never the key.
    expect(limited.text).not.toContain('busy-key');
    expect((await node.api('GET', LIST, undefined, bearer('calm-key'))).status).toBe(200);
    // A refused request costs nothing more: after one token's time the key is served again.
    await new Promise((resolve) => setTimeout(resolve, 1050));
    expect((await node.api('GET', LIST, undefined, bearer('busy-key'))).status).toBe(200);
  });

  it('applies management.rateLimit to keys without their own', async () => {
    const node = await useNode({
      settings: { management: { apiKeys: [{ key: 'k', scopes: ['read'] }], rateLimit: { requestsPerSecond: 0.5, burst: 2 } } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await node.api('GET', LIST, undefined, bearer('k'))).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
    const limited = await node.api('GET', LIST, undefined, bearer('k'));
    expect(Number(limited.headers.get('retry-after'))).toBe(2);
  });

  it('does not charge requests that fail authentication, and health checks are never limited', async () => {
    const node = await useNode({
      settings: { management: { apiKeys: [{ key: 'k', scopes: ['read'], rateLimit: { requestsPerSecond: 1, burst: 1 } }] } },
    });
    for (let i = 0; i < 5; i++) expect((await node.api('GET', LIST, undefined, bearer('wrong'))).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await node.api('GET', '/healthz')).status).toBe(200);
    expect((await node.api('GET', LIST, undefined, bearer('k'))).status).toBe(200);
    expect((await node.api('GET', LIST, undefined, bearer('k'))).status).toBe(429);
  });

  it('shares one budget between REST and gRPC: a key spent on REST gets RESOURCE_EXHAUSTED on gRPC', async () => {
    const node = await useNode({
      settings: {
        grpc: { listen: { host: '127.0.0.1', port: 0 } },
        management: { apiKeys: [{ key: 'k', scopes: ['read'], rateLimit: { requestsPerSecond: 0.2, burst: 2 } }] },
      },
    });
    const grpc = protoClient(node.node.grpcAddress!);
    try {
      expect((await node.api('GET', LIST, undefined, bearer('k'))).status).toBe(200);
      // One token left: the gRPC call takes it (and finds no such connection).
      await expectCode(grpc.call('Get', { connectionId: 'nope' }, 'k'), STATUS.NOT_FOUND);
      const message = await expectCode(grpc.call('Get', { connectionId: 'nope' }, 'k'), STATUS.RESOURCE_EXHAUSTED);
      expect(message).toContain('rate limit');
      expect((await node.api('GET', LIST, undefined, bearer('k'))).status).toBe(429);
    } finally {
      grpc.close();
    }
  });
});

describe('per-access-key rate limits on @connections (SigV4)', () => {
  it('answers 429 LimitExceededException with Retry-After past the budget, and does not charge forged requests', async () => {
    const now = Date.UTC(2026, 10, 22, 11, 40, 14);
    const key = { accessKeyId: 'AKIDLIMIT', secretAccessKey: 'limit-secret' };
    const hub = { get: async (id: string) => Promise.reject(new NotFound(`connection ${id} not found`)) } as unknown as Hub;
    const app = Fastify({ logger: false });
    let clock = 0;
    const rateLimiter = new AccessKeyRateLimiter([key], { requestsPerSecond: 1, burst: 2 }, () => clock);
    await app.register(awsConnectionsApi, { hub, awsAccessKeys: [key], log: createLogger('silent'), now: () => now, rateLimiter });
    await app.ready();
    const call = (secretAccessKey: string) => {
      const path = '/@connections/abc';
      const amzDate = amzDateOf(now);
      const headers = { host: 'localhost:80', 'x-amz-date': amzDate };
      const { authorization } = sign({ method: 'GET', path, query: '', headers }, { accessKeyId: key.accessKeyId, secretAccessKey, region: 'eu-west-1', service: 'execute-api', amzDate });
      return app.inject({ method: 'GET', url: path, headers: { ...headers, authorization } });
    };
    try {
      for (let i = 0; i < 3; i++) expect((await call('forged')).statusCode).toBe(403);
      expect((await call(key.secretAccessKey)).statusCode).toBe(410);
      expect((await call(key.secretAccessKey)).statusCode).toBe(410);
      const limited = await call(key.secretAccessKey);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['x-amzn-errortype']).toBe('LimitExceededException');
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.json()).toEqual({ message: expect.stringContaining('access key is over its rate limit') });
      clock += 1000;
      expect((await call(key.secretAccessKey)).statusCode).toBe(410);
    } finally {
      await app.close();
    }
  });
});
