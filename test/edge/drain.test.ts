import { describe, expect, it } from 'vitest';
import { connectClient } from '../support/harness.js';
import { useBackend, useClient, useNode } from '../support/scoped.js';
import { dummy, http, specYaml } from '../support/fixtures.js';

describe('drain', () => {
  it('closes every client with 1001 and delivers their DISCONNECT calls before drain resolves', async () => {
    // A disconnect backend that takes its time: drain must still wait for it.
    const backend = await useBackend((_req, res) => {
      setTimeout(() => res.end(), 100);
    });
    const node = await useNode({ spec: specYaml({ '/ws': { message: dummy('ok'), disconnect: http(`${backend.url}/disconnect`) } }) });
    const clients = [await useClient(node.wsUrl('/ws')), await useClient(node.wsUrl('/ws')), await useClient(node.wsUrl('/ws'))];
    const ids = clients.map((c) => c.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string);
    const closes = clients.map((c) => c.closed);
    await node.node.drain();
    const disconnects = backend.requests.filter((r) => r.url === '/disconnect');
    expect(disconnects.map((r) => r.headers['x-yc-apigateway-websocket-connection-id']).sort()).toEqual([...ids].sort());
    for (const call of disconnects) {
      expect(call.headers['x-yc-apigateway-websocket-event-type']).toBe('DISCONNECT');
      expect(call.headers['x-yc-apigateway-websocket-disconnect-status-code']).toBe('1001');
    }
    for (const closed of await Promise.all(closes)) expect(closed.code).toBe(1001);
    expect(node.node.registry.size).toBe(0);
  });

  it('sends the DISCONNECT only after a message in flight is answered, and refuses new connections once drained', async () => {
    const seen: { url: string; at: number }[] = [];
    const backend = await useBackend((req, res) => {
      seen.push({ url: req.url, at: Date.now() });
      setTimeout(() => {
        if (req.url === '/message') seen.push({ url: 'answered', at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url === '/message' ? 'late answer' : '');
      }, 150);
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { message: http(`${backend.url}/message`), disconnect: http(`${backend.url}/disconnect`) } }),
    });
    const client = await useClient(node.wsUrl('/ws'));
    client.ws.send('question');
    await backend.waitFor((r) => r.url === '/message');
    await node.node.drain();
    expect(seen.map((s) => s.url)).toEqual(['/message', 'answered', '/disconnect']);
    expect((await client.closed).code).toBe(1001);
    await expect(connectClient(node.wsUrl('/ws'))).rejects.toThrow();
  });

  it('drain is bounded by drainSeconds even when a backend hangs', async () => {
    const backend = await useBackend((req, res) => {
      setTimeout(() => res.end(), req.url === '/message' ? 5000 : 0);
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { message: http(`${backend.url}/message`), disconnect: http(`${backend.url}/disconnect`) } }),
      settings: { drainSeconds: 0.3 },
    });
    const client = await useClient(node.wsUrl('/ws'));
    client.ws.send('stuck');
    await backend.waitFor((r) => r.url === '/message');
    const started = Date.now();
    await node.node.drain();
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await client.closed).code).toBe(1001);
  });

  it('stop() does not wait for backend calls in flight', async () => {
    const backend = await useBackend((req, res) => {
      setTimeout(() => res.end(), req.url === '/disconnect' ? 0 : 5000);
    });
    const node = await useNode({
      spec: specYaml({
        '/ws': { message: http(`${backend.url}/message`), disconnect: http(`${backend.url}/disconnect`) },
        '/slow-connect': { connect: http(`${backend.url}/connect`), message: dummy('ok') },
      }),
    });
    const client = await useClient(node.wsUrl('/ws'));
    client.ws.send('stuck');
    await backend.waitFor((r) => r.url === '/message');
    const handshake = connectClient(node.wsUrl('/slow-connect')).catch((err: unknown) => err);
    await backend.waitFor((r) => r.url === '/connect');
    const started = Date.now();
    await node.node.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await handshake).toBeInstanceOf(Error);
  });
});
