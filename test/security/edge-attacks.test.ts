/**
 * Attacks on the client edge, each reproduced with real sockets: forged identity headers,
 * breakers opened by clients, refused handshakes that hold sockets, ambiguous input, one
 * address spending everyone's accept budget, and unsupported protocol versions.
 */
import { connect as netConnect } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BackendFailure, BackendPools, CircuitBreaker, HttpBackend } from '../../src/routing/index.js';
import type { SettingsOverrides, TestBackend, TestNode } from '../support/harness.js';
import { useBackend, useNode, useStarted } from '../support/scoped.js';
import { RawClient } from '../support/raw-client.js';
import { dummy, http, sleep, specYaml } from '../support/fixtures.js';
import { realtimeSpec } from '../realtime-e2e/support.js';
import { jwtSettings } from '../support/tokens.js';
import { parseHead, rawRequest } from '../support/raw-http.js';

const EVENT = 'x-yc-apigateway-websocket-event-type';

/** An upgrade of /ws with the given Sec-WebSocket-Version (none when undefined): the answer's status and headers. */
function upgradeHead(port: number, version: string | undefined): Promise<{ status: number; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () =>
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          (version === undefined ? '' : `Sec-WebSocket-Version: ${version}\r\n`) +
          '\r\n',
      ),
    );
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = parseHead(received);
      if (head === undefined) return;
      socket.destroy();
      resolve({ status: head.status, headers: head.headers });
    });
    socket.on('error', reject);
  });
}

