import { beforeEach, describe, expect, it } from 'vitest';
import { defaultSettings, SwitchboardNode } from '../../src/index.js';
import { createLogger } from '../../src/observability/index.js';
import { type ApiResponse, b64, connectClient, eventually, type TestClient, type TestNode } from '../support/harness.js';
import { useClient, useNode } from '../support/scoped.js';
import { dummy, RFC3339_UTC, sleep, specYaml } from '../support/fixtures.js';

const CONNECTIONS = '/apigateways/websocket/v1/connections';
const SPEC = specYaml({ '/ws': { message: dummy('') } }, 'mgmt-gw');

interface RpcStatus {
  code: number;
  message: string;
  details: { '@type': string; fieldViolations?: { field: string; description: string }[] }[];
}

function expectBadRequest(response: ApiResponse, field: string): void {
  expect(response.status, response.text).toBe(400);
  const body = response.json as RpcStatus;
  expect(body.code).toBe(3);
  expect(typeof body.message).toBe('string');
  expect(body.details).toHaveLength(1);
  expect(body.details[0]!['@type']).toBe('type.googleapis.com/google.rpc.BadRequest');
  expect(body.details[0]!.fieldViolations?.[0]?.field).toBe(field);
}

function expectStatus(response: ApiResponse, http: number, code: number): RpcStatus {
  expect(response.status, response.text).toBe(http);
  const body = response.json as RpcStatus;
  expect(Object.keys(body).sort()).toEqual(['code', 'details', 'message']);
  expect(body.code).toBe(code);
  expect(Array.isArray(body.details)).toBe(true);
  return body;
}

