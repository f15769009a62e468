import { describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { BackendFailure, BackendPools, CircuitBreaker, HttpBackend, type CircuitState } from '../../src/routing/index.js';
import { eventually } from '../support/harness.js';
import { useBackend, useClient, useNode, useStarted } from '../support/scoped.js';
import { unusedPort } from '../support/fixtures.js';
import { rawRequest } from '../support/raw-http.js';

describe('CircuitBreaker', () => {
  function breaker(threshold = 3, cooldownSeconds = 10): { breaker: CircuitBreaker; advance: (ms: number) => void; changes: CircuitState[] } {
    let now = 0;
    const changes: CircuitState[] = [];
    const b = new CircuitBreaker('http://backend.test', {
      failureThreshold: threshold,
      cooldownSeconds,
      now: () => now,
      onChange: (_origin, state) => changes.push(state),
    });
    return { breaker: b, advance: (ms) => (now += ms), changes };
  }

  it('opens after N consecutive failures only; a success in between starts the count again', () => {
    const { breaker: b, changes } = breaker(3);
    b.failed();
    b.failed();
    b.succeeded();
    b.failed();
    b.failed();
    expect(b.admit()).toBeUndefined();
    b.failed();
    expect(b.current).toBe('open');
    expect(b.admit()).toBe(10_000);
    expect(changes).toEqual(['open']);
  });

  it('after the cool-down lets exactly one probe through; its success closes, its failure opens for another cool-down', () => {
    const { breaker: b, advance, changes } = breaker(1, 2);
    b.failed();
    advance(1500);
    expect(b.admit()).toBe(500);
    advance(500);
    expect(b.admit()).toBeUndefined(); // the probe
    expect(b.current).toBe('half-open');
    expect(b.admit()).toBeGreaterThan(0); // others wait for the probe
    b.failed();
    expect(b.current).toBe('open');
    expect(b.admit()).toBe(2000);
    advance(2000);
    expect(b.admit()).toBeUndefined();
    b.succeeded();
    expect(b.current).toBe('closed');
    expect(b.admit()).toBeUndefined();
    expect(changes).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });

  it('a late failure of a call sent before it opened does not extend the cool-down', () => {
    const { breaker: b, advance } = breaker(1, 1);
    b.failed();
    advance(900);
    b.failed();
    advance(100);
    expect(b.admit()).toBeUndefined();
  });
});

describe('HttpBackend behind its origin\'s breaker', () => {
  const call = (target: HttpBackend): Promise<number> =>
    target.call({ eventType: 'MESSAGE', headers: {}, pathParams: {}, body: Buffer.from('{}') }).then(
      (response) => response.status,
      (err: BackendFailure) => err.status,
    );

  it('counts 502/503/504 answers as failures, but not 4xx or 500: those show the backend alive', async () => {
    let answer = 500;
    const backend = await useBackend((_req, res) => {
      res.statusCode = answer;
      res.end();
    });
    const pools = await useStarted(new BackendPools({ circuitBreaker: { failureThreshold: 2, cooldownSeconds: 60 } }));
    const target = new HttpBackend({ type: 'http', url: backend.url, method: 'POST', headers: {}, timeouts: { connectMs: 1000, readMs: 1000 } }, pools, 1024);
    for (let i = 0; i < 4; i++) expect(await call(target)).toBe(500);
    answer = 404;
    expect(await call(target)).toBe(404);
    answer = 503;
    expect([await call(target), await call(target)]).toEqual([503, 503]);
    const seen = backend.requests.length;
    // Open: answered here with 503, the backend is not asked.
    const failure = await target.call({ eventType: 'MESSAGE', headers: {}, pathParams: {} }).catch((err: unknown) => err as BackendFailure);
    expect(failure).toBeInstanceOf(BackendFailure);
    expect((failure as BackendFailure).status).toBe(503);
    expect((failure as BackendFailure).message).toMatch(new RegExp(`^backend ${backend.url} is unavailable: its circuit breaker is open after 2 consecutive failures; next attempt in 60 s$`));
    expect(backend.requests.length).toBe(seen);
    expect([...pools.circuits()]).toEqual([[backend.url, 'open']]);
  });

  it('a call whose deadline passes while it waits for one of the pool\'s connections is not the backend\'s timeout: never charged, answered at its deadline', async () => {
    // Every answer comes in 100 ms; what times out is the queue the gateway's own pool (128
    // connections) builds when clients ask for more calls at once (distinct topics to authorize,
    // say) than it holds: that must not shut the backend off for everyone.
    const backend = await useBackend(async (_req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res.end('ok');
    });
    const pools = await useStarted(new BackendPools({ circuitBreaker: { failureThreshold: 5, cooldownSeconds: 60 } }));
    const target = new HttpBackend({ type: 'http', url: backend.url, method: 'POST', headers: {}, timeouts: { connectMs: 1000, readMs: 5000 } }, pools, 1024);
    const started = performance.now();
    const settledAfter: number[] = [];
    const statuses = await Promise.all(
      Array.from({ length: 1000 }, () =>
        target.call({ eventType: 'AUTHORIZE', headers: {}, pathParams: {}, body: Buffer.from('{}'), timeoutMs: 500 }).then(
          (response) => response.status,
          (err: BackendFailure) => {
            settledAfter.push(performance.now() - started);
            return err.status;
          },
        ),
      ),
    );
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 504).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 504)).toBe(true);
    expect([...pools.circuits()]).toEqual([[backend.url, 'closed']]);
    // Told at its deadline, not once a connection came free (which could be much later).
    expect(Math.max(...settledAfter)).toBeLessThan(1500);
    expect(await call(target)).toBe(200);
  });

  it('a call whose deadline passed while its connection was still being made is charged when that connection fails', async () => {
    // A backend that drops SYNs: the handshake deadline passes before undici's connect timeout,
    // and the connect timeout that follows still says the backend is unreachable.
    class SlowConnectPools extends BackendPools {
      override pool(origin: string): Pool {
        return new Pool(origin, {
          connect: (_options, callback) => {
            setTimeout(() => callback(Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), null), 300);
          },
        });
      }
    }
    const pools = await useStarted(new SlowConnectPools({ circuitBreaker: { failureThreshold: 1, cooldownSeconds: 60 } }));
    const target = new HttpBackend({ type: 'http', url: 'http://127.0.0.1:9', method: 'POST', headers: {}, timeouts: { connectMs: 1000, readMs: 1000 } }, pools, 1024);
    const failure = await target.call({ eventType: 'CONNECT', headers: {}, pathParams: {}, timeoutMs: 100 }).catch((err: unknown) => err as BackendFailure);
    expect((failure as BackendFailure).status).toBe(504);
    await eventually(() => [...pools.circuits()], (circuits) => circuits.length === 1 && circuits[0]![1] === 'open', 2000);
  });

  it('with failureThreshold 0 never opens', async () => {
    const port = await unusedPort();
    const pools = await useStarted(new BackendPools({ circuitBreaker: { failureThreshold: 0, cooldownSeconds: 60 } }));
    const target = new HttpBackend({ type: 'http', url: `http://127.0.0.1:${port}`, method: 'POST', headers: {}, timeouts: { connectMs: 1000, readMs: 1000 } }, pools, 1024);
    for (let i = 0; i < 5; i++) expect(await call(target)).toBe(502);
    expect([...pools.circuits()]).toEqual([]);
  });
});

