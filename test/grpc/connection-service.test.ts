import { describe, expect, it } from 'vitest';
import type { ConnectionMessage } from '../../src/grpc/index.js';
import { eventually, type TestClient, V1 } from '../support/harness.js';
import { forSuite, useNode, useStarted } from '../support/scoped.js';
import { STATUS, connectRaw, expectCode, grpcAddressOf, millisOf, protoClient, startGrpcNode } from './support.js';

interface RestConnection {
  gatewayId: string;
  identity: { sourceIp: string; userAgent: string };
  connectedAt: string;
  lastActiveAt: string;
}

describe('gRPC ConnectionService: Get, Send, Disconnect against real sockets', () => {
  const node = forSuite(() => startGrpcNode());
  const grpc = forSuite(async () => protoClient(grpcAddressOf(node)));

  async function connected(headers: Record<string, string> = {}): Promise<{ client: TestClient; id: string }> {
    const opened = await connectRaw(node, headers);
    await useStarted(opened.client);
    return opened;
  }

  it('listens on its own port, apart from the client and management listeners', () => {
    const address = grpcAddressOf(node);
    expect(address.port).toBeGreaterThan(0);
    expect(address.port).not.toBe(node.node.clientAddress.port);
    expect(address.port).not.toBe(node.node.managementAddress.port);
  });

  it('Get answers the Connection the REST get answers, times as the same instants', async () => {
    const { id } = await connected({ 'User-Agent': 'grpc-test-agent/1.0' });
    const connection = await grpc.call<ConnectionMessage>('Get', { connectionId: id });
    const rest = (await node.api('GET', `${V1}/connections/${id}`)).json as RestConnection;

    expect(connection.id).toBe(id);
    expect(connection.gatewayId).toBe('grpc-gw');
    expect(connection.identity).toEqual({ sourceIp: '127.0.0.1', userAgent: 'grpc-test-agent/1.0' });
    expect(connection.identity).toEqual(rest.identity);
    expect(connection.gatewayId).toBe(rest.gatewayId);
    expect(millisOf(connection.connectedAt)).toBe(Date.parse(rest.connectedAt));
    expect(millisOf(connection.lastActiveAt)).toBe(Date.parse(rest.lastActiveAt));
    expect(connection.connectedAt.nanos % 1_000_000).toBe(0);
    expect(Number(connection.connectedAt.seconds)).toBeGreaterThan(1_700_000_000);
  });

  it('Send with TEXT delivers a text frame with the bytes as sent', async () => {
    const { client, id } = await connected();
    await expect(grpc.call('Send', { connectionId: id, data: Buffer.from('héllo over gRPC'), type: 'TEXT' })).resolves.toEqual({});
    const message = await client.next();
    expect(message.binary).toBe(false);
    expect(message.text).toBe('héllo over gRPC');
  });

  it('Send with BINARY delivers a binary frame, byte for byte', async () => {
    const { client, id } = await connected();
    const bytes = Buffer.from([0, 255, 1, 254, 0xc3, 0x28]);
    await grpc.call('Send', { connectionId: id, data: bytes, type: 'BINARY' });
    const message = await client.next();
    expect(message.binary).toBe(true);
    expect(message.data.equals(bytes)).toBe(true);
  });

  it('Send with the type left at DATA_TYPE_UNSPECIFIED delivers a binary frame', async () => {
    const { client, id } = await connected();
    await grpc.call('Send', { connectionId: id, data: Buffer.from('{"json":true}') });
    await grpc.call('Send', { connectionId: id, data: Buffer.from('x'), type: 'DATA_TYPE_UNSPECIFIED' });
    for (const expected of ['{"json":true}', 'x']) {
      const message = await client.next();
      expect(message.binary).toBe(true);
      expect(message.text).toBe(expected);
    }
  });

  it('Send accepts exactly 131072 bytes and an empty message', async () => {
    const { client, id } = await connected();
    const big = Buffer.alloc(131072, 0x61);
    await grpc.call('Send', { connectionId: id, data: big, type: 'TEXT' });
    expect((await client.next()).data.length).toBe(131072);
    await grpc.call('Send', { connectionId: id, data: Buffer.alloc(0), type: 'TEXT' });
    expect((await client.next()).data.length).toBe(0);
  });

  it('Disconnect closes the client with 1000 and the connection answers NOT_FOUND afterwards', async () => {
    const { client, id } = await connected();
    await expect(grpc.call('Disconnect', { connectionId: id })).resolves.toEqual({});
    expect((await client.closed).code).toBe(1000);
    await eventually(() => node.api('GET', `${V1}/connections/${id}`), (r) => r.status === 404);

    expect(await expectCode(grpc.call('Get', { connectionId: id }), STATUS.NOT_FOUND)).toMatch(id);
    await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.from('late'), type: 'TEXT' }), STATUS.NOT_FOUND);
    await expectCode(grpc.call('Disconnect', { connectionId: id }), STATUS.NOT_FOUND);
  });

  it('a connection the client closed itself answers NOT_FOUND', async () => {
    const { client, id } = await connected();
    await client.close();
    await eventually(() => grpc.call('Get', { connectionId: id }).then(() => 0, (e: { code: number }) => e.code), (code) => code === STATUS.NOT_FOUND);
  });

  it('an id that never existed answers NOT_FOUND on every call', async () => {
    const id = 'never-issued-connection-id';
    await expectCode(grpc.call('Get', { connectionId: id }), STATUS.NOT_FOUND);
    await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.from('x') }), STATUS.NOT_FOUND);
    await expectCode(grpc.call('Disconnect', { connectionId: id }), STATUS.NOT_FOUND);
  });

  it('data over 131072 bytes answers INVALID_ARGUMENT naming the limit and delivers nothing', async () => {
    const { client, id } = await connected();
    const message = await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.alloc(131073), type: 'BINARY' }), STATUS.INVALID_ARGUMENT);
    expect(message).toMatch(/131072/);
    expect(await client.silentFor(150)).toBe(true);
  });

  it('a request far beyond the limit is refused by the transport (RESOURCE_EXHAUSTED), not buffered', async () => {
    const { client, id } = await connected();
    await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.alloc(1024 * 1024), type: 'BINARY' }), STATUS.RESOURCE_EXHAUSTED);
    expect(await client.silentFor(150)).toBe(true);
  });

  it('a type the .proto does not define answers INVALID_ARGUMENT', async () => {
    const { client, id } = await connected();
    expect(await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.from('x'), type: 7 }), STATUS.INVALID_ARGUMENT)).toMatch(/type/);
    expect(await client.silentFor(150)).toBe(true);
  });

  it('TEXT data that is not valid UTF-8 answers INVALID_ARGUMENT', async () => {
    const { client, id } = await connected();
    expect(await expectCode(grpc.call('Send', { connectionId: id, data: Buffer.from([0xc3, 0x28]), type: 'TEXT' }), STATUS.INVALID_ARGUMENT)).toMatch(/UTF-8/);
    expect(await client.silentFor(150)).toBe(true);
  });

  it('connection_id empty or over 50 characters answers INVALID_ARGUMENT on every call', async () => {
    for (const connectionId of ['', 'x'.repeat(51)]) {
      for (const method of ['Get', 'Send', 'Disconnect'] as const) {
        const message = await expectCode(grpc.call(method, { connectionId, data: Buffer.from('x') }), STATUS.INVALID_ARGUMENT);
        expect(message).toMatch(/connection_id/);
      }
    }
  });

  it('the field at fault travels as x-switchboard-field trailing metadata', async () => {
    const err = (await grpc.call('Get', { connectionId: '' }).catch((e: unknown) => e)) as { metadata: { get(key: string): unknown[] } };
    expect(err.metadata.get('x-switchboard-field')).toEqual(['connection_id']);
  });
});

describe('gRPC listener lifecycle', () => {
  it('is off when settings.grpc is absent', async () => {
    const node = await useNode();
    expect(node.node.grpcAddress).toBeUndefined();
  });

  it('stops with the node: calls afterwards fail UNAVAILABLE', async () => {
    const node = await useStarted(startGrpcNode());
    const grpc = await useStarted(protoClient(grpcAddressOf(node)));
    await expectCode(grpc.call('Get', { connectionId: 'nobody' }), STATUS.NOT_FOUND);
    await node.close();
    await expectCode(grpc.call('Get', { connectionId: 'nobody' }), STATUS.UNAVAILABLE);
  });

  it('refuses to start on a non-loopback address when no API key is configured', async () => {
    await expect(startGrpcNode({ grpc: { listen: { host: '0.0.0.0', port: 0 } } })).rejects.toThrow(/grpc\.listen 0\.0\.0\.0:0 is not a loopback address/);
  });
});
