import { describe, expect, it } from 'vitest';
import { useClient, useNode } from '../support/scoped.js';
import { heldOpen, rawRequest } from '../support/raw-http.js';

const SPEC = `
openapi: 3.0.0
info: {title: request limits, version: '1'}
x-switchboard: {gatewayId: limits-gw}
paths:
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: pong}
`;

describe('request target, header and handshake-time limits on the client listener', () => {
  it('answers 414 to a request target over limits.maxUrlBytes, upgrade or plain, and accepts one at the limit', async () => {
    const node = await useNode({ spec: SPEC, settings: { limits: { maxUrlBytes: 256 } } });
    const port = node.node.clientAddress.port;
    const atLimit = `/ws?${'q'.repeat(256 - 4)}`;
    expect(atLimit.length).toBe(256);
    expect((await rawRequest(port, atLimit)).status).toBe(101);
    const over = `${atLimit}x`;
    const refused = await rawRequest(port, over);
    expect(refused.status).toBe(414);
    expect(refused.body).toContain('request target exceeds 256 bytes');
    expect((await rawRequest(port, over, { upgrade: false })).status).toBe(414);
    const metrics = await node.api('GET', '/metrics');
    expect(metrics.text).toMatch(/switchboard_connect_rejections_total\{reason="url_too_long"\} 1/);
  });

  it('answers 431 to a request head over limits.maxHeaderBytes', async () => {
    const node = await useNode({ spec: SPEC, settings: { limits: { maxHeaderBytes: 4096 } } });
    const port = node.node.clientAddress.port;
    expect((await rawRequest(port, '/ws', { headers: { 'X-Pad': 'p'.repeat(2000) } })).status).toBe(101);
    expect((await rawRequest(port, '/ws', { headers: { 'X-Pad': 'p'.repeat(5000) } })).status).toBe(431);
  });

  it('drops a client that never finishes its handshake within handshakeTimeoutSeconds, idle or dripping headers, while established clients stay', async () => {
    const node = await useNode({ spec: SPEC, settings: { limits: { handshakeTimeoutSeconds: 1 } } });
    const port = node.node.clientAddress.port;
    const established = await useClient(node.wsUrl('/ws'));

    const silent = heldOpen(port, '');
    const partial = heldOpen(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    // Slowloris: one header line every 200 ms, never the blank line that ends the head.
    const drip = heldOpen(port, 'GET /ws HTTP/1.1\r\n');
    const dripping = setInterval(() => drip.socket.write(`X-Drip-${Math.random().toString(36).slice(2)}: 1\r\n`), 200);
    try {
      const times = await Promise.all([silent.closedAfter, partial.closedAfter, drip.closedAfter]);
      for (const ms of times) {
        expect(ms).toBeGreaterThanOrEqual(900);
        // The timeout plus at most one check interval (a quarter of it) and some scheduling slack.
        expect(ms).toBeLessThan(2500);
      }
    } finally {
      clearInterval(dripping);
    }
    established.ws.send('ping');
    expect((await established.next()).text).toBe('pong');
  });
});