const CONNECT_SPEC = (deadUrl: string, healthyUrl: string): string => `
openapi: 3.0.0
info: {title: breaker, version: '1'}
x-switchboard: {gatewayId: breaker-gw}
paths:
  /dead:
    x-yc-apigateway-websocket-connect:
      x-yc-apigateway-integration: {type: http, url: '${deadUrl}/connect'}
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: pong}
  /healthy:
    x-yc-apigateway-websocket-connect:
      x-yc-apigateway-integration: {type: http, url: '${healthyUrl}/connect'}
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: pong}
`;

const MESSAGE_SPEC = (url: string): string => `
openapi: 3.0.0
info: {title: breaker, version: '1'}
x-switchboard: {gatewayId: breaker-gw}
paths:
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: http, url: '${url}/message', timeouts: {read: 0.2}}
`;

describe('circuit breaker at the edge', () => {
  it('a dead connect backend: 502 until the threshold, then 503 at once naming the backend and the open breaker, with Retry-After; the probe after the cool-down closes it', async () => {
    const deadPort = await unusedPort();
    const deadUrl = `http://127.0.0.1:${deadPort}`;
    const backend = await useBackend();
    const node = await useNode({
      spec: CONNECT_SPEC(deadUrl, backend.url),
      settings: { backends: { circuitBreaker: { failureThreshold: 3, cooldownSeconds: 1 } } },
    });
    const port = node.node.clientAddress.port;
    for (let i = 0; i < 3; i++) {
      const answer = await rawRequest(port, '/dead');
      expect(answer.status).toBe(502);
      expect(answer.body).toBe('connect backend unavailable');
    }
    const open = await rawRequest(port, '/dead');
    expect(open.status).toBe(503);
    expect(open.body).toBe(`connect backend ${deadUrl} is unavailable: its circuit breaker is open after 3 consecutive failures; next attempt in 1 s`);
    expect(open.headers['retry-after']).toBe('1');
    expect(open.ms).toBeLessThan(100);
    // Another origin has its own breaker.
    expect((await rawRequest(port, '/healthy')).status).toBe(101);
    expect((await node.api('GET', '/metrics')).text).toContain(`switchboard_backend_circuit_state{origin="${deadUrl}"} 1`);

    // The backend comes back; after the cool-down one probe goes through and closes the breaker.
    await useBackend(undefined, deadPort);
    expect((await rawRequest(port, '/dead')).status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await rawRequest(port, '/dead')).status).toBe(101);
    expect((await rawRequest(port, '/dead')).status).toBe(101);
    expect((await node.api('GET', '/metrics')).text).toContain(`switchboard_backend_circuit_state{origin="${deadUrl}"} 0`);
  });

  it('a message backend that times out: error frames 504, then 503 at once saying the breaker is open, then answers again once it heals', async () => {
    let healthy = false;
    const backend = await useBackend((_req, res) => {
      if (healthy) res.end('ok');
      // else: never answers
    });
    const node = await useNode({ spec: MESSAGE_SPEC(backend.url), settings: { backends: { circuitBreaker: { failureThreshold: 2, cooldownSeconds: 1 } } } });
    const client = await useClient(node.wsUrl('/ws'));
    for (let i = 0; i < 2; i++) {
      client.ws.send(JSON.stringify({ n: i }));
      const frame = await client.nextJson<{ type: string; data: { code: string; status: number; message: string } }>();
      expect(frame.type).toBe('error');
      expect(frame.data.status).toBe(504);
    }
    const started = performance.now();
    client.ws.send('{}');
    const fast = await client.nextJson<{ type: string; data: { code: string; status: number; message: string } }>();
    expect(performance.now() - started).toBeLessThan(100);
    expect(fast.type).toBe('error');
    expect(fast.data.status).toBe(503);
    expect(fast.data.message).toContain(`backend ${backend.url} is unavailable: its circuit breaker is open`);
    expect(backend.requests).toHaveLength(2);

    healthy = true;
    await new Promise((resolve) => setTimeout(resolve, 1050));
    client.ws.send('{}');
    expect((await client.next()).text).toBe('ok');
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('cuts a hanging connect backend at the handshake timeout and counts it, so the next handshakes fail fast', async () => {
    const backend = await useBackend(() => undefined); // never answers
    const node = await useNode({
      spec: CONNECT_SPEC(backend.url, backend.url),
      settings: { limits: { handshakeTimeoutSeconds: 0.3 }, backends: { circuitBreaker: { failureThreshold: 1, cooldownSeconds: 5 } } },
    });
    const port = node.node.clientAddress.port;
    const started = performance.now();
    const first = await rawRequest(port, '/dead');
    expect(first.status).toBe(504);
    // The integration's read timeout is 30 s; the call was cut at the handshake timeout, so the
    // breaker hears of it then, not half a minute later.
    const origin = backend.url;
    await eventually(
      () => node.api('GET', '/metrics').then((r) => r.text),
      (text) => text.includes(`switchboard_backend_circuit_state{origin="${origin}"} 1`),
      3000,
    );
    expect(performance.now() - started).toBeLessThan(800);
    const second = await rawRequest(port, '/dead');
    expect(second.status).toBe(503);
    expect(second.ms).toBeLessThan(100);
    expect(second.headers['retry-after']).toBe('5');
  });
});
