import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendPools, DummyBackend, HttpBackend, contentTypeOf } from '../../src/routing/index.js';

/** A backend that answers with the given raw headers and records each request's raw headers. */
async function backend(answerHeaders: string[]): Promise<{ server: Server; url: string; seen: IncomingMessage['rawHeaders'][] }> {
  const seen: IncomingMessage['rawHeaders'][] = [];
  const server = createServer((req, res) => {
    seen.push(req.rawHeaders);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, answerHeaders);
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Raw header pairs, names lower-cased, in the order they were sent. */
function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

describe('HttpBackend', () => {
  const servers: Server[] = [];
  const pools: BackendPools[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function call(specHeaders: Record<string, string>, headers: Record<string, string>, contentType: string | undefined, answerHeaders: string[] = ['Content-Type', 'text/plain']) {
    const b = await backend(answerHeaders);
    servers.push(b.server);
    const p = new BackendPools();
    pools.push(p);
    const target = new HttpBackend({ type: 'http', url: `${b.url}/message`, method: 'POST', headers: specHeaders, timeouts: { connectMs: 1000, readMs: 1000 } }, p, 1024);
    const response = await target.call({ eventType: 'MESSAGE', headers, body: Buffer.from('{}'), pathParams: {}, ...(contentType === undefined ? {} : { contentType }) });
    return { response, sent: pairs(b.seen[0]!) };
  }

  it('sends each header once: the spec’s win over the caller’s, the request’s content type over both', async () => {
    const { sent } = await call(
      { 'X-Team': 'spec', 'Content-Type': 'text/csv', 'x-extra': 'e' },
      { 'x-team': 'caller', 'x-yc-apigateway-websocket-event-type': 'MESSAGE', 'user-agent': 'ua' },
      'application/json',
    );
    const names = sent.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
    expect(sent).toEqual(expect.arrayContaining([
      ['x-team', 'spec'],
      ['x-extra', 'e'],
      ['content-type', 'application/json'],
      ['x-yc-apigateway-websocket-event-type', 'MESSAGE'],
      ['user-agent', 'ua'],
    ]));
  });

  it('sends the caller’s headers as they are when the spec sets none, the spec’s content type when the request has none', async () => {
    const plain = await call({}, { 'x-a': '1', 'x-b': '2' }, undefined);
    expect(plain.sent).toEqual(expect.arrayContaining([['x-a', '1'], ['x-b', '2']]));
    expect(plain.sent.some(([name]) => name === 'content-type')).toBe(false);
    const typed = await call({ 'Content-Type': 'text/csv' }, { 'x-a': '1' }, undefined);
    expect(typed.sent).toEqual(expect.arrayContaining([['x-a', '1'], ['content-type', 'text/csv']]));
  });

  it('reads the answer’s content type apart; its headers are lower-case names, repeated ones joined', async () => {
    const { response } = await call({}, {}, 'application/json', ['Content-Type', 'application/json', 'X-Many', 'a', 'x-many', 'b']);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('ok');
    expect(response.contentType).toBe('application/json');
    expect(contentTypeOf(response)).toBe('application/json');
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['x-many']).toBe('a, b');
    expect(response.headers.connection).toBe('keep-alive');
  });

  it('an answer without a content type has none', async () => {
    const { response } = await call({}, {}, undefined, []);
    expect(response.contentType).toBeUndefined();
    expect(contentTypeOf(response)).toBeUndefined();
    expect(response.headers['content-type']).toBeUndefined();
  });
});

describe('contentTypeOf', () => {
  it('reads the header object of answers that have no content type apart (dummy)', () => {
    const dummy = new DummyBackend({ type: 'dummy', httpCode: 200, httpHeaders: { 'Content-Type': 'application/xml' }, content: '<a/>' });
    expect(contentTypeOf(dummy.fixedAnswer())).toBe('application/xml');
  });
});