describe('client edge under attack', () => {
  /** A raw client destroyed when the test finishes. */
  async function rawClient(...args: Parameters<typeof RawClient.open>): Promise<RawClient> {
    const raw = await RawClient.open(...args);
    onTestFinished(() => {
      raw.destroy();
    });
    return raw;
  }

  async function withConnectBackend(settings: SettingsOverrides = {}, connectUrl = '/connect'): Promise<{ port: number; node: TestNode; backend: TestBackend }> {
    const backend = await useBackend();
    const node = await useNode({
      spec: specYaml({
        '/ws': { connect: http(`${backend.url}${connectUrl}`), message: dummy('ok') },
        '/chat/{room}': { connect: http(`${backend.url}/rooms/{room}/connect`), message: dummy('ok') },
      }),
      settings,
    });
    return { port: node.node.clientAddress.port, node, backend };
  }

  const connects = (b: TestBackend): number => b.requests.filter((r) => r.headers[EVENT] === 'CONNECT').length;

  describe('forged identity headers', () => {
    it('never forwards a client\'s x-switchboard-*, x-yc-apigateway-*, forwarded, x-forwarded-*, x-real-ip or x-http-method-override to the connect backend', async () => {
      const { port, backend: b } = await withConnectBackend();
      const answer = await rawRequest(port, '/ws', {
        headers: {
          'X-Switchboard-Tenant-Id': 'globex',
          'X-Switchboard-User-Id': 'root',
          'X-Switchboard-Anything': 'forged',
          'X-Yc-Apigateway-Websocket-Connection-Id': 'forged-id',
          'X-Yc-Apigateway-Websocket-Event-Type': 'MESSAGE',
          'X-Yc-Apigateway-Websocket-Connected-At': '1970-01-01T00:00:00Z',
          'X-Yc-Apigateway-Authorizer': 'forged',
          Forwarded: 'for=10.0.0.1;proto=https',
          'X-Forwarded-For': '10.0.0.1',
          'X-Forwarded-Host': 'admin.internal',
          'X-Forwarded-Proto': 'https',
          'X-Real-Ip': '10.0.0.1',
          'X-Http-Method-Override': 'DELETE',
          'X-Client-Trace': 'kept',
        },
      });
      expect(answer.status).toBe(101);
      const call = await b.waitFor((r) => r.headers[EVENT] === 'CONNECT');
      const h = call.headers;
      expect(h['x-switchboard-tenant-id']).toBeUndefined();
      expect(h['x-switchboard-user-id']).toBeUndefined();
      expect(h['x-switchboard-anything']).toBeUndefined();
      expect(h['x-yc-apigateway-websocket-connection-id']).toBe(answer.headers['x-yc-apigateway-websocket-connection-id']);
      expect(h[EVENT]).toBe('CONNECT');
      expect(h['x-yc-apigateway-websocket-connected-at']).not.toBe('1970-01-01T00:00:00Z');
      expect(h['x-yc-apigateway-authorizer']).toBeUndefined();
      expect(h.forwarded).toBeUndefined();
      expect(h['x-forwarded-for']).toBe('127.0.0.1');
      expect(h['x-forwarded-host']).toBeUndefined();
      expect(h['x-forwarded-proto']).toBeUndefined();
      expect(h['x-real-ip']).toBeUndefined();
      expect(h['x-http-method-override']).toBeUndefined();
      expect(h['x-client-trace']).toBe('kept');
    });

    it('behind a trusted proxy passes on the X-Forwarded-For chain, but never the client\'s other forwarding headers', async () => {
      const { port, backend: b } = await withConnectBackend({ trustedProxies: ['127.0.0.1'] });
      expect((await rawRequest(port, '/ws', { headers: { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Host': 'evil' } })).status).toBe(101);
      const call = await b.waitFor((r) => r.headers[EVENT] === 'CONNECT');
      expect(call.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(call.headers['x-forwarded-host']).toBeUndefined();
    });

    it('a client query parameter never overrides one the integration URL sets', async () => {
      const { port, backend: b } = await withConnectBackend({}, '/connect?apiKey=operator&mode=strict');
      expect((await rawRequest(port, '/ws?apiKey=client&mode=lax&lang=en')).status).toBe(101);
      const call = await b.waitFor((r) => r.headers[EVENT] === 'CONNECT');
      const query = new URL(call.url, 'http://backend').searchParams;
      expect(query.getAll('apiKey')).toEqual(['operator']);
      expect(query.getAll('mode')).toEqual(['strict']);
      expect(query.getAll('lang')).toEqual(['en']);
    });
  });

  describe('circuit breaker opened by clients', () => {
    it('upgrades with Expect: 100-continue are connected as usual and never open the connect backend\'s breaker', async () => {
      const { port, node, backend: b } = await withConnectBackend();
      for (let i = 0; i < 8; i++) {
        const answer = await rawRequest(port, '/ws', { headers: { Expect: '100-continue', 'Proxy-Authorization': 'Basic x', TE: 'trailers' } });
        expect(answer.status).toBe(101);
      }
      expect(connects(b)).toBe(8);
      expect((await rawRequest(port, '/ws')).status).toBe(101);
      const metrics = await node.api('GET', '/metrics');
      expect(metrics.text).not.toMatch(/switchboard_backend_circuit_state\{[^}]*\} [12]/);
    });

    it('a request undici refuses to build is answered 502 but never charged to the backend', async () => {
      const backend = await useBackend();
      const pools = await useStarted(new BackendPools({ circuitBreaker: { failureThreshold: 2, cooldownSeconds: 10 } }));
      const target = new HttpBackend(
        { type: 'http', url: `${backend.url}/m`, method: 'POST', headers: {}, timeouts: { connectMs: 1000, readMs: 1000 } },
        pools,
        65536,
      );
      for (let i = 0; i < 5; i++) {
        const err = await target.call({ eventType: 'CONNECT', headers: { expect: '100-continue' }, pathParams: {} }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BackendFailure);
        expect((err as BackendFailure).status).toBe(502);
        expect((err as BackendFailure).retryAfterMs).toBeUndefined();
      }
      expect(pools.breaker(new URL(backend.url).origin)!.current).toBe('closed');
      expect((await target.call({ eventType: 'CONNECT', headers: {}, pathParams: {} })).status).toBe(200);
    });
  });

  it('a half-open probe that ends without a verdict (released) lets the next call probe, instead of holding the breaker half-open', () => {
    let now = 0;
    const breaker = new CircuitBreaker('http://backend.test', { failureThreshold: 1, cooldownSeconds: 1, now: () => now });
    breaker.failed();
    now += 1000;
    expect(breaker.admit()).toBeUndefined(); // the probe
    expect(breaker.admit()).toBeGreaterThan(0);
    breaker.released();
    expect(breaker.admit()).toBeUndefined(); // the next probe
    breaker.succeeded();
    expect(breaker.current).toBe('closed');
  });

  describe('refused handshakes', () => {
    /** Opens a raw client that never answers the close, and measures close frame → TCP end. */
    async function heldAfterClose(port: number, path: string): Promise<{ code: number | undefined; heldMs: number }> {
      const raw = await rawClient(port, path, { answerClose: false });
      const close = await raw.closeFrame(3000);
      const at = performance.now();
      await Promise.race([raw.endedPromise, sleep(3000)]);
      return { code: close?.code, heldMs: raw.ended ? performance.now() - at : Infinity };
    }

    it('a client refused with 1008 (bad token) that never answers the close loses its socket within 1 s', async () => {
      const node = await useNode({ spec: realtimeSpec(), settings: { auth: { jwt: jwtSettings() } } });
      const { code, heldMs } = await heldAfterClose(node.node.clientAddress.port, '/rt?tenantId=acme&userId=alice&token=garbage');
      expect(code).toBe(1008);
      expect(heldMs).toBeLessThan(1000);
    });

    it('a client refused with 1013 (per-IP limit) that never answers the close loses its socket within 1 s', async () => {
      const node = await useNode({ spec: specYaml({ '/ws': { message: dummy('ok') } }), settings: { limits: { maxConnectionsPerIp: 1 } } });
      const port = node.node.clientAddress.port;
      await rawClient(port, '/ws');
      const { code, heldMs } = await heldAfterClose(port, '/ws');
      expect(code).toBe(1013);
      expect(heldMs).toBeLessThan(1000);
    });

    it('handshakes waiting on the connect backend are bounded per address by limits.pendingHandshakesPerIp: 429 with Retry-After before the upgrade', async () => {
      const backend = await useBackend(() => undefined); // never answers
      const node = await useNode({
        spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('ok') } }),
        settings: { limits: { pendingHandshakesPerIp: 3 } },
      });
      const port = node.node.clientAddress.port;
      // Never answered: the node's close drops them (their promises never settle, and are not awaited).
      Array.from({ length: 3 }, () => void rawRequest(port, '/ws').catch(() => undefined));
      await backend.waitFor(() => backend.requests.length === 3);
      const refused = await rawRequest(port, '/ws');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.body).toContain('handshakes');
      expect(backend.requests).toHaveLength(3);
      const metrics = await node.api('GET', '/metrics');
      expect(metrics.text).toMatch(/switchboard_connect_rejections_total\{reason="pending_handshakes"\} 1/);
    });

    it('refused connections still closing count as pending handshakes of their address until their socket is gone', async () => {
      const node = await useNode({ spec: realtimeSpec(), settings: { auth: { jwt: jwtSettings() }, limits: { pendingHandshakesPerIp: 2 } } });
      const port = node.node.clientAddress.port;
      const raws: RawClient[] = [];
      for (let i = 0; i < 2; i++) {
        const raw = await rawClient(port, '/rt?tenantId=acme&userId=alice&token=garbage', { answerClose: false });
        raws.push(raw);
        await raw.closeFrame();
      }
      expect((await rawRequest(port, '/raw')).status).toBe(429);
      await Promise.all(raws.map((raw) => raw.endedPromise));
      await sleep(50);
      expect((await rawRequest(port, '/raw')).status).toBe(101);
    });
  });

  describe('ambiguous client input', () => {
    it('refuses a repeated tenantId, userId or token with 400 before the upgrade, naming it', async () => {
      const { port, backend: b } = await withConnectBackend();
      for (const [query, name] of [
        ['tenantId=acme&x=1&tenantId=globex', 'tenantId'],
        ['userId=a&userId=b', 'userId'],
        ['token=a&lang=en&token=b', 'token'],
        ['tenantId=acme&tenant%49d=globex', 'tenantId'],
      ] as const) {
        const answer = await rawRequest(port, `/ws?${query}`);
        expect(answer.status, query).toBe(400);
        expect(answer.body).toContain(`"${name}"`);
      }
      expect(connects(b)).toBe(0);
      expect((await rawRequest(port, '/ws?tenantId=acme&userId=alice&token=t')).status).toBe(101);
    });

    it('reads every header of a handshake, however many: an Origin after 1000 others is still checked', async () => {
      // Node keeps the first 1000 header fields by default and drops the rest silently: the
      // allow-list saw no Origin at all (a non-browser client), nor X-Forwarded-For after them.
      // Short names keep the head (about 10 bytes a field) well under limits.maxHeaderBytes,
      // which Node 20 and Node 24 count differently near the bound.
      const filler = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, 'v']));
      const backend = await useBackend();
      const node = await useNode({
        spec: specYaml({ '/ws': { connect: http(`${backend.url}/connect`), message: dummy('ok') } }),
        settings: { edge: { allowedOrigins: ['https://good.example'], requireOrigin: false } },
      });
      const answer = await rawRequest(node.node.clientAddress.port, '/ws', { headers: { ...filler, Origin: 'https://evil.example' } });
      expect(answer.status).toBe(403);
      expect(answer.body).toContain('https://evil.example');
      expect(connects(backend)).toBe(0);
    });

    it('sends the gateway\'s own headers before the client\'s, so a backend that keeps only its first N fields still reads them', async () => {
      // Node 20 keeps a request's first 1000 header fields and drops the rest; Node 24 refuses
      // more with 431. Either way the gateway's fields must come first: the order is what is
      // checked, with a few client fields (the backend records headers in arrival order).
      const { port, backend: b } = await withConnectBackend();
      const filler = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, 'v']));
      const answer = await rawRequest(port, '/ws', { headers: { ...filler, 'User-Agent': 'probe/1' } });
      expect(answer.status, answer.body).toBe(101);
      const connect = await b.waitFor((r) => r.headers[EVENT] === 'CONNECT');
      const order = Object.keys(connect.headers);
      for (const own of ['x-yc-apigateway-websocket-connection-id', 'x-yc-apigateway-websocket-event-type', 'x-forwarded-for']) {
        expect(order.indexOf(own), own).toBeGreaterThanOrEqual(0);
        expect(order.indexOf(own), own).toBeLessThan(order.indexOf('f0'));
      }
      expect(connect.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(connect.headers['user-agent']).toBe('probe/1');
    });

    it('refuses %5C and %00 in path parameters like ..', async () => {
      const { port, backend: b } = await withConnectBackend();
      for (const path of ['/chat/a%5Cb', '/chat/%5C..%5Cadmin', '/chat/a%00b', '/chat/..']) {
        expect((await rawRequest(port, path)).status, path).toBe(404);
      }
      expect(connects(b)).toBe(0);
      expect((await rawRequest(port, '/chat/lobby')).status).toBe(101);
    });
  });

  describe('limits.acceptsPerSecondPerIp', () => {
    it('one address past its budget gets 429 with Retry-After, before the URL is parsed, while another address still gets in', async () => {
      const { port, node, backend: b } = await withConnectBackend({ trustedProxies: ['127.0.0.1'], limits: { acceptsPerSecondPerIp: 5, acceptsPerSecond: 1000 } });
      const from = (address: string): Record<string, string> => ({ 'X-Forwarded-For': address });
      const started = performance.now();
      const storm = await Promise.all(Array.from({ length: 30 }, () => rawRequest(port, '/ws', { headers: from('203.0.113.1') })));
      const seconds = (performance.now() - started) / 1000;
      const accepted = storm.filter((a) => a.status === 101).length;
      const refused = storm.filter((a) => a.status === 429);
      expect(accepted).toBeGreaterThanOrEqual(5);
      expect(accepted).toBeLessThanOrEqual(5 + Math.ceil(seconds * 5));
      expect(accepted + refused.length).toBe(30);
      for (const answer of refused) expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Before the URL is parsed: even a malformed target is answered 429, not 400.
      expect((await rawRequest(port, 'http://elsewhere.example/ws', { headers: from('203.0.113.1') })).status).toBe(429);
      expect(connects(b)).toBe(accepted);
      expect((await rawRequest(port, '/ws', { headers: from('203.0.113.2') })).status).toBe(101);
      const metrics = await node.api('GET', '/metrics');
      expect(metrics.text).toMatch(new RegExp(`switchboard_connect_rejections_total\\{reason="accept_rate_ip"\\} ${refused.length + 1}`));
    });
  });

  describe('RFC 6455 §4.4 versions', () => {
    it('an unsupported Sec-WebSocket-Version gets 426 Upgrade Required with Sec-WebSocket-Version: 13, before the connect backend hears of it', async () => {
      const { port, backend: b } = await withConnectBackend();
      for (const version of ['7', '14', 'x', undefined]) {
        const head = await upgradeHead(port, version);
        expect(head.status, version).toBe(426);
        expect(head.headers['sec-websocket-version']).toBe('13');
      }
      expect(connects(b)).toBe(0);
      // Version 8 (the last draft, the same framing) is still let in, as ws lets it in.
      expect((await upgradeHead(port, '8')).status).toBe(101);
    });
  });
});
