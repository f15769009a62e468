/**
 * The Yandex Cloud SDK's own client (@yandex-cloud/nodejs-sdk) against Switchboard's gRPC
 * ConnectionService. Three ways in:
 *  - its generated grpc-js client class (`serviceClients.WebSocketConnectionServiceClient`,
 *    made by makeGenericClientConstructor) constructed directly with insecure credentials;
 *  - its nice-grpc client stack (`clientFactory`: error metadata, retry and deadline
 *    middlewares) over an insecure grpc-js Channel;
 *  - its `Session`, which always composes TLS with the token as call credentials: it cannot
 *    speak to a plaintext listener, and works unchanged against a TLS one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Channel, Metadata, ServerCredentials, credentials, type ServiceError } from '@grpc/grpc-js';
import { Session, cloudApi, serviceClients } from '@yandex-cloud/nodejs-sdk';
import { clientFactory } from '@yandex-cloud/nodejs-sdk/dist/utils/client-factory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcConnectionServer } from '../../src/grpc/index.js';
import { createLogger } from '../../src/observability/index.js';
import { V1 } from '../support/harness.js';
import { forSuite, useStarted } from '../support/scoped.js';
import { STATUS, connectRaw, grpcAddressOf, startGrpcNode } from './support.js';

const KEY = 'sdk-test-key';
const sdk = cloudApi.serverless.apigateway_connection_service;
const DataType = sdk.SendToConnectionRequest_DataType;
const SdkClient = serviceClients.WebSocketConnectionServiceClient;

type SdkClientInstance = InstanceType<typeof SdkClient>;

/** Promise form of a generated client's callback call, with the API key in metadata. */
function unary<Req, Res>(client: SdkClientInstance, method: 'get' | 'send' | 'disconnect', request: Req): Promise<Res> {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${KEY}`);
  return new Promise((resolve, reject) => {
    const invoke = client[method] as unknown as (req: Req, md: Metadata, cb: (err: ServiceError | null, res: Res) => void) => void;
    invoke.call(client, request, metadata, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function codeOf(pending: Promise<unknown>): Promise<number> {
  return pending.then(
    () => STATUS.OK,
    (err: { code: number }) => err.code,
  );
}

describe('the Yandex SDK generated ConnectionServiceClient, pointed at an insecure endpoint', () => {
  let client: SdkClientInstance;

  const node = forSuite(() => startGrpcNode({ management: { apiKeys: [{ key: KEY, scopes: ['read', 'write'] }] } }));
  beforeAll(async () => {
    client = new SdkClient(`127.0.0.1:${grpcAddressOf(node).port}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
  });

  it('Get decodes into the SDK Connection with the REST get values and instants', async () => {
    const { client: socket, id } = await connectRaw(node, { 'User-Agent': 'yandex-sdk-test' });
    await useStarted(socket);
    const connection = await unary<unknown, ReturnType<typeof cloudApi.serverless.apigateway_connection.Connection.decode>>(
      client,
      'get',
      sdk.GetConnectionRequest.fromPartial({ connectionId: id }),
    );
    const rest = (await node.api('GET', `${V1}/connections/${id}`, undefined, { authorization: `Bearer ${KEY}` })).json as Record<string, string>;
    expect(connection.$type).toBe('yandex.cloud.serverless.apigateway.websocket.v1.Connection');
    expect(connection.id).toBe(id);
    expect(connection.gatewayId).toBe('grpc-gw');
    expect(connection.identity).toMatchObject({ sourceIp: '127.0.0.1', userAgent: 'yandex-sdk-test' });
    expect(connection.connectedAt).toBeInstanceOf(Date);
    expect(connection.connectedAt?.getTime()).toBe(Date.parse(rest.connectedAt!));
    expect(connection.lastActiveAt?.getTime()).toBe(Date.parse(rest.lastActiveAt!));
  });

  it('Send with the SDK enum TEXT gives a text frame, BINARY and DATA_TYPE_UNSPECIFIED binary frames', async () => {
    const { client: socket, id } = await connectRaw(node);
    await useStarted(socket);
    const send = (data: string, type: (typeof DataType)[keyof typeof DataType]) =>
      unary(client, 'send', sdk.SendToConnectionRequest.fromPartial({ connectionId: id, data: Buffer.from(data), type }));
    await expect(send('text via sdk', DataType.TEXT)).resolves.toMatchObject({ $type: 'yandex.cloud.serverless.apigateway.websocket.v1.SendToConnectionResponse' });
    await send('binary via sdk', DataType.BINARY);
    await send('unspecified via sdk', DataType.DATA_TYPE_UNSPECIFIED);
    expect(await socket.next()).toMatchObject({ binary: false, text: 'text via sdk' });
    expect(await socket.next()).toMatchObject({ binary: true, text: 'binary via sdk' });
    expect(await socket.next()).toMatchObject({ binary: true, text: 'unspecified via sdk' });
  });

  it('Disconnect closes the socket with 1000; Get afterwards is NOT_FOUND', async () => {
    const { client: socket, id } = await connectRaw(node);
    await useStarted(socket);
    await unary(client, 'disconnect', sdk.DisconnectRequest.fromPartial({ connectionId: id }));
    expect((await socket.closed).code).toBe(1000);
    expect(await codeOf(unary(client, 'get', sdk.GetConnectionRequest.fromPartial({ connectionId: id })))).toBe(STATUS.NOT_FOUND);
  });

  it('without the key in metadata the SDK client sees UNAUTHENTICATED', async () => {
    const { client: socket, id } = await connectRaw(node);
    await useStarted(socket);
    const code = await new Promise<number>((resolve) => {
      client.get(sdk.GetConnectionRequest.fromPartial({ connectionId: id }), (err) => resolve(err?.code ?? STATUS.OK));
    });
    expect(code).toBe(STATUS.UNAUTHENTICATED);
  });
});

