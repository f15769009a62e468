import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { amzDateOf, sha256Hex, sign } from '../../src/api/sigv4.js';
import type { TestClient } from '../support/harness.js';
import { suiteNode, useClient } from '../support/scoped.js';

const KEY = { accessKeyId: 'AKIDSWITCHBOARD', secretAccessKey: 'switchboard/test+secret' };
/** API keys guard the other routes of the listener; they must neither be needed nor enough here. */
const API_KEY = 'sb-test-api-key-0123456789abcdef';
const SPEC = `
openapi: 3.0.0
info: {title: aws compatibility, version: '1.0.0'}
x-switchboard: {gatewayId: aws-gw}
paths:
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: ''}
`;

function sdk(endpoint: string, credentials = KEY, extra: { systemClockOffset?: number } = {}): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, ...extra });
}

/** An SDK client of its own for one test, destroyed when the test finishes. */
function useSdk(...args: Parameters<typeof sdk>): ApiGatewayManagementApiClient {
  const client = sdk(...args);
  onTestFinished(() => client.destroy());
  return client;
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number }; name: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
}

interface SignedFetchOptions {
  body?: Buffer | string;
  at?: number;
  secret?: string;
  headers?: Record<string, string>;
}

/** A request signed by our own signer and sent with fetch, for what the SDK will not do. */
async function signedFetch(base: string, method: string, path: string, options: SignedFetchOptions = {}): Promise<Response> {
  const url = new URL(path, base);
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const amzDate = amzDateOf(options.at ?? Date.now());
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': sha256Hex(body ?? Buffer.alloc(0)),
    ...options.headers,
  };
  const { authorization } = sign(
    { method, path: url.pathname, query: url.search.slice(1), headers },
    { accessKeyId: KEY.accessKeyId, secretAccessKey: options.secret ?? KEY.secretAccessKey, region: 'eu-central-1', service: 'execute-api', amzDate, ...(body ? { body } : {}) },
  );
  const { host: _host, ...sent } = headers;
  return fetch(url, { method, headers: { ...sent, authorization }, ...(body ? { body } : {}) });
}

