import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { connectClient, type RecordedRequest, type TestBackend, type TestNode } from '../support/harness.js';
import { useBackend, useNode } from '../support/scoped.js';
import { http, RFC3339_UTC, specYaml } from '../support/fixtures.js';

const ID = 'x-yc-apigateway-websocket-connection-id';
const EVENT = 'x-yc-apigateway-websocket-event-type';
const CONNECTED_AT = 'x-yc-apigateway-websocket-connected-at';
const MESSAGE_ID = 'x-yc-apigateway-websocket-message-id';
const STATUS = 'x-yc-apigateway-websocket-disconnect-status-code';
const REASON = 'x-yc-apigateway-websocket-disconnect-reason';

describe('headers every backend call carries', () => {
  async function start(): Promise<{ node: TestNode; backend: TestBackend }> {
    const backend = await useBackend();
    const node = await useNode({
      spec: specYaml({
        '/chat/{room}': {
          connect: http(`${backend.url}/rooms/{room}/connect`),
          message: http(`${backend.url}/rooms/{room}/message`, { headers: { 'X-Static': 'from-spec' } }),
          disconnect: http(`${backend.url}/rooms/{room}/disconnect`),
        },
      }),
    });
    return { node, backend };
  }

  it('CONNECT carries the id, event type, connected-at, a message id, the client headers and query, X-Forwarded-For and User-Agent', async () => {
    const { node, backend: b } = await start();
    const client = await connectClient(node.wsUrl('/chat/lobby?token=abc&lang=en'), {
      headers: { 'User-Agent': 'switchboard-test/1.0', 'X-Client-Trace': 'trace-42', Authorization: 'Bearer client-token' },
    });
    const id = client.upgradeHeaders[ID] as string;
    const call = await b.waitFor((r) => r.url.startsWith('/rooms/lobby/connect'));
    const url = new URL(call.url, 'http://backend');
    expect(url.pathname).toBe('/rooms/lobby/connect');
    expect(url.searchParams.get('token')).toBe('abc');
    expect(url.searchParams.get('lang')).toBe('en');
    expect(call.headers[ID]).toBe(id);
    expect(call.headers[EVENT]).toBe('CONNECT');
    expect(call.headers[CONNECTED_AT]).toMatch(RFC3339_UTC);
    expect(call.headers[MESSAGE_ID]).toMatch(/^[0-9a-f-]{36}$/);
    expect(call.headers['x-client-trace']).toBe('trace-42');
    expect(call.headers.authorization).toBe('Bearer client-token');
    expect(call.headers['user-agent']).toBe('switchboard-test/1.0');
    expect(call.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(call.headers[STATUS]).toBeUndefined();
    await client.close();
  });

  it('MESSAGE carries the same id and connected-at, the spec headers, path parameters, and message ids unique and in time order', async () => {
    const { node, backend: b } = await start();
    const client = await connectClient(node.wsUrl('/chat/room%201'), { headers: { 'User-Agent': 'ua-msg' } });
    const id = client.upgradeHeaders[ID] as string;
    const connect = await b.waitFor((r) => r.headers[EVENT] === 'CONNECT');
    for (let i = 0; i < 5; i++) {
      client.ws.send(`m${i}`);
      await b.waitFor((r) => r.body.toString() === `m${i}`);
      await new Promise((r) => setTimeout(r, 3));
    }
    const messages = b.requests.filter((r) => r.headers[EVENT] === 'MESSAGE');
    expect(messages.map((r) => r.body.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    for (const m of messages) {
      expect(m.url).toBe('/rooms/room%201/message');
      expect(m.headers[ID]).toBe(id);
      expect(m.headers[CONNECTED_AT]).toBe(connect.headers[CONNECTED_AT]);
      expect(m.headers['x-static']).toBe('from-spec');
      expect(m.headers['user-agent']).toBe('ua-msg');
      expect(m.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(m.headers[STATUS]).toBeUndefined();
    }
    const ids = [connect, ...messages].map((r) => r.headers[MESSAGE_ID] as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    await client.close();
  });

  it('DISCONNECT carries the close status code and reason the client sent', async () => {
    const { node, backend: b } = await start();
    const client = await connectClient(node.wsUrl('/chat/lobby'));
    const id = client.upgradeHeaders[ID] as string;
    client.ws.close(4001, 'bye now');
    const call: RecordedRequest = await b.waitFor((r) => r.headers[EVENT] === 'DISCONNECT');
    expect(call.url).toBe('/rooms/lobby/disconnect');
    expect(call.headers[ID]).toBe(id);
    expect(call.headers[STATUS]).toBe('4001');
    expect(call.headers[REASON]).toBe('bye now');
    expect(call.headers[CONNECTED_AT]).toMatch(RFC3339_UTC);
    const connect = b.requests.find((r) => r.headers[EVENT] === 'CONNECT')!;
    expect((call.headers[MESSAGE_ID] as string) > (connect.headers[MESSAGE_ID] as string)).toBe(true);
  });

  it('DISCONNECT after a management API delete carries 1000', async () => {
    const { node, backend: b } = await start();
    const client = await connectClient(node.wsUrl('/chat/lobby'));
    const id = client.upgradeHeaders[ID] as string;
    expect((await node.api('DELETE', `/apigateways/websocket/v1/connections/${id}`)).status).toBe(200);
    const call = await b.waitFor((r) => r.headers[EVENT] === 'DISCONNECT');
    expect(call.headers[STATUS]).toBe('1000');
    expect((await client.closed).code).toBe(1000);
  });

  it('ignores a client-sent X-Forwarded-For unless the peer is a trusted proxy', async () => {
    const backend = await useBackend();
    const spec = specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: http(`${backend.url}/message`) } });
    const node = await useNode({ spec });
    const spoofing = await connectClient(node.wsUrl('/ws'), { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    const id = spoofing.upgradeHeaders[ID] as string;
    const call = await backend.waitFor((r) => r.headers[ID] === id);
    expect(call.headers['x-forwarded-for']).toBe('127.0.0.1');
    const view = (await node.api('GET', `/apigateways/websocket/v1/connections/${id}`)).json as { identity: { sourceIp: string } };
    expect(view.identity.sourceIp).toBe('127.0.0.1');
    await spoofing.close();
    await node.close();

    const trusting = await useNode({ spec, settings: { trustedProxies: ['127.0.0.1'] } });
    const proxied = await connectClient(trusting.wsUrl('/ws'), { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    const proxiedId = proxied.upgradeHeaders[ID] as string;
    const proxiedCall = await backend.waitFor((r) => r.headers[ID] === proxiedId);
    expect(proxiedCall.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    const proxiedView = (await trusting.api('GET', `/apigateways/websocket/v1/connections/${proxiedId}`)).json as { identity: { sourceIp: string } };
    expect(proxiedView.identity.sourceIp).toBe('203.0.113.9');
    await proxied.close();
  });

  it('refuses "." and ".." as path parameters, so a client cannot climb the backend URL', async () => {
    const { node, backend: b } = await start();
    const port = Number(new URL(node.wsUrl('/')).port);
    for (const target of ['/chat/..', '/chat/%2E%2E', '/chat/.']) {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = request({
          host: '127.0.0.1',
          port,
          path: target,
          headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('upgrade', (_res, socket) => {
          socket.destroy();
          resolve(101);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status, target).toBe(404);
    }
    expect(b.requests).toEqual([]);
  });
});

