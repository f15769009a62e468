import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, startBackend, startTestNode, type TestBackend, type TestClient, type TestNode } from '../support/harness.js';
import { dummy, http, specYaml } from '../support/fixtures.js';

describe('messages through an http integration', () => {
  let node: TestNode | undefined;
  let backend: TestBackend | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await node?.close();
    await backend?.close();
    node = undefined;
    backend = undefined;
  });

  async function setup(handler?: Parameters<typeof startBackend>[0]): Promise<TestClient> {
    backend = await startBackend(handler);
    node = await startTestNode({ spec: specYaml({ '/ws': { message: http(`${backend.url}/message`) } }) });
    const client = await connectClient(node.wsUrl('/ws'));
    clients.push(client);
    return client;
  }

  it('posts a text frame as application/json and returns a JSON answer as a text frame', async () => {
    const client = await setup((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: req.body.toString('utf8') }));
    });
    client.ws.send('{"say":"hi"}');
    const reply = await client.next();
    expect(reply.binary).toBe(false);
    expect(JSON.parse(reply.text)).toEqual({ echo: '{"say":"hi"}' });
    const call = backend!.requests[0]!;
    expect(call.method).toBe('POST');
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.body.toString('utf8')).toBe('{"say":"hi"}');
  });

  it('posts a binary frame as application/octet-stream and returns a binary answer as a binary frame', async () => {
    const client = await setup((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from([...req.body].reverse()));
    });
    client.ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    const reply = await client.next();
    expect(reply.binary).toBe(true);
    expect([...reply.data]).toEqual([255, 2, 1, 0]);
    const call = backend!.requests[0]!;
    expect(call.headers['content-type']).toBe('application/octet-stream');
    expect([...call.body]).toEqual([0, 1, 2, 255]);
  });

  it('returns a text/* answer as a text frame and an answer without a content type as binary', async () => {
    const client = await setup((req, res) => {
      if (req.body.toString() === 'plain') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('plain answer');
      } else {
        res.end('untyped answer');
      }
    });
    client.ws.send('plain');
    const text = await client.next();
    expect(text).toMatchObject({ binary: false, text: 'plain answer' });
    client.ws.send('other');
    const untyped = await client.next();
    expect(untyped).toMatchObject({ binary: true, text: 'untyped answer' });
  });

  it('sends nothing back for an empty 2xx answer', async () => {
    const client = await setup((_req, res) => {
      res.writeHead(204).end();
    });
    client.ws.send('x');
    await backend!.waitFor(() => true);
    expect(await client.silentFor(150)).toBe(true);
  });

  it('keeps the order of one connection: 50 quick messages to a backend with random delays come back in order', async () => {
    const client = await setup(async (req, res) => {
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 8)));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`re:${req.body.toString()}`);
    });
    for (let i = 0; i < 50; i++) client.ws.send(String(i));
    const replies: string[] = [];
    for (let i = 0; i < 50; i++) replies.push((await client.next()).text);
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => `re:${i}`));
    expect(backend!.requests.map((r) => r.body.toString())).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('answers a backend error status with the documented error frame and keeps the connection open', async () => {
    const client = await setup((req, res) => {
      if (req.body.toString() === 'fail') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('boom');
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('fine');
      }
    });
    client.ws.send('fail');
    const frame = await client.nextJson<{ type: string; data: { code: string; status: number; message: string }; timestamp: string }>();
    expect(frame.type).toBe('error');
    expect(frame.data).toMatchObject({ code: 'BACKEND_ERROR', status: 500 });
    expect(typeof frame.data.message).toBe('string');
    client.ws.send('again');
    expect((await client.next()).text).toBe('fine');
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('answers a backend answer larger than the message limit with a 502 error frame, and the breaker stays shut', async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.body.toString() === 'big' ? 'x'.repeat(64 * 1024) : 'small');
    });
    node = await startTestNode({
      spec: specYaml({ '/ws': { message: http(`${backend.url}/message`) } }),
      settings: { limits: { maxMessageBytes: 16 * 1024 }, backends: { circuitBreaker: { failureThreshold: 1, cooldownSeconds: 60 } } },
    });
    const client = await connectClient(node.wsUrl('/ws'));
    clients.push(client);
    client.ws.send('big');
    const frame = await client.nextJson<{ type: string; data: { code: string; status: number; message: string } }>();
    expect(frame).toMatchObject({ type: 'error', data: { code: 'BACKEND_ERROR', status: 502 } });
    expect(frame.data.message).toContain('larger than 16384 bytes');
    // A breaker that counted it would answer the next message 503 without asking the backend.
    client.ws.send('next');
    expect((await client.next()).text).toBe('small');
  });

  it('answers an unreachable message backend with a BACKEND_ERROR frame of status 502 and stays open', async () => {
    const client = await setup();
    await backend!.close();
    client.ws.send('hello');
    const frame = await client.nextJson<{ type: string; data: { code: string; status: number } }>();
    expect(frame).toMatchObject({ type: 'error', data: { code: 'BACKEND_ERROR', status: 502 } });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});

describe('route selection', () => {
  let node: TestNode | undefined;
  let backend: TestBackend | undefined;
  afterEach(async () => {
    await node?.close();
    await backend?.close();
    node = undefined;
    backend = undefined;
  });

  it('picks the integration by $request.body.action and falls back to $default', async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.url);
    });
    node = await startTestNode({
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
    const client = await connectClient(node.wsUrl('/ws'));
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
    backend = await startBackend((_req, res) => {
      res.end('joined');
    });
    node = await startTestNode({
      spec: specYaml({ '/ws': { selection: '$request.body.action', routes: { join: http(`${backend.url}/join`) } } }),
    });
    const client = await connectClient(node.wsUrl('/ws'));
    client.ws.send('{"action":"nope"}');
    expect(await client.nextJson()).toMatchObject({ type: 'error', data: { code: 'NO_ROUTE', status: 404 } });
    expect(backend.requests).toHaveLength(0);
    await client.close();
  });

  it('answers a dummy route in the order of the connection, behind a slower http route, and a dummy error status with an error frame', async () => {
    backend = await startBackend((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow');
      }, 50);
    });
    node = await startTestNode({
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
    const client = await connectClient(node.wsUrl('/ws'));
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
