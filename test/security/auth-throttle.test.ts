/**
 * Failed authentication is throttled per source address on every surface that authenticates:
 * the management API (API keys), gRPC (the same keys, the same throttle), `@connections`
 * (SigV4) and the realtime handshake (JWT). A blocked address is refused before any credential
 * is compared, a correct one included; other addresses and successful callers are unaffected.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { amzDateOf, sign } from '../../src/api/sigv4.js';
import { loadSettings } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { connectClient, type TestNode, V1 } from '../support/harness.js';
import { useNode } from '../support/scoped.js';
import { expectCode, protoClient, STATUS } from '../grpc/support.js';
import { realtimeSpec } from '../realtime-e2e/support.js';
import { jwtSettings, signToken } from '../support/tokens.js';

const LIST = `${V1}/connections`;
const KEY = 'auth-throttle-good-key-0123456789';
const WRONG = 'auth-throttle-wrong-key-0123456789';
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
/** Three failures a minute, then a one-second pause: the tests see both edges quickly. */
const THROTTLE = { maxFailures: 3, windowSeconds: 60, cooldownSeconds: 1 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function authFailures(node: TestNode, surface: string): Promise<number> {
  const metrics = await node.node.metrics.registry.getSingleMetricAsString('switchboard_auth_failures_total');
  const line = metrics.split('\n').find((l) => l.startsWith(`switchboard_auth_failures_total{surface="${surface}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('failed API keys on the management API and gRPC', () => {
  it('answers 429 RESOURCE_EXHAUSTED with Retry-After after maxFailures wrong keys, refuses even the right key during the cool-down, then serves it', async () => {
    const node = await useNode({ settings: { auth: { failureThrottle: THROTTLE }, management: { apiKeys: [{ key: KEY, scopes: ['read'] }] } } });
    expect((await node.api('GET', LIST, undefined, bearer(KEY))).status).toBe(200);
    // No key at all guesses nothing and is not counted.
    for (let i = 0; i < 5; i++) expect((await node.api('GET', LIST)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await node.api('GET', LIST, undefined, bearer(WRONG))).status).toBe(401);
    const blocked = await node.api('GET', LIST, undefined, bearer(WRONG));
    expect(blocked.status).toBe(429);
    expect(blocked.json).toMatchObject({ code: 8, message: expect.stringContaining('too many failed authentications') });
    expect(Number(blocked.headers.get('retry-after'))).toBe(1);
    expect(blocked.text).not.toContain(WRONG);
    // Refused before the key is compared: the right key learns nothing either.
    expect((await node.api('GET', LIST, undefined, bearer(KEY))).status).toBe(429);
    expect(await authFailures(node, 'management')).toBe(3);
    await sleep(1100);
    expect((await node.api('GET', LIST, undefined, bearer(KEY))).status).toBe(200);
  });

  it('shares the count between REST and gRPC (one key space): wrong keys on gRPC block REST too, with RESOURCE_EXHAUSTED on gRPC', async () => {
    const node = await useNode({
      settings: { auth: { failureThrottle: THROTTLE }, grpc: { listen: { host: '127.0.0.1', port: 0 } }, management: { apiKeys: [{ key: KEY, scopes: ['read'] }] } },
    });
    const grpc = protoClient(node.node.grpcAddress!);
    try {
      await expectCode(grpc.call('Get', { connectionId: 'nope' }, KEY), STATUS.NOT_FOUND);
      for (let i = 0; i < 3; i++) await expectCode(grpc.call('Get', { connectionId: 'nope' }, WRONG), STATUS.UNAUTHENTICATED);
      const message = await expectCode(grpc.call('Get', { connectionId: 'nope' }, KEY), STATUS.RESOURCE_EXHAUSTED);
      expect(message).toContain('too many failed authentications');
      expect((await node.api('GET', LIST, undefined, bearer(KEY))).status).toBe(429);
      expect(await authFailures(node, 'grpc')).toBe(3);
      expect(await authFailures(node, 'management')).toBe(0);
      await sleep(1100);
      await expectCode(grpc.call('Get', { connectionId: 'nope' }, KEY), STATUS.NOT_FOUND);
    } finally {
      grpc.close();
    }
  });

  it('never throttles a node without API keys, and the defaults are 20 failures a minute, a minute of cool-down', async () => {
    expect(loadSettings({ flags: {}, env: {} }).auth.failureThrottle).toEqual({ maxFailures: 20, windowSeconds: 60, cooldownSeconds: 60 });
    const node = await useNode({ settings: { auth: { failureThrottle: THROTTLE } } });
    for (let i = 0; i < 6; i++) expect((await node.api('GET', LIST, undefined, bearer(WRONG))).status).toBe(200);
  });
});

describe('failed signatures on @connections (SigV4)', () => {
  it('answers 429 LimitExceededException after maxFailures bad signatures, the right secret included, until the cool-down ends', async () => {
    const access = { accessKeyId: 'AKIDTHROTTLE', secretAccessKey: 'throttle-secret-0123456789' };
    const node = await useNode({ settings: { auth: { failureThrottle: THROTTLE }, management: { awsAccessKeys: [access] } } });
    const port = node.node.managementAddress.port;
    const call = async (secretAccessKey: string): Promise<Response> => {
      const path = '/@connections/abc';
      const amzDate = amzDateOf(Date.now());
      const headers = { host: `127.0.0.1:${port}`, 'x-amz-date': amzDate };
      const { authorization } = sign({ method: 'GET', path, query: '', headers }, { accessKeyId: access.accessKeyId, secretAccessKey, region: 'us-east-1', service: 'execute-api', amzDate });
      return fetch(`${node.apiUrl}${path}`, { headers: { 'x-amz-date': amzDate, authorization } });
    };
    expect((await call(access.secretAccessKey)).status).toBe(410);
    // Unsigned requests guess nothing and are not counted.
    for (let i = 0; i < 5; i++) expect((await fetch(`${node.apiUrl}/@connections/abc`)).status).toBe(403);
    for (let i = 0; i < 3; i++) expect((await call('forged-secret-0123456789')).status).toBe(403);
    const blocked = await call(access.secretAccessKey);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('x-amzn-errortype')).toBe('LimitExceededException');
    expect(blocked.headers.get('retry-after')).toBe('1');
    expect(await authFailures(node, 'aws')).toBe(3);
    // The API-key surface keeps its own count.
    expect((await node.api('GET', LIST)).status).toBe(200);
    await sleep(1100);
    expect((await call(access.secretAccessKey)).status).toBe(410);
  });
});

describe('failed tokens on the realtime handshake', () => {
  it('refuses the upgrade with HTTP 429 and Retry-After after maxFailures bad tokens, before the token is checked', async () => {
    const node = await useNode({ spec: realtimeSpec(), settings: { auth: { jwt: jwtSettings(), failureThrottle: THROTTLE } } });
    const url = (token: string): string => node.wsUrl(`/rt?tenantId=acme&userId=u1&token=${encodeURIComponent(token)}`);
    const good = await signToken('acme', 'u1');
    const ok = await connectClient(url(good));
    await ok.close();
    for (let i = 0; i < 3; i++) {
      const bad = await connectClient(url(`${good}x`));
      expect((await bad.closed).code).toBe(1008);
    }
    const refused = (await connectClient(url(good)).then(
      () => undefined,
      (err: unknown) => err,
    )) as { status?: number; headers?: Record<string, string> } | undefined;
    expect(refused?.status).toBe(429);
    expect(refused?.headers?.['retry-after']).toBe('1');
    expect(await authFailures(node, 'realtime')).toBe(3);
    await sleep(1100);
    const again = await connectClient(url(good));
    await again.close();
  });
});

describe('failed tokens on a realtime refresh', () => {
  it('counts a refresh with a bad token like a failed handshake: past maxFailures the address is refused (refresh and handshake) until the cool-down ends', async () => {
    const node = await useNode({ spec: realtimeSpec(), settings: { auth: { jwt: jwtSettings(), failureThrottle: THROTTLE } } });
    const good = await signToken('acme', 'u1');
    const client = await connectClient(node.wsUrl(`/rt?tenantId=acme&userId=u1&token=${good}`));
    await client.nextJson(); // connected
    for (let i = 0; i < 3; i++) {
      client.ws.send(JSON.stringify({ type: 'refresh', requestId: `r${i}`, data: { token: `${good}x` } }));
      expect(await client.nextJson()).toMatchObject({ type: 'error', requestId: `r${i}`, data: { code: 'UNAUTHORIZED' } });
    }
    expect(await authFailures(node, 'realtime')).toBe(3);
    // Blocked now: even the right token is not checked, on a refresh or a new handshake.
    client.ws.send(JSON.stringify({ type: 'refresh', requestId: 'blocked', data: { token: good } }));
    expect(await client.nextJson()).toMatchObject({ type: 'error', requestId: 'blocked', data: { code: 'RATE_LIMITED', message: 'too many failed authentications from this address: retry in 1 s' } });
    const refused = (await connectClient(node.wsUrl(`/rt?tenantId=acme&userId=u1&token=${good}`)).then(
      () => undefined,
      (err: unknown) => err,
    )) as { status?: number } | undefined;
    expect(refused?.status).toBe(429);
    await sleep(1100);
    client.ws.send(JSON.stringify({ type: 'refresh', requestId: 'after', data: { token: good } }));
    expect(await client.nextJson()).toMatchObject({ type: 'refreshed', requestId: 'after' });
    await client.close();
  });
});

describe('API keys shorter than 16 characters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-short-key-'));
  afterEach(() => undefined);
  const configErrorOf = (load: () => unknown): ConfigError => {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error('loaded');
  };

  it('stop the start with an error naming the key by its position, never its value', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `management:\n  apiKeys:\n    - {key: ${KEY}, scopes: [read]}\n    - {key: ${WRONG}, scopes: [read]}\n    - {key: x1y2z3, scopes: [read]}\n`);
    const fromFile = configErrorOf(() => loadSettings({ configFile: file, flags: {}, env: {} }));
    expect(fromFile.path).toBe('management.apiKeys[2].key');
    expect(fromFile.message).toContain('at least 16 characters');
    expect(fromFile.message).not.toContain('x1y2z3');
    const fromFlag = configErrorOf(() => loadSettings({ flags: { apiKey: [KEY, 'short-flag-key'] }, env: {} }));
    expect(fromFlag.message).toMatch(/^--api-key #2: management\.apiKeys: is too short/);
    expect(fromFlag.message).not.toContain('short-flag-key');
    const fromEnv = configErrorOf(() => loadSettings({ flags: {}, env: { SWITCHBOARD_API_KEYS: 'tiny' } }));
    expect(fromEnv.message).toMatch(/^SWITCHBOARD_API_KEYS item 1: management\.apiKeys: is too short/);
    expect(fromEnv.message).not.toContain('tiny');
    // Exactly 16 is enough.
    expect(loadSettings({ flags: { apiKey: ['0123456789abcdef'] }, env: {} }).management.apiKeys).toHaveLength(1);
  });

  it('`switchboard start --api-key` with a 1-character key exits 2 with the configuration error', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'switchboard.js');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'start', '--api-key', 'k', '--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0'], { env: { ...process.env, SWITCHBOARD_CONFIG: '' } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    rmSync(dir, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('configuration error: --api-key #1: management.apiKeys: is too short');
  });
});