describe('@connections: the AWS SDK (ApiGatewayManagementApiClient) against Switchboard', () => {
  const node = suiteNode({
    spec: SPEC,
    settings: { management: { awsAccessKeys: [KEY], apiKeys: [{ key: API_KEY, scopes: ['read', 'write', 'broadcast'] }] } },
  });
  let client: ApiGatewayManagementApiClient;

  beforeAll(() => {
    client = sdk(node.apiUrl);
  });
  afterAll(() => {
    client.destroy();
  });

  async function connected(userAgent = 'aws-sdk-test'): Promise<{ socket: TestClient; id: string }> {
    const socket = await useClient(node.wsUrl('/ws'), { headers: { 'User-Agent': userAgent } });
    const id = socket.upgradeHeaders['x-yc-apigateway-websocket-connection-id'];
    expect(typeof id).toBe('string');
    return { socket, id: id as string };
  }

  it('PostToConnection with UTF-8 data arrives as a text frame', async () => {
    const { socket, id } = await connected();
    const output = await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'héllo, wörld' }));
    expect(output.$metadata.httpStatusCode).toBe(200);
    expect(output.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const message = await socket.next();
    expect(message.binary).toBe(false);
    expect(message.text).toBe('héllo, wörld');
  });

  it('PostToConnection with bytes that are not UTF-8 arrives as a binary frame', async () => {
    const { socket, id } = await connected();
    const bytes = new Uint8Array([0xff, 0x00, 0x80, 0x7f, 0xc3]);
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: bytes }));
    const message = await socket.next();
    expect(message.binary).toBe(true);
    expect([...message.data]).toEqual([...bytes]);
  });

  it('X-Switchboard-Message-Type: BINARY (added by SDK middleware, signed) forces a binary frame', async () => {
    const { socket, id } = await connected();
    const binaryClient = useSdk(node.apiUrl);
    binaryClient.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-switchboard-message-type'] = 'BINARY';
        return next(args);
      },
      { step: 'build', name: 'switchboardBinaryFrames' },
    );
    await binaryClient.send(new PostToConnectionCommand({ ConnectionId: id, Data: '{"json":"but binary"}' }));
    const message = await socket.next();
    expect(message.binary).toBe(true);
    expect(message.text).toBe('{"json":"but binary"}');
  });

  it('PostToConnection takes exactly 131072 bytes and refuses 131073 with PayloadTooLargeException (413)', async () => {
    const { socket, id } = await connected();
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(131072, 'a') }));
    expect((await socket.next()).data.length).toBe(131072);
    const err = await failure(client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(131073, 'a') })));
    expect(err).toBeInstanceOf(PayloadTooLargeException);
    expect(err.$metadata?.httpStatusCode).toBe(413);
    expect(await socket.silentFor(100)).toBe(true);
  });

  it('GetConnection answers connectedAt and lastActiveAt as Dates, and the identity', async () => {
    const before = Date.now();
    const { id } = await connected('sdk-get-agent/1.0');
    const output = await client.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(output.$metadata.httpStatusCode).toBe(200);
    expect(output.ConnectedAt).toBeInstanceOf(Date);
    expect(output.LastActiveAt).toBeInstanceOf(Date);
    expect(output.ConnectedAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(output.ConnectedAt!.getTime()).toBeLessThanOrEqual(Date.now());
    expect(output.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(output.ConnectedAt!.getTime());
    expect(output.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'sdk-get-agent/1.0' });
  });

  it('GetConnection on the wire: exactly {connectedAt, identity{sourceIp,userAgent}, lastActiveAt}, ISO 8601 UTC', async () => {
    const { id } = await connected('wire-agent');
    const response = await signedFetch(node.apiUrl, 'GET', `/@connections/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['connectedAt', 'identity', 'lastActiveAt']);
    expect(body.identity).toEqual({ sourceIp: '127.0.0.1', userAgent: 'wire-agent' });
    expect(body.connectedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(body.lastActiveAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('DeleteConnection closes the socket with 1000; the id is then gone for every call', async () => {
    const { socket, id } = await connected();
    const output = await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(output.$metadata.httpStatusCode).toBe(204);
    expect((await socket.closed).code).toBe(1000);
    for (const command of [
      new GetConnectionCommand({ ConnectionId: id }),
      new PostToConnectionCommand({ ConnectionId: id, Data: 'late' }),
      new DeleteConnectionCommand({ ConnectionId: id }),
    ]) {
      const err = await failure(client.send(command as GetConnectionCommand));
      expect(err).toBeInstanceOf(GoneException);
      expect(err.$metadata?.httpStatusCode).toBe(410);
    }
  });

  it('an unknown connection id raises GoneException (410) for Post, Get and Delete', async () => {
    for (const command of [
      new PostToConnectionCommand({ ConnectionId: 'node-x.AAAAAAAAAAAAAAAAAAAAAA', Data: 'x' }),
      new GetConnectionCommand({ ConnectionId: 'no-such-id' }),
      new DeleteConnectionCommand({ ConnectionId: 'L0SM9cOFvHcCIhw=' }),
    ]) {
      const err = await failure(client.send(command as GetConnectionCommand));
      expect(err).toBeInstanceOf(GoneException);
      expect(err.$metadata?.httpStatusCode).toBe(410);
    }
  });

  it('a stage segment in the endpoint (https://host/{stage}, as API Gateway hands out) works too', async () => {
    const { socket, id } = await connected();
    const staged = useSdk(`${node.apiUrl}/production`);
    await staged.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'via stage' }));
    expect((await staged.send(new GetConnectionCommand({ ConnectionId: id }))).Identity?.SourceIp).toBe('127.0.0.1');
    expect((await socket.next()).text).toBe('via stage');
  });

  it('a client with the wrong secret, or an unknown access key, gets ForbiddenException and delivers nothing', async () => {
    const { socket, id } = await connected();
    for (const credentials of [
      { accessKeyId: KEY.accessKeyId, secretAccessKey: 'not-the-secret' },
      { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: KEY.secretAccessKey },
    ]) {
      const wrong = useSdk(node.apiUrl, credentials);
      const err = await failure(wrong.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'forged' })));
      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.$metadata?.httpStatusCode).toBe(403);
    }
    expect(await socket.silentFor(100)).toBe(true);
  });

  it('an unsigned request gets 403 with x-amzn-ErrorType: ForbiddenException and {"message"}', async () => {
    const { socket, id } = await connected();
    const response = await fetch(`${node.apiUrl}/@connections/${id}`, { method: 'POST', body: 'unsigned' });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['message']);
    expect(body.message).toMatch(/Missing Authentication Token/);
    expect(await socket.silentFor(100)).toBe(true);
  });

  it('a valid API key does not open @connections (SigV4 only), though it opens the other routes', async () => {
    const { id } = await connected();
    const response = await fetch(`${node.apiUrl}/@connections/${id}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect((await node.api('GET', `/apigateways/websocket/v1/connections/${id}`, undefined, { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
    expect((await node.api('GET', `/apigateways/websocket/v1/connections/${id}`)).status).toBe(401);
  });

  it('a request signed 10 minutes ago gets 403 ForbiddenException (clock skew limit 5 minutes)', async () => {
    const { socket, id } = await connected();
    const response = await signedFetch(node.apiUrl, 'POST', `/@connections/${id}`, { body: 'stale', at: Date.now() - 10 * 60_000 });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect(((await response.json()) as { message: string }).message).toMatch(/Signature expired/);
    // The same request signed now goes through: it was only the date.
    const fresh = await signedFetch(node.apiUrl, 'POST', `/@connections/${id}`, { body: 'fresh' });
    expect(fresh.status).toBe(200);
    expect(await fresh.text()).toBe('');
    expect((await socket.next()).text).toBe('fresh');
  });

  it('the SDK with a clock 10 minutes slow gets ForbiddenException on its first attempt', async () => {
    const { id } = await connected();
    const slow = useSdk(node.apiUrl, KEY, { systemClockOffset: -10 * 60_000 });
    const err = await failure(slow.send(new GetConnectionCommand({ ConnectionId: id })));
    expect(err).toBeInstanceOf(ForbiddenException);
    expect(err.message).toMatch(/Signature expired/);
    // The SDK corrects its clock from our Date header, as it does against AWS: the next call passes.
    expect(Math.abs(slow.config.systemClockOffset ?? -600_000)).toBeLessThan(60_000);
    expect((await slow.send(new GetConnectionCommand({ ConnectionId: id }))).$metadata.httpStatusCode).toBe(200);
  });

  it('a signed request whose body was changed in transit gets 403', async () => {
    const { socket, id } = await connected();
    const url = `${node.apiUrl}/@connections/${id}`;
    const amzDate = amzDateOf(Date.now());
    const headers = { host: new URL(url).host, 'x-amz-date': amzDate };
    const { authorization } = sign(
      { method: 'POST', path: `/@connections/${id}`, query: '', headers },
      { ...KEY, region: 'us-east-1', service: 'execute-api', amzDate, body: 'original' },
    );
    const response = await fetch(url, { method: 'POST', headers: { 'x-amz-date': amzDate, authorization }, body: 'tampered' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toMatch(/signature we calculated does not match/);
    expect(await socket.silentFor(100)).toBe(true);
  });

  it('any content type is taken as raw bytes (a JSON body is not parsed, a bodiless type is fine)', async () => {
    const { socket, id } = await connected();
    for (const [contentType, body] of [
      ['application/json', '{"not": "parsed'],
      ['text/plain; charset=utf-8', 'plain'],
      [undefined, Buffer.from([0x01, 0xff])],
    ] as const) {
      const response = await signedFetch(node.apiUrl, 'POST', `/@connections/${id}`, { body, headers: contentType ? { 'content-type': contentType } : {} });
      expect(response.status, contentType).toBe(200);
      const message = await socket.next();
      expect(message.data.equals(Buffer.from(body))).toBe(true);
      expect(message.binary).toBe(contentType === undefined);
    }
  });

  it('X-Switchboard-Message-Type: TEXT with bytes that are not UTF-8 is a BadRequestException (400)', async () => {
    const { socket, id } = await connected();
    const response = await signedFetch(node.apiUrl, 'POST', `/@connections/${id}`, {
      body: Buffer.from([0xff, 0xfe]),
      headers: { 'x-switchboard-message-type': 'TEXT', 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    expect(((await response.json()) as { message: string }).message).toMatch(/valid UTF-8/);
    expect(await socket.silentFor(100)).toBe(true);
  });
});

describe('@connections without management.awsAccessKeys', () => {
  const node = suiteNode({ spec: SPEC });

  it('answers ForbiddenException to every request, signed or not', async () => {
    const client = useSdk(node.apiUrl);
    const err = await failure(client.send(new GetConnectionCommand({ ConnectionId: 'anything' })));
    expect(err).toBeInstanceOf(ForbiddenException);
    expect(err).toBeInstanceOf(ApiGatewayManagementApiServiceException);
    expect(err.message).toMatch(/no AWS access keys configured/);
    const response = await fetch(`${node.apiUrl}/@connections/anything`, { method: 'DELETE' });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
  });
});
