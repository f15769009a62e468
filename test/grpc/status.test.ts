import { describe, expect, it } from 'vitest';
import type { Hub } from '../../src/cluster/index.js';
import { NotFound, ResourceExhausted, Unavailable } from '../../src/errors/index.js';
import { GrpcConnectionServer } from '../../src/grpc/index.js';
import { createLogger } from '../../src/observability/index.js';
import { STATUS, expectCode, protoClient, type ConnectionServiceClient } from './support.js';
import { useStarted } from '../support/scoped.js';

/** A Hub whose calls fail as told: the status mapping without a cluster to break. */
function failingHub(failures: { get?: Error; send?: Error; disconnect?: Error }): Hub {
  const fail = (err: Error | undefined) => async () => {
    throw err ?? new NotFound('no such connection');
  };
  return { nodeId: 'stub', get: fail(failures.get), send: fail(failures.send), disconnect: fail(failures.disconnect) } as unknown as Hub;
}

describe('gRPC status codes from the Hub errors', () => {
  /** A server over `hub`, stopped when the test finishes. */
  const startServer = (hub: Hub): Promise<GrpcConnectionServer> =>
    useStarted(GrpcConnectionServer.start({ listen: { host: '127.0.0.1', port: 0 }, hub, apiKeys: [], log: createLogger('silent') }));

  /** A client of a server over `hub`, both stopped when the test finishes. */
  async function serve(hub: Hub): Promise<ConnectionServiceClient> {
    const server = await startServer(hub);
    return useStarted(protoClient(server.address()));
  }

  it('UNAVAILABLE when the Hub cannot reach the owning node, with its message', async () => {
    const client = await serve(failingHub({ get: new Unavailable('node node-b is unreachable') }));
    expect(await expectCode(client.call('Get', { connectionId: 'node-b.abc' }), STATUS.UNAVAILABLE)).toBe('node node-b is unreachable');
  });

  it('RESOURCE_EXHAUSTED when the connection cannot take more, with its message', async () => {
    const client = await serve(failingHub({ send: new ResourceExhausted('outbound buffer full') }));
    expect(await expectCode(client.call('Send', { connectionId: 'c1', data: Buffer.from('x') }), STATUS.RESOURCE_EXHAUSTED)).toBe('outbound buffer full');
  });

  it('an unexpected failure is INTERNAL and does not show its message', async () => {
    const client = await serve(failingHub({ disconnect: new Error('secret stack detail') }));
    expect(await expectCode(client.call('Disconnect', { connectionId: 'c1' }), STATUS.INTERNAL)).toBe('internal error');
  });

  it('close() is idempotent', async () => {
    const server = await startServer(failingHub({}));
    await Promise.all([server.close(), server.close()]);
  });
});
