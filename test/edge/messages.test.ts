import { describe, expect, it } from 'vitest';
import type { BackendHandler, TestBackend, TestClient } from '../support/harness.js';
import { useBackend, useClient, useNode } from '../support/scoped.js';
import { http, specYaml } from '../support/fixtures.js';

describe('messages through an http integration', () => {
  async function setup(handler?: BackendHandler): Promise<{ client: TestClient; backend: TestBackend }> {
    const backend = await useBackend(handler);
    const node = await useNode({ spec: specYaml({ '/ws': { message: http(`${backend.url}/message`) } }) });
    return { client: await useClient(node.wsUrl('/ws')), backend };
  }

  it('posts a text frame as application/json and returns a JSON answer as a text frame', async () => {
    const { client, backend } = await setup((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: req.body.toString('utf8') }));
    });
    client.ws.send('{"say":"hi"}');
    const reply = await client.next();
    expect(reply.binary).toBe(false);
    expect(JSON.parse(reply.text)).toEqual({ echo: '{"say":"hi"}' });
    const call = backend.requests[0]!;
    expect(call.method).toBe('POST');
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.body.toString('utf8')).toBe('{"say":"hi"}');
  });

  it('posts a binary frame as application/octet-stream and returns a binary answer as a binary frame', async () => {
    const { client, backend } = await setup((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from([...req.body].reverse()));
    });
    client.ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    const reply = await client.next();
    expect(reply.binary).toBe(true);
    expect([...reply.data]).toEqual([255, 2, 1, 0]);
    const call = backend.requests[0]!;
    expect(call.headers['content-type']).toBe('application/octet-stream');
    expect([...call.body]).toEqual([0, 1, 2, 255]);
  });

  it('returns a text/* answer as a text frame and an answer without a content type as binary', async () => {
    const { client } = await setup((req, res) => {
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
    const { client, backend } = await setup((_req, res) => {
      res.writeHead(204).end();
    });
    client.ws.send('x');
    await backend.waitFor(() => true);
    expect(await client.silentFor(150)).toBe(true);
  });

  it('keeps the order of one connection: 50 quick messages to a backend with random delays come back in order', async () => {
    const { client, backend } = await setup(async (req, res) => {
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 8)));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`re:${req.body.toString()}`);
    });
    for (let i = 0; i < 50; i++) client.ws.send(String(i));
    const replies: string[] = [];
    for (let i = 0; i < 50; i++) replies.push((await client.next()).text);
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => `re:${i}`));
    expect(backend.requests.map((r) => r.body.toString())).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('answers a backend error status with the documented error frame and keeps the connection open', async () => {
    const { client } = await setup((req, res) => {
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
    const backend = await useBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.body.toString() === 'big' ? 'x'.repeat(64 * 1024) : 'small');
    });
    const node = await useNode({
      spec: specYaml({ '/ws': { message: http(`${backend.url}/message`) } }),
      settings: { limits: { maxMessageBytes: 16 * 1024 }, backends: { circuitBreaker: { failureThreshold: 1, cooldownSeconds: 60 } } },
    });
    const client = await useClient(node.wsUrl('/ws'));
    client.ws.send('big');
    const frame = await client.nextJson<{ type: string; data: { code: string; status: number; message: string } }>();
    expect(frame).toMatchObject({ type: 'error', data: { code: 'BACKEND_ERROR', status: 502 } });
    expect(frame.data.message).toContain('larger than 16384 bytes');
    // A breaker that counted it would answer the next message 503 without asking the backend.
    client.ws.send('next');
    expect((await client.next()).text).toBe('small');
  });

  it('answers an unreachable message backend with a BACKEND_ERROR frame of status 502 and stays open', async () => {
    const { client, backend } = await setup();
    await backend.close();
    client.ws.send('hello');
    const frame = await client.nextJson<{ type: string; data: { code: string; status: number } }>();
    expect(frame).toMatchObject({ type: 'error', data: { code: 'BACKEND_ERROR', status: 502 } });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});
