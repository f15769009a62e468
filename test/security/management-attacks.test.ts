/**
 * Attacks on the management and gRPC listeners themselves, not on a method: a browser page on
 * a rebinding host name reaching a keyless loopback listener, and sockets that never finish
 * (trickled request heads and bodies, silent connections, connection floods).
 */
import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { Metadata, credentials, loadPackageDefinition, type Client, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultSettings, loadSettings } from '../../src/config/index.js';
import { CONNECTION_SERVICE_NAME, loadConnectionServicePackage } from '../../src/grpc/index.js';
import type { SettingsOverrides } from '../support/harness.js';
import { useNode } from '../support/scoped.js';
import { STATUS } from '../grpc/support.js';
import { V1 } from '../support/harness.js';
import { heldOpen } from '../support/raw-http.js';

const LIST = `${V1}/connections`;
const REBIND = 'rebind.attacker.example';
const KEY = 'management-attacks-key-0123456789';

interface HostAnswer {
  status: number;
  body: string;
}

/** One request with a Host header of our choosing (fetch will not send one). */
function withHost(port: number, path: string, host: string | undefined, headers: Record<string, string> = {}, method = 'GET'): Promise<HostAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { ...headers, ...(host === undefined ? {} : { host }) }, setHost: host !== undefined }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with when `socket` closed (ms since `started`), or with Infinity after `limitMs`. */
function closedWithin(closedAfter: Promise<number>, limitMs: number): Promise<number> {
  return Promise.race([closedAfter, new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), limitMs).unref())]);
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || at >= text.length) {
      clearInterval(timer);
      return;
    }
    socket.write(text[at++]!);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

function grpcClient(port: number, authority?: string): Client & Record<string, (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void> {
  const root = loadPackageDefinition(loadConnectionServicePackage({ keepCase: false, longs: String, enums: String, defaults: true }));
  const Service = CONNECTION_SERVICE_NAME.split('.').reduce<unknown>((scope, name) => (scope as Record<string, unknown>)[name], root) as ServiceClientConstructor;
  return new Service(`127.0.0.1:${port}`, credentials.createInsecure(), authority === undefined ? {} : { 'grpc.default_authority': authority }) as never;
}

function grpcGet(client: ReturnType<typeof grpcClient>, key?: string): Promise<ServiceError | undefined> {
  const metadata = new Metadata();
  if (key !== undefined) metadata.set('authorization', `Bearer ${key}`);
  return new Promise((resolve) => client.Get!({ connectionId: 'nope' }, metadata, (err) => resolve(err ?? undefined)));
}

describe('DNS rebinding on a keyless management listener', () => {
  it('answers 403 PERMISSION_DENIED naming the host and management.allowedHosts to a foreign Host, on every route', async () => {
    const node = await useNode();
    const port = node.node.managementAddress.port;
    for (const path of [LIST, `${LIST}/abc:send`, '/@connections/abc', '/console', '/metrics', '/healthz', '/openapi.json', '/no-such-route']) {
      const answer = await withHost(port, path, `${REBIND}:${port}`);
      expect(answer.status, path).toBe(403);
      const body = JSON.parse(answer.body) as { code: number; message: string };
      expect(body.code, path).toBe(7);
      expect(body.message, path).toContain(REBIND);
      expect(body.message, path).toContain('management.allowedHosts');
    }
    // No port, upper case, a trailing dot: still not a loopback name.
    for (const host of [REBIND, 'LOCALHOST.evil.example', '127.0.0.1.nip.io', 'localhost.']) {
      expect((await withHost(port, LIST, host)).status, host).toBe(403);
    }
  });

  it('answers loopback Host values as before: localhost, 127.0.0.1 and [::1], with or without the port', async () => {
    const node = await useNode();
    const port = node.node.managementAddress.port;
    for (const host of ['localhost', `localhost:${port}`, 'LocalHost', '127.0.0.1', `127.0.0.1:${port}`, '[::1]', `[::1]:${port}`]) {
      expect((await withHost(port, LIST, host)).status, host).toBe(200);
    }
  });

  it('answers the names of management.allowedHosts too, and nothing else', async () => {
    const node = await useNode({ settings: { management: { allowedHosts: ['switchboard.internal'] } } });
    const port = node.node.managementAddress.port;
    expect((await withHost(port, LIST, `switchboard.internal:${port}`)).status).toBe(200);
    expect((await withHost(port, LIST, 'Switchboard.Internal')).status).toBe(200);
    expect((await withHost(port, LIST, `localhost:${port}`)).status).toBe(200);
    expect((await withHost(port, LIST, `${REBIND}:${port}`)).status).toBe(403);
  });

  it('leaves the Host alone when API keys protect the listener: the key is what a rebinding page lacks', async () => {
    const node = await useNode({ settings: { management: { apiKeys: [{ key: KEY, scopes: ['read'] }] } } });
    const port = node.node.managementAddress.port;
    expect((await withHost(port, LIST, REBIND, { authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await withHost(port, LIST, REBIND)).status).toBe(401);
  });

  it('refuses a foreign :authority on a keyless gRPC listener with PERMISSION_DENIED naming it', async () => {
    const node = await useNode({ settings: { grpc: { listen: { host: '127.0.0.1', port: 0 } } } });
    const port = node.node.grpcAddress!.port;
    const foreign = grpcClient(port, `${REBIND}:${port}`);
    const local = grpcClient(port, `localhost:${port}`);
    try {
      const refused = await grpcGet(foreign);
      expect(refused?.code).toBe(STATUS.PERMISSION_DENIED);
      expect(refused?.details).toContain(REBIND);
      expect(refused?.details).toContain('management.allowedHosts');
      expect((await grpcGet(local))?.code).toBe(STATUS.NOT_FOUND);
    } finally {
      foreign.close();
      local.close();
    }
  });
});

describe('slow and idle sockets on the management listener', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  const open = (port: number, partial: string): Promise<number> => {
    const held = heldOpen(port, partial);
    sockets.push(held.socket);
    return held.closedAfter;
  };

  const FAST: SettingsOverrides['management'] = { timeouts: { headersSeconds: 1, requestSeconds: 2, keepAliveSeconds: 1 } };

  it('defaults: head 10 s, whole request 30 s, idle keep-alive 60 s, 1024 connections', async () => {
    const settings = defaultSettings();
    expect(settings.management.timeouts).toEqual({ headersSeconds: 10, requestSeconds: 30, keepAliveSeconds: 60 });
    expect(settings.management.maxConnections).toBe(1024);
    expect(settings.management.allowedHosts).toEqual([]);
    const node = await useNode();
    const server = node.node.api.server;
    expect([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout, server.maxConnections]).toEqual([10_000, 30_000, 60_000, 1024]);
  });

  it('drops a request head trickled one byte at a time once management.timeouts.headersSeconds has passed', async () => {
    const node = await useNode({ settings: { management: FAST } });
    const held = heldOpen(node.node.managementAddress.port, '');
    sockets.push(held.socket);
    held.socket.once('connect', () => trickle(held.socket, `GET ${LIST} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`, 100));
    const closed = await closedWithin(held.closedAfter, 6000);
    expect(closed).toBeGreaterThan(800);
    expect(closed).toBeLessThan(3500);
  });

  it('drops a body trickled one byte at a time once management.timeouts.requestSeconds has passed', async () => {
    const node = await useNode({ settings: { management: FAST } });
    const held = heldOpen(node.node.managementAddress.port, `POST ${LIST}/abc:send HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    sockets.push(held.socket);
    held.socket.once('connect', () => trickle(held.socket, '{"data":"' + 'A'.repeat(980), 100));
    const closed = await closedWithin(held.closedAfter, 8000);
    expect(closed).toBeGreaterThan(1800);
    expect(closed).toBeLessThan(4500);
  });

  it('drops a connection that never sends a byte, and an idle keep-alive connection after its answer', async () => {
    const node = await useNode({ settings: { management: FAST } });
    const port = node.node.managementAddress.port;
    const silent = await closedWithin(open(port, ''), 6000);
    expect(silent).toBeLessThan(3500);
    const idle = await closedWithin(open(port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n`), 6000);
    expect(idle).toBeGreaterThan(800);
    expect(idle).toBeLessThan(3500);
  });

  it('holds at most management.maxConnections sockets: the next one is closed at once, and a freed slot is served again', async () => {
    const node = await useNode({ settings: { management: { maxConnections: 2 } } });
    const port = node.node.managementAddress.port;
    const first = heldOpen(port, 'GET / HTTP/1.1\r\n');
    const second = heldOpen(port, 'GET / HTTP/1.1\r\n');
    sockets.push(first.socket, second.socket);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const third = await closedWithin(open(port, ''), 2000);
    expect(third).toBeLessThan(1000);
    first.socket.destroy();
    await first.closedAfter;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await withHost(port, '/healthz', 'localhost')).status).toBe(200);
  });
});