describe("the Yandex SDK's nice-grpc client stack over an insecure channel", () => {
  it('Get, Send and Disconnect work through clientFactory (a keyless loopback node)', async () => {
    const node = await useStarted(startGrpcNode());
    const channel = await useStarted(new Channel(`127.0.0.1:${grpcAddressOf(node).port}`, credentials.createInsecure(), {}));
    const client = clientFactory.create(SdkClient.service, channel);
    const { client: socket, id } = await connectRaw(node);
    await useStarted(socket);
    const connection = await client.get(sdk.GetConnectionRequest.fromPartial({ connectionId: id }), { deadline: new Date(Date.now() + 5000) });
    expect(connection.id).toBe(id);
    await client.send(sdk.SendToConnectionRequest.fromPartial({ connectionId: id, data: Buffer.from('nice-grpc'), type: DataType.TEXT }));
    expect(await socket.next()).toMatchObject({ binary: false, text: 'nice-grpc' });
    await client.disconnect(sdk.DisconnectRequest.fromPartial({ connectionId: id }));
    expect((await socket.closed).code).toBe(1000);
    await expect(client.get(sdk.GetConnectionRequest.fromPartial({ connectionId: id }))).rejects.toMatchObject({ code: STATUS.NOT_FOUND });
  });
});

describe("the Yandex SDK's Session", () => {
  it('cannot reach a plaintext listener: it always composes TLS credentials (UNAVAILABLE)', async () => {
    const node = await useStarted(startGrpcNode({ management: { apiKeys: [{ key: KEY, scopes: ['read'] }] } }));
    const session = new Session({ iamToken: KEY });
    const client = session.client(SdkClient, `localhost:${grpcAddressOf(node).port}`);
    const pending = client.get(sdk.GetConnectionRequest.fromPartial({ connectionId: 'anything' }), { deadline: new Date(Date.now() + 3000) });
    // The TLS ClientHello meets plaintext HTTP/2: OpenSSL's "wrong version number".
    await expect(pending).rejects.toMatchObject({ code: STATUS.UNAVAILABLE, details: expect.stringMatching(/ssl|tls/i) });
  });

  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

  describe.skipIf(!haveOpenssl)('against a TLS listener (self-signed certificate made by openssl)', () => {
    let folder: string;
    let keyFile: string;
    let rootCerts: Buffer;

    beforeAll(() => {
      folder = mkdtempSync(join(tmpdir(), 'switchboard-grpc-tls-'));
      keyFile = join(folder, 'key.pem');
      const certFile = join(folder, 'cert.pem');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
      ], { stdio: 'ignore' });
      rootCerts = readFileSync(certFile);
    });
    afterAll(() => {
      rmSync(folder, { recursive: true, force: true });
    });
    const node = forSuite(() => startGrpcNode({ management: { apiKeys: [{ key: KEY, scopes: ['read', 'write'] }] } }));
    const tls = forSuite(() =>
      GrpcConnectionServer.start({
        listen: { host: '127.0.0.1', port: 0 },
        hub: node.node.hub,
        apiKeys: [{ key: KEY, scopes: ['read', 'write'] }],
        log: createLogger('silent'),
        credentials: ServerCredentials.createSsl(null, [{ private_key: readFileSync(keyFile), cert_chain: rootCerts }]),
      }),
    );

    it('Get, Send and Disconnect work unchanged, its iamToken sent as "Bearer" being the API key', async () => {
      const session = new Session({ iamToken: KEY, ssl: { rootCerts } });
      const client = session.client(SdkClient, `localhost:${tls.address().port}`);
      const { client: socket, id } = await connectRaw(node);
      await useStarted(socket);
      expect((await client.get(sdk.GetConnectionRequest.fromPartial({ connectionId: id }))).id).toBe(id);
      await client.send(sdk.SendToConnectionRequest.fromPartial({ connectionId: id, data: Buffer.from([1, 2, 3]), type: DataType.BINARY }));
      expect(await socket.next()).toMatchObject({ binary: true, data: Buffer.from([1, 2, 3]) });
      await client.disconnect(sdk.DisconnectRequest.fromPartial({ connectionId: id }));
      expect((await socket.closed).code).toBe(1000);
    });

    it('a Session with a token that is no API key sees UNAUTHENTICATED', async () => {
      const session = new Session({ iamToken: 'some-iam-token', ssl: { rootCerts } });
      const client = session.client(SdkClient, `localhost:${tls.address().port}`);
      await expect(client.get(sdk.GetConnectionRequest.fromPartial({ connectionId: 'x' }))).rejects.toMatchObject({ code: STATUS.UNAUTHENTICATED });
    });
  });
});
