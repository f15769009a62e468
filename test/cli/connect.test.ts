import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { dummy, http, specYaml, unusedPort } from '../support/fixtures.js';
import { b64 } from '../support/harness.js';
import { suiteBackend, suiteNode } from '../support/scoped.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'switchboard.js');

interface Session {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
  /** Resolves with stdout once it holds a line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function connect(args: string[]): Session {
  const child = spawn(process.execPath, [BIN, 'connect', ...args], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const line = async (pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const l of out.split('\n')) {
        const match = l.match(pattern);
        if (match) return match;
      }
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no line ${pattern}; stdout: ${out} stderr: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, stdout: () => out, stderr: () => err, exit, line };
}

describe('switchboard connect', { timeout: 30_000 }, () => {
  const demo = suiteNode();
  const backend = suiteBackend((request, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(request.url === '/message' ? `got ${request.body.length} bytes` : '');
  });
  const recorded = suiteNode(() => ({
    spec: specYaml({ '/rec': { connect: http(`${backend.url}/connect`), message: http(`${backend.url}/message`) }, '/quiet': { message: dummy('') } }),
  }));

  it('prints "connected <id>", the demo\'s replies to piped lines, and "closed 1000" once input ends, then exits 0', async () => {
    const s = connect([demo.wsUrl('/demo')]);
    s.child.stdin.end('hello\n');
    expect(await s.exit, s.stderr()).toBe(0);
    const lines = s.stdout().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^connected [a-z0-9-]+\.[A-Za-z0-9_-]+$/);
    expect(lines.slice(1)).toEqual(['< {"type":"welcome","message":"connected to the Switchboard demo"}', '< {"type":"ack"}', 'closed 1000']);
  });

  it('prints the id of the X-Yc-Apigateway-Websocket-Connection-Id header, the one the management API knows', async () => {
    const s = connect([demo.wsUrl('/demo'), '--wait', '0']);
    const [, id] = await s.line(/^connected (\S+)$/);
    expect((await demo.api('GET', `/apigateways/websocket/v1/connections/${id}`)).status).toBe(200);
    s.child.stdin.end();
    expect(await s.exit).toBe(0);
  });

  it('prints a binary message as its size and base64, and --count closes after that many messages', async () => {
    const s = connect([demo.wsUrl('/demo'), '--count', '2', '--wait', '30']);
    const [, id] = await s.line(/^connected (\S+)$/);
    s.child.stdin.end();
    const sent = await demo.api('POST', `/apigateways/websocket/v1/connections/${id}:send`, { data: b64(Buffer.from([0, 1, 2, 255])), type: 'BINARY' });
    expect(sent.status).toBe(200);
    expect(await s.exit).toBe(0);
    expect(s.stdout()).toContain('\n< [binary 4 bytes] AAEC/w==\nclosed 1000\n');
  });

  it('sends --header on the handshake and, with --binary, each line as a binary frame', async () => {
    const s = connect([recorded.wsUrl('/rec'), '--header', 'X-Test: one two', '-H', 'Authorization:Bearer t0k', '--binary', '--count', '1', '--wait', '10']);
    s.child.stdin.end('abc\n');
    expect(await s.exit, s.stderr()).toBe(0);
    const connectCall = await backend.waitFor((r) => r.url === '/connect');
    expect(connectCall.headers['x-test']).toBe('one two');
    expect(connectCall.headers.authorization).toBe('Bearer t0k');
    expect(connectCall.headers['user-agent']).toBe('switchboard-connect');
    const message = await backend.waitFor((r) => r.url === '/message');
    expect(message.headers['content-type']).toBe('application/octet-stream');
    expect(message.body.toString()).toBe('abc');
    expect(s.stdout()).toContain('< got 3 bytes\n');
  });

  it('prints how the server closed the connection and exits 0', async () => {
    const s = connect([recorded.wsUrl('/quiet')]);
    const [, id] = await s.line(/^connected (\S+)$/);
    expect((await recorded.api('DELETE', `/apigateways/websocket/v1/connections/${id}`)).status).toBe(200);
    expect(await s.exit).toBe(0);
    expect(s.stdout()).toMatch(/\nclosed 1000( .*)?\n$/);
  });

  it('prints "connected" alone when the server sends no connection id', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    server.on('connection', (ws) => ws.on('message', (data) => ws.close(4000, `bye ${String(data)}`)));
    try {
      const s = connect([`127.0.0.1:${(server.address() as AddressInfo).port}/any`]);
      s.child.stdin.end('x\n');
      expect(await s.exit).toBe(0);
      expect(s.stdout()).toBe('connected\nclosed 4000 bye x\n');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a refused handshake exits 1 naming the URL and the HTTP status', async () => {
    const url = demo.wsUrl('/no-such-path');
    const s = connect([url]);
    s.child.stdin.end();
    expect(await s.exit).toBe(1);
    expect(s.stderr()).toMatch(new RegExp(`^switchboard: ${url.replace(/[.]/g, '\\.')}: handshake refused: HTTP 404 Not Found`));
    expect(s.stdout()).toBe('');
  });

  it('nothing listening exits 3 naming the URL; a URL that is not one exits 2', async () => {
    const url = `ws://127.0.0.1:${await unusedPort()}/demo`;
    const refused = connect([url]);
    refused.child.stdin.end();
    expect(await refused.exit).toBe(3);
    expect(refused.stderr()).toBe(`switchboard: ${url}: connection refused: nothing listens there (is the gateway running?)\n`);
    const bad = connect(['ftp://example.com/x']);
    bad.child.stdin.end();
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toContain('ftp://example.com/x: not a WebSocket URL');
  });
});