describe('management API: the Connection service', () => {
  let node: TestNode;
  beforeEach(async () => {
    node = await useNode({ spec: SPEC });
  });

  async function connected(options: Parameters<typeof connectClient>[1] = {}): Promise<{ client: TestClient; id: string }> {
    const client = await useClient(node.wsUrl('/ws'), options);
    return { client, id: client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string };
  }

  it('get answers exactly id, gatewayId, identity{sourceIp,userAgent}, connectedAt, lastActiveAt', async () => {
    const { id } = await connected({ headers: { 'User-Agent': 'api-test-agent' } });
    const response = await node.api('GET', `${CONNECTIONS}/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = response.json as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['connectedAt', 'gatewayId', 'id', 'identity', 'lastActiveAt']);
    expect(body).toEqual({
      id,
      gatewayId: 'mgmt-gw',
      identity: { sourceIp: '127.0.0.1', userAgent: 'api-test-agent' },
      connectedAt: expect.stringMatching(RFC3339_UTC),
      lastActiveAt: expect.stringMatching(RFC3339_UTC),
    });
    expect(Date.parse(body.lastActiveAt as string)).toBeGreaterThanOrEqual(Date.parse(body.connectedAt as string));
    expect(Math.abs(Date.parse(body.connectedAt as string) - Date.now())).toBeLessThan(5000);
  });

  it('send TEXT delivers one text frame and answers 200 {}', async () => {
    const { client, id } = await connected();
    const response = await node.api('POST', `${CONNECTIONS}/${id}:send`, { data: b64('héllo'), type: 'TEXT' });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({});
    const frame = await client.next();
    expect(frame).toMatchObject({ binary: false, text: 'héllo' });
    expect(await client.silentFor(100)).toBe(true);
  });

  it('send BINARY delivers one binary frame and answers 200 {}', async () => {
    const { client, id } = await connected();
    const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
    const response = await node.api('POST', `${CONNECTIONS}/${id}:send`, { data: bytes.toString('base64'), type: 'BINARY' });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({});
    const frame = await client.next();
    expect(frame.binary).toBe(true);
    expect(frame.data.equals(bytes)).toBe(true);
    expect(await client.silentFor(100)).toBe(true);
  });

  it('send accepts exactly 131072 decoded bytes', async () => {
    const { client, id } = await connected();
    const bytes = Buffer.alloc(131072, 7);
    const response = await node.api('POST', `${CONNECTIONS}/${id}:send`, { data: bytes.toString('base64'), type: 'BINARY' });
    expect(response.status).toBe(200);
    expect((await client.next()).data.length).toBe(131072);
  });

  it('delete closes the client with 1000 and answers 200 {}', async () => {
    const { client, id } = await connected();
    const response = await node.api('DELETE', `${CONNECTIONS}/${id}`);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({});
    expect((await client.closed).code).toBe(1000);
  });

  it('get, send and delete answer 404 code 5 for an unknown id', async () => {
    await connected();
    const unknown = 'nobody.AAAAAAAAAAAAAAAAAAAAAA';
    expectStatus(await node.api('GET', `${CONNECTIONS}/${unknown}`), 404, 5);
    expectStatus(await node.api('POST', `${CONNECTIONS}/${unknown}:send`, { data: b64('x'), type: 'TEXT' }), 404, 5);
    expectStatus(await node.api('DELETE', `${CONNECTIONS}/${unknown}`), 404, 5);
  });

  it('get and send answer 404 code 5 after the client closed, and send delivers nothing', async () => {
    const { client, id } = await connected();
    await client.close();
    await eventually(() => node.api('GET', `${CONNECTIONS}/${id}`), (r) => r.status === 404);
    expectStatus(await node.api('GET', `${CONNECTIONS}/${id}`), 404, 5);
    expectStatus(await node.api('POST', `${CONNECTIONS}/${id}:send`, { data: b64('late'), type: 'TEXT' }), 404, 5);
    expectStatus(await node.api('DELETE', `${CONNECTIONS}/${id}`), 404, 5);
  });

  it('send to a connection closed through the API answers 404 NOT_FOUND and delivers nothing', async () => {
    const { client, id } = await connected();
    expect((await node.api('DELETE', `${CONNECTIONS}/${id}`)).status).toBe(200);
    expectStatus(await node.api('POST', `${CONNECTIONS}/${id}:send`, { data: b64('late'), type: 'TEXT' }), 404, 5);
    expectStatus(await node.api('GET', `${CONNECTIONS}/${id}`), 404, 5);
    expect((await client.closed).code).toBe(1000);
    expect(await client.silentFor(50)).toBe(true);
  });

  describe('send validation: 400 INVALID_ARGUMENT naming the field', () => {
    const cases: [string, unknown, string][] = [
      ['body is a JSON array, not an object', [1, 2], 'body'],
      ['body is a JSON string', '"just a string"', 'body'],
      ['body is JSON null', 'null', 'body'],
      ['data is missing', { type: 'TEXT' }, 'data'],
      ['data is not base64', { data: 'not base64!!', type: 'TEXT' }, 'data'],
      ['data decodes to more than 131072 bytes', { data: Buffer.alloc(131073, 1).toString('base64'), type: 'BINARY' }, 'data'],
      ['type is unknown', { data: b64('x'), type: 'JSON' }, 'type'],
      ['an extra field is present', { data: b64('x'), type: 'TEXT', extra: true }, 'extra'],
      ['data is a number (no coercion)', { data: 12345, type: 'TEXT' }, 'data'],
      ['type is a list (no coercion)', { data: b64('x'), type: ['TEXT'] }, 'type'],
      ['type is lower case', { data: b64('x'), type: 'text' }, 'type'],
      ['data of a TEXT message is not UTF-8', { data: Buffer.from([0xff, 0xfe]).toString('base64'), type: 'TEXT' }, 'data'],
    ];
    for (const [what, body, field] of cases) {
      it(`${what} → field ${field}`, async () => {
        const { client, id } = await connected();
        expectBadRequest(await node.api('POST', `${CONNECTIONS}/${id}:send`, body), field);
        expect(await client.silentFor(30)).toBe(true);
      });
    }

    it('an invalid JSON body answers 400 google.rpc.Status', async () => {
      const { id } = await connected();
      const response = await node.api('POST', `${CONNECTIONS}/${id}:send`, '{"data": "eA==", ');
      const body = expectStatus(response, 400, 3);
      expect(body.message.length).toBeGreaterThan(0);
    });
  });

  it('an unknown path answers 404 google.rpc.Status', async () => {
    const body = expectStatus(await node.api('GET', '/apigateways/websocket/v1/nothing-here'), 404, 5);
    expect(body.message).toContain('/apigateways/websocket/v1/nothing-here');
    expectStatus(await node.api('GET', '/'), 404, 5);
  });

  it('lastActiveAt moves after a client frame and after a server send', async () => {
    const { client, id } = await connected();
    const lastActive = async (): Promise<number> =>
      Date.parse(((await node.api('GET', `${CONNECTIONS}/${id}`)).json as { lastActiveAt: string }).lastActiveAt);
    const initial = await lastActive();
    await sleep(15);
    client.ws.send('hello');
    const afterClientFrame = await eventually(lastActive, (t) => t > initial);
    await sleep(15);
    expect((await node.api('POST', `${CONNECTIONS}/${id}:send`, { data: b64('x'), type: 'TEXT' })).status).toBe(200);
    await client.next();
    expect(await lastActive()).toBeGreaterThan(afterClientFrame);
  });
});

describe('management API: API keys', () => {
  it('answers 401 code 16 without a key or with a wrong one, and accepts Bearer and Api-Key', async () => {
    const node = await useNode({ spec: SPEC, settings: { management: { apiKeys: [{ key: 'sekret-key-1', scopes: ['read', 'write', 'broadcast'] }] } } });
    const client = await connectClient(node.wsUrl('/ws'));
    const id = client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
    const path = `${CONNECTIONS}/${id}`;
    expectStatus(await node.api('GET', path), 401, 16);
    expectStatus(await node.api('GET', path, undefined, { authorization: 'Bearer wrong-key' }), 401, 16);
    expectStatus(await node.api('GET', path, undefined, { authorization: 'Basic c2VrcmV0LWtleS0x' }), 401, 16);
    expectStatus(await node.api('POST', `${path}:send`, { data: b64('x'), type: 'TEXT' }), 401, 16);
    expectStatus(await node.api('DELETE', path), 401, 16);
    expect((await node.api('GET', path, undefined, { authorization: 'Bearer sekret-key-1' })).status).toBe(200);
    expect((await node.api('GET', path, undefined, { authorization: 'Api-Key sekret-key-1' })).status).toBe(200);
    expect((await node.api('POST', `${path}:send`, { data: b64('k'), type: 'TEXT' }, { authorization: 'Api-Key sekret-key-1' })).status).toBe(200);
    expect((await client.next()).text).toBe('k');
    // Every answer above is counted by method and status on /metrics.
    const metrics = (await node.api('GET', '/metrics', undefined, { authorization: 'Bearer sekret-key-1' })).text;
    expect(metrics).toContain('switchboard_api_requests_total{method="GET",status="401"} 3');
    expect(metrics).toContain('switchboard_api_requests_total{method="POST",status="401"} 1');
    expect(metrics).toContain('switchboard_api_requests_total{method="DELETE",status="401"} 1');
    expect(metrics).toContain('switchboard_api_requests_total{method="GET",status="200"} 2');
    expect(metrics).toContain('switchboard_api_requests_total{method="POST",status="200"} 1');
    await client.close();
  });

  it('refuses to start a management listener on a non-loopback address without an API key', async () => {
    const base = defaultSettings();
    const settings = {
      ...base,
      listen: { host: '127.0.0.1', port: 0 },
      management: { ...base.management, listen: { host: '0.0.0.0', port: 0 } },
      log: { level: 'silent' as const },
    };
    await expect(SwitchboardNode.start(settings, { log: createLogger('silent') })).rejects.toThrow(/management\.listen/);
  });
});
