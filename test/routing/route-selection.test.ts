import { describe, expect, it } from 'vitest';
import { dummy, http, specYaml } from '../support/fixtures.js';
import { useBackend, useClient, useNode } from '../support/scoped.js';

describe('route selection', () => {
  it('picks the integration by $request.body.action and falls back to $default', async () => {
    const backend = await useBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.url);
    });
    const node = await useNode({
      spec: specYaml({
        '/ws': {
          selection: '$request.body.action',
          routes: {
            join: http(`${backend.url}/join`),
            leave: { 'x-yc-apigateway-integration': http(`${backend.url}/leave`) },
            $default: http(`${backend.url}/default`),
          },
        },
      }),
    });
    const client = await useClient(node.wsUrl('/ws'));
    const ask = async (frame: string | Buffer): Promise<string> => {
      client.ws.send(frame);
      return (await client.next()).text;
    };
    expect(await ask('{"action":"join","room":"a"}')).toBe('/join');
    expect(await ask('{"action":"leave"}')).toBe('/leave');
    expect(await ask('{"action":"dance"}')).toBe('/default');
    expect(await ask('{"action":42}')).toBe('/default');
    expect(await ask('{"other":"join"}')).toBe('/default');
    expect(await ask('not json at all')).toBe('/default');
    expect(await ask(Buffer.from('{"action":"join"}'))).toBe('/default'); // binary frames are never parsed
    await client.close();
  });

  it('answers a message no route takes, on a path without $default, with a NO_ROUTE error frame', async () => {
    const backend = await useBackend((_req, res) => {
      res.end('joined');
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { selection: '$request.body.action', routes: { join: http(`${backend.url}/join`) } } }),
    });
    const client = await useClient(node.wsUrl('/ws'));
    client.ws.send('{"action":"nope"}');
    expect(await client.nextJson()).toMatchObject({ type: 'error', data: { code: 'NO_ROUTE', status: 404 } });
    expect(backend.requests).toHaveLength(0);
    await client.close();
  });

  it('answers a dummy route in the order of the connection, behind a slower http route, and a dummy error status with an error frame', async () => {
    const backend = await useBackend((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow');
      }, 50);
    });
    const node = await useNode({
      spec: specYaml({
        '/ws': {
          selection: '$request.body.action',
          routes: {
            slow: http(`${backend.url}/slow`),
            fixed: dummy('fixed'),
            broken: dummy('nope', 503),
          },
        },
      }),
    });
    const client = await useClient(node.wsUrl('/ws'));
    for (const action of ['slow', 'fixed', 'slow', 'fixed']) client.ws.send(JSON.stringify({ action }));
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push((await client.next()).text);
    expect(replies).toEqual(['slow', 'fixed', 'slow', 'fixed']);
    client.ws.send('{"action":"fixed"}');
    expect((await client.next()).text).toBe('fixed');
    client.ws.send('{"action":"broken"}');
    expect(await client.nextJson()).toMatchObject({ type: 'error', data: { code: 'BACKEND_ERROR', status: 503 } });
    await client.close();
  });
});
