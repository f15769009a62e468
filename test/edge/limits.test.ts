import { describe, expect, it, onTestFinished } from 'vitest';
import { b64, connectClient, eventually, type TestClient } from '../support/harness.js';
import { useBackend, useClient, useNode } from '../support/scoped.js';
import { dummy, http, sleep, specYaml } from '../support/fixtures.js';
import { rawUpgrade } from '../support/raw-http.js';

const CONNECTIONS = '/apigateways/websocket/v1/connections';
const ECHO_SPEC = specYaml({ '/ws': { message: dummy('ok') } });
const idOf = (client: TestClient): string => client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;

describe('limits', () => {
  it('closes with 1009 a message over maxMessageBytes', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { maxMessageBytes: 1024, maxFrameBytes: 1024 } } });
    const c = await useClient(node.wsUrl('/ws'));
    c.ws.send('a'.repeat(1000));
    expect((await c.next()).text).toBe('ok');
    c.ws.send('a'.repeat(1025));
    expect((await c.closed).code).toBe(1009);
  });

  it('closes with 1009 a fragmented message whose frames are small but whose total is over maxMessageBytes', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { maxMessageBytes: 4096, maxFrameBytes: 1024 } } });
    const c = await useClient(node.wsUrl('/ws'));
    // Three 1000-byte fragments: 3000 bytes, within both limits.
    c.ws.send('a'.repeat(1000), { fin: false });
    c.ws.send('a'.repeat(1000), { fin: false });
    c.ws.send('a'.repeat(1000), { fin: true });
    expect((await c.next()).text).toBe('ok');
    for (let i = 0; i < 5; i++) c.ws.send('b'.repeat(1000), { fin: false });
    c.ws.send('b', { fin: true });
    expect((await c.closed).code).toBe(1009);
  });

  it('closes with 1009 a single frame over maxFrameBytes while the message limit is larger', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { maxMessageBytes: 65536, maxFrameBytes: 1024 } } });
    const c = await useClient(node.wsUrl('/ws'));
    c.ws.send('a'.repeat(1024));
    expect((await c.next()).text).toBe('ok');
    c.ws.send('a'.repeat(2000));
    const closed = await c.closed;
    expect(closed.code).toBe(1009);
  });

  it('closes with 1009 one oversized fragment of a message whose total would fit', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { maxMessageBytes: 65536, maxFrameBytes: 1024 } } });
    const c = await useClient(node.wsUrl('/ws'));
    c.ws.send('a'.repeat(500), { fin: false });
    c.ws.send('a'.repeat(3000), { fin: true });
    expect((await c.closed).code).toBe(1009);
  });

  it('closes with 1013 a connection over maxConnections', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { maxConnections: 2 } } });
    await useClient(node.wsUrl('/ws'));
    await useClient(node.wsUrl('/ws'));
    const third = await useClient(node.wsUrl('/ws'));
    expect((await third.closed).code).toBe(1013);
    expect(node.node.registry.size).toBe(2);
  });

  it('closes with 1013 a connection over maxConnectionsPerIp, and admits one again after a client leaves', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { maxConnectionsPerIp: 1 } } });
    const first = await useClient(node.wsUrl('/ws'));
    const second = await useClient(node.wsUrl('/ws'));
    expect((await second.closed).code).toBe(1013);
    await first.close();
    await eventually(() => node.node.registry.size, (n) => n === 0);
    const third = await useClient(node.wsUrl('/ws'));
    third.ws.send('hi');
    expect((await third.next()).text).toBe('ok');
  });

  it('closes with 1008 a client that sends more than messagesPerSecond', async () => {
    const node = await useNode({ spec: ECHO_SPEC, settings: { limits: { messagesPerSecond: 5 } } });
    const c = await useClient(node.wsUrl('/ws'));
    for (let i = 0; i < 10; i++) c.ws.send(`m${i}`);
    expect((await c.closed).code).toBe(1008);
  });

  it('drops a slow consumer past outboundBufferBytes while other clients keep receiving', async () => {
    const backend = await useBackend();
    const node = await useNode({
      spec: specYaml({ '/ws': { message: dummy(''), disconnect: http(`${backend.url}/disconnect`) } }),
      settings: { limits: { outboundBufferBytes: 65536 } },
    });
    const healthy = await useClient(node.wsUrl('/ws'));
    const slow = await rawUpgrade(node.node.clientAddress.port, '/ws');
    onTestFinished(() => {
      slow.socket.destroy();
    });
    expect(slow.status).toBe(101);
    const slowId = slow.headers['x-yc-apigateway-websocket-connection-id']!;
    const chunk = { data: Buffer.alloc(131072, 120).toString('base64'), type: 'BINARY' };
    // The slow client never reads: the kernel buffers fill, then the node's own buffer does.
    let answer = 200;
    let sent = 0;
    while (answer === 200 && sent < 2000) {
      answer = (await node.api('POST', `${CONNECTIONS}/${slowId}:send`, chunk)).status;
      sent++;
    }
    expect(answer).toBe(404);
    expect((await node.api('GET', `${CONNECTIONS}/${slowId}`)).status).toBe(404);
    // The node lets go of the socket: its buffered megabytes are freed, and the backend hears of it.
    const ended = new Promise<void>((resolve) => slow.socket.once('close', () => resolve()));
    slow.socket.resume();
    await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('slow socket still open after 3 s')), 3000))]);
    const call = await backend.waitFor((r) => r.headers['x-yc-apigateway-websocket-connection-id'] === slowId, 3000);
    expect(call.headers['x-yc-apigateway-websocket-disconnect-status-code']).toBe('1013');
    // Everyone else is unaffected.
    expect((await node.api('POST', `${CONNECTIONS}/${idOf(healthy)}:send`, { data: b64('still here'), type: 'TEXT' })).status).toBe(200);
    expect((await healthy.next()).text).toBe('still here');
  });

  it('counts handshakes still waiting for the connect backend against maxConnectionsPerIp', async () => {
    const backend = await useBackend((_req, res) => {
      setTimeout(() => res.end(), 200);
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('ok') } }),
      settings: { limits: { maxConnectionsPerIp: 1 } },
    });
    const both = await Promise.all([useClient(node.wsUrl('/ws')), useClient(node.wsUrl('/ws'))]);
    const codes = await Promise.all(both.map((c) => Promise.race([c.closed.then((closed) => closed.code), sleep(300).then(() => 'open')])));
    expect(codes.sort()).toEqual([1013, 'open']);
    expect(node.node.registry.size).toBe(1);
    expect(backend.requests).toHaveLength(1);
  });

  it('refuses with 504 a handshake whose connect backend outlasts handshakeTimeoutSeconds', async () => {
    const backend = await useBackend((_req, res) => {
      setTimeout(() => res.end(), 3000);
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`, { timeouts: { read: 30 } }), message: dummy('ok') } }),
      settings: { limits: { handshakeTimeoutSeconds: 0.3 } },
    });
    const started = Date.now();
    const refusal = (await connectClient(node.wsUrl('/ws')).catch((err: unknown) => err)) as { status?: number };
    expect(refusal.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(node.node.registry.size).toBe(0);
  });
});
