import { describe, expect, it } from 'vitest';
import { useBackend, useClient, useNode } from '../support/scoped.js';
import { rawRequest } from '../support/raw-http.js';

const specYaml = (connectUrl: string): string => `
openapi: 3.0.0
info: {title: accept rate, version: '1'}
x-switchboard: {gatewayId: accept-gw}
paths:
  /ws:
    x-yc-apigateway-websocket-connect:
      x-yc-apigateway-integration: {type: http, url: '${connectUrl}'}
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: pong}
`;

describe('limits.acceptsPerSecond: a reconnect storm', () => {
  it('is answered 503 with Retry-After past the budget, before the connect backend is called, while established clients keep talking', async () => {
    const backend = await useBackend();
    const node = await useNode({ spec: specYaml(`${backend.url}/connect`), settings: { limits: { acceptsPerSecond: 5 } } });
    const port = node.node.clientAddress.port;
    const established = await useClient(node.wsUrl('/ws'));

    // The established client talks throughout the storm.
    let answered = 0;
    established.ws.on('message', () => answered++);
    const chatter = setInterval(() => established.ws.send('ping'), 10);
    const stormStarted = performance.now();
    const storm = await Promise.all(Array.from({ length: 40 }, () => rawRequest(port, '/ws')));
    const stormSeconds = (performance.now() - stormStarted) / 1000;
    clearInterval(chatter);

    const accepted = storm.filter((answer) => answer.status === 101);
    const refused = storm.filter((answer) => answer.status === 503);
    // The burst is one second's worth (5), one of which the established client used, plus
    // what refilled while the storm lasted (5 per second).
    expect(accepted.length).toBeGreaterThanOrEqual(4);
    expect(accepted.length).toBeLessThanOrEqual(4 + Math.ceil(stormSeconds * 5));
    expect(accepted.length + refused.length).toBe(40);
    for (const answer of refused) {
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(answer.body).toContain('too many new connections');
    }
    // Only accepted handshakes reached the backend: a refused one costs it nothing.
    expect(backend.requests.filter((r) => r.headers['x-yc-apigateway-websocket-event-type'] === 'CONNECT')).toHaveLength(1 + accepted.length);

    const before = answered;
    established.ws.send('ping');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBeGreaterThan(before);
    expect(established.ws.readyState).toBe(established.ws.OPEN);

    // After a second the budget is back.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const later = await useClient(node.wsUrl('/ws'));
    later.ws.send('ping');
    expect((await later.next()).text).toBe('pong');

    const metrics = await node.api('GET', '/metrics');
    expect(metrics.text).toMatch(new RegExp(`switchboard_connect_rejections_total\\{reason="accept_rate"\\} ${refused.length}`));
  });
});
