import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../support/harness.js';
import { useBackend, useClient, useNode } from '../support/scoped.js';
import { dummy, http, specYaml, unusedPort } from '../support/fixtures.js';
import { upgradeRequest } from '../support/raw-http.js';

type Refusal = Error & { status: number; body: string; headers: Record<string, string> };

describe('the connect integration', () => {
  it('accepts on 2xx: the 101 carries the connection id and the backend body arrives as the first message', async () => {
    const backend = await useBackend((req, res) => {
      if (req.url === '/connect') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"hello":"client"}');
      } else res.end();
    });
    const node = await useNode({ spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: http(`${backend.url}/message`) } }) });
    const client = await useClient(node.wsUrl('/ws'));
    const id = client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'];
    expect(typeof id).toBe('string');
    expect(id).toMatch(/^[A-Za-z0-9._~-]{1,50}$/);
    const first = await client.next();
    expect(first.binary).toBe(false);
    expect(first.text).toBe('{"hello":"client"}');
    const connectCall = backend.requests.find((r) => r.url === '/connect')!;
    expect(connectCall.headers['x-yc-apigateway-websocket-connection-id']).toBe(id);
    expect((await node.api('GET', `/apigateways/websocket/v1/connections/${id as string}`)).status).toBe(200);
  });

  it('accepts on 2xx with an empty body and sends no first message', async () => {
    const backend = await useBackend((_req, res) => {
      res.writeHead(204).end();
    });
    const node = await useNode({ spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('ok') } }) });
    const client = await useClient(node.wsUrl('/ws'));
    expect(await client.silentFor(150)).toBe(true);
  });

  it('refuses the handshake with the backend status and body when the backend answers 403', async () => {
    const backend = await useBackend((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('go away');
    });
    const node = await useNode({ spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('ok') } }) });
    const refusal = (await connectClient(node.wsUrl('/ws')).then(
      () => expect.fail('the upgrade should be refused'),
      (err: unknown) => err,
    )) as Refusal;
    expect(refusal.status).toBe(403);
    expect(refusal.body).toBe('go away');
    expect(node.node.registry.size).toBe(0);
  });

  it('refuses with 502 when nothing listens on the connect backend port', async () => {
    const port = await unusedPort();
    const node = await useNode({ spec: specYaml({ '/ws': { connect: http(`http://127.0.0.1:${port}/connect`), message: dummy('ok') } }) });
    const refusal = (await connectClient(node.wsUrl('/ws')).catch((err: unknown) => err)) as Refusal;
    expect(refusal.status).toBe(502);
  });

  it('refuses with 504 when the connect backend is slower than its read timeout', async () => {
    const backend = await useBackend((_req, res) => {
      setTimeout(() => res.end(), 1500);
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`, { timeouts: { connect: 1, read: 0.2 } }), message: dummy('ok') } }),
    });
    // The backend would accept after 1.5 s, so a 504 can only come from the read timeout.
    const refusal = (await connectClient(node.wsUrl('/ws')).catch((err: unknown) => err)) as Refusal;
    expect(refusal.status).toBe(504);
  });
});

describe('plain HTTP on the client listener', () => {
  it('answers a plain GET on a WebSocket path with 426 Upgrade Required', async () => {
    const node = await useNode({ spec: specYaml({ '/ws': { message: dummy('ok') } }) });
    const response = await fetch(node.wsUrl('/ws').replace('ws://', 'http://'));
    expect(response.status).toBe(426);
    expect(response.headers.get('upgrade')).toBe('websocket');
    await response.text();
  });

  it('answers a plain GET on an unknown path with 404', async () => {
    const node = await useNode({ spec: specYaml({ '/ws': { message: dummy('ok') } }) });
    const response = await fetch(node.wsUrl('/nowhere').replace('ws://', 'http://'));
    expect(response.status).toBe(404);
    await response.text();
  });

  it('refuses an upgrade on an unknown path with 404', async () => {
    const node = await useNode({ spec: specYaml({ '/ws': { message: dummy('ok') } }) });
    const refusal = (await connectClient(node.wsUrl('/nowhere')).catch((err: unknown) => err)) as Refusal;
    expect(refusal.status).toBe(404);
  });

  it('survives a client that resets its socket while the connect backend is slow, then serves a new client', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const backend = await useBackend(async (_req, res) => {
      await gate;
      res.end();
    });
    const node = await useNode({ spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('pong') } }) });
    const port = node.node.clientAddress.port;
    const socket = netConnect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(upgradeRequest(port, '/ws'));
    await backend.waitFor((r) => r.url === '/connect');
    socket.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    // The node answers the backend for the vanished client without crashing, and still serves.
    const client = await connectClient(node.wsUrl('/ws'));
    client.ws.send('ping');
    expect((await client.next()).text).toBe('pong');
    expect(node.node.registry.size).toBe(1);
    await client.close();
  });

  it('answers a raw HTTP/1.1 request without an Upgrade header on a WebSocket path with 426', async () => {
    const node = await useNode({ spec: specYaml({ '/ws': { message: dummy('ok') } }) });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: node.node.clientAddress.port, path: '/ws', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(426);
  });

  it('refuses a malformed upgrade with 400 (an unsupported version with 426) before the connect backend hears of it', async () => {
    const backend = await useBackend();
    const node = await useNode({ spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('ok') } }) });
    const port = node.node.clientAddress.port;
    const malformed: [string, string][] = [
      // RFC 6455 §4.4: an unsupported version is 426, naming the one spoken.
      ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n', 'HTTP/1.1 426 Upgrade Required'],
      ['Sec-WebSocket-Version: 13\r\n', 'HTTP/1.1 400 Bad Request'],
      ['Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n', 'HTTP/1.1 400 Bad Request'],
    ];
    for (const [headers, statusLine] of malformed) {
      const answer = await new Promise<string>((resolve) => {
        const socket = netConnect(port, '127.0.0.1', () =>
          socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`),
        );
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.on('close', () => resolve(received));
        socket.on('error', () => resolve(received));
      });
      expect(answer.split('\r\n')[0]).toBe(statusLine);
    }
    expect(backend.requests).toHaveLength(0);
  });
});
