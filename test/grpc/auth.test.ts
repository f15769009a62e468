import { describe, expect, it } from 'vitest';
import type { ConnectionMessage } from '../../src/grpc/index.js';
import type { TestClient } from '../support/harness.js';
import { forSuite, useClient, useStarted } from '../support/scoped.js';
import { jwtSettings, signToken } from '../support/tokens.js';
import { STATUS, expectCode, grpcAddressOf, protoClient, startGrpcNode } from './support.js';

const KEYS = {
  admin: { key: 'grpc-admin-key', scopes: ['read', 'write', 'broadcast'] },
  reader: { key: 'grpc-reader-key', scopes: ['read'] },
  writer: { key: 'grpc-writer-key', scopes: ['write'] },
  acme: { key: 'grpc-acme-key', scopes: ['read', 'write', 'broadcast'], tenantId: 'acme' },
} as const;

const SPEC = `
openapi: 3.0.0
info: {title: grpc auth, version: '1'}
x-switchboard: {gatewayId: grpc-auth-gw}
paths:
  /rt:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: dummy
        http_code: 200
        content:
          text/plain: ok
`;

describe('gRPC ConnectionService behind the management API keys', () => {

  const node = forSuite(() =>
    startGrpcNode(
      {
        management: { apiKeys: Object.values(KEYS).map((k) => ({ ...k, scopes: [...k.scopes] })) },
        auth: { jwt: jwtSettings() },
      },
      SPEC,
    ),
  );
  const grpc = forSuite(async () => protoClient(grpcAddressOf(node)));

  async function raw(): Promise<{ client: TestClient; id: string }> {
    const client = await useClient(node.wsUrl('/ws'));
    return { client, id: client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string };
  }

  /** A realtime client of `tenantId`, its `connected` envelope already read. */
  async function tenantClient(tenantId: string): Promise<{ client: TestClient; id: string }> {
    const token = await signToken(tenantId, 'user-1');
    const client = await useClient(node.wsUrl(`/rt?${new URLSearchParams({ tenantId, userId: 'user-1', token })}`));
    expect((await client.nextJson()).type).toBe('connected');
    return { client, id: client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string };
  }

  it('no authorization metadata answers UNAUTHENTICATED on every call', async () => {
    const { client, id } = await raw();
    for (const method of ['Get', 'Send', 'Disconnect'] as const) {
      expect(await expectCode(grpc.call(method, { connectionId: id, data: Buffer.from('x') }), STATUS.UNAUTHENTICATED)).toMatch(/missing API key/);
    }
    expect(await client.silentFor(100)).toBe(true);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('a wrong key answers UNAUTHENTICATED, before the arguments are looked at', async () => {
    const { id } = await raw();
    expect(await expectCode(grpc.call('Get', { connectionId: id }, 'not-a-key'), STATUS.UNAUTHENTICATED)).toMatch(/not valid/);
    await expectCode(grpc.call('Send', { connectionId: '', data: Buffer.alloc(200_000) }, 'not-a-key'), STATUS.UNAUTHENTICATED);
  });

  it('a key under another scheme is not a key', async () => {
    const { id } = await raw();
    const basic = await useStarted(protoClient(grpcAddressOf(node), (key) => `Basic ${key}`));
    await expectCode(basic.call('Get', { connectionId: id }, KEYS.admin.key), STATUS.UNAUTHENTICATED);
  });

  it('accepts the key as "Bearer KEY" and as "Api-Key KEY"', async () => {
    const { id } = await raw();
    expect((await grpc.call<ConnectionMessage>('Get', { connectionId: id }, KEYS.admin.key)).id).toBe(id);
    const apiKey = await useStarted(protoClient(grpcAddressOf(node), (key) => `Api-Key ${key}`));
    expect((await apiKey.call<ConnectionMessage>('Get', { connectionId: id }, KEYS.admin.key)).id).toBe(id);
  });

  it('a read-only key may Get but Send and Disconnect answer PERMISSION_DENIED and change nothing', async () => {
    const { client, id } = await raw();
    expect((await grpc.call<ConnectionMessage>('Get', { connectionId: id }, KEYS.reader.key)).id).toBe(id);
    expect(await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.from('x'), type: 'TEXT' }, KEYS.reader.key), STATUS.PERMISSION_DENIED)).toMatch(/"write" scope/);
    await expectCode(grpc.call('Disconnect', { connectionId: id }, KEYS.reader.key), STATUS.PERMISSION_DENIED);
    expect(await client.silentFor(100)).toBe(true);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('a write-only key may Send but Get answers PERMISSION_DENIED', async () => {
    const { client, id } = await raw();
    expect(await expectCode(grpc.call('Get', { connectionId: id }, KEYS.writer.key), STATUS.PERMISSION_DENIED)).toMatch(/"read" scope/);
    await grpc.call('Send', { connectionId: id, data: Buffer.from('from writer'), type: 'TEXT' }, KEYS.writer.key);
    expect((await client.next()).text).toBe('from writer');
  });

  it('a tenant-bound key reaches its own tenant and sees every other connection as NOT_FOUND', async () => {
    const acme = await tenantClient('acme');
    const globex = await tenantClient('globex');
    const untenanted = await raw();

    expect((await grpc.call<ConnectionMessage>('Get', { connectionId: acme.id }, KEYS.acme.key)).id).toBe(acme.id);
    await grpc.call('Send', { connectionId: acme.id, data: Buffer.from('for acme'), type: 'TEXT' }, KEYS.acme.key);
    expect((await acme.client.next()).text).toBe('for acme');

    for (const other of [globex, untenanted]) {
      await expectCode(grpc.call('Get', { connectionId: other.id }, KEYS.acme.key), STATUS.NOT_FOUND);
      await expectCode(grpc.call('Send', { connectionId: other.id, data: Buffer.from('leak'), type: 'TEXT' }, KEYS.acme.key), STATUS.NOT_FOUND);
      await expectCode(grpc.call('Disconnect', { connectionId: other.id }, KEYS.acme.key), STATUS.NOT_FOUND);
      expect(await other.client.silentFor(100)).toBe(true);
      expect(other.client.ws.readyState).toBe(other.client.ws.OPEN);
    }

    await grpc.call('Disconnect', { connectionId: acme.id }, KEYS.acme.key);
    expect((await acme.client.closed).code).toBe(1000);
  });
});