describe('idle and excess connections on the gRPC listener', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  it('closes a connection that makes no call within grpc.idleTimeoutSeconds', async () => {
    const node = await useNode({ settings: { grpc: { listen: { host: '127.0.0.1', port: 0 }, idleTimeoutSeconds: 1 } } });
    const held = heldOpen(node.node.grpcAddress!.port, '');
    sockets.push(held.socket);
    const closed = await closedWithin(held.closedAfter, 6000);
    expect(closed).toBeGreaterThan(800);
    expect(closed).toBeLessThan(4000);
    // A real client's idle channel is closed the same way and reconnects on its next call.
    const client = grpcClient(node.node.grpcAddress!.port);
    try {
      expect((await grpcGet(client))?.code).toBe(STATUS.NOT_FOUND);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await grpcGet(client))?.code).toBe(STATUS.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it('holds at most grpc.maxConnections connections; calls still work once a slot is free', async () => {
    const node = await useNode({ settings: { grpc: { listen: { host: '127.0.0.1', port: 0 }, maxConnections: 2 } } });
    const port = node.node.grpcAddress!.port;
    const held = [heldOpen(port, ''), heldOpen(port, '')];
    sockets.push(...held.map((h) => h.socket));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const extra = netConnect(port, '127.0.0.1');
    sockets.push(extra);
    extra.on('error', () => undefined);
    extra.resume();
    const extraClosed = await closedWithin(new Promise<number>((resolve) => extra.once('close', () => resolve(0))), 2000);
    expect(extraClosed).toBe(0);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closedAfter));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const client = grpcClient(port);
    try {
      expect((await grpcGet(client))?.code).toBe(STATUS.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it('defaults once grpc.listen is set: 1024 connections, idle 300 s, a keepalive ping every 60 s', () => {
    const settings = loadSettings({ flags: { grpcListen: '127.0.0.1:0' }, env: {} });
    expect(settings.grpc).toEqual({ listen: { host: '127.0.0.1', port: 0 }, maxConnections: 1024, idleTimeoutSeconds: 300, keepaliveSeconds: 60 });
  });
});
