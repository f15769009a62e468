/**
 * Backpressure against a client that stops reading (DESIGN §2.1): it is let go with 1013 once
 * its outbound buffer passes the limit, and the subscribers of the same topic keep their
 * rate and get every publication. test/edge/limits.test.ts pins the 1013 for a single
 * `:send`; this pins what the others see while it happens, on a topic fan-out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestClient, V1 } from '../support/harness.js';
import { suiteBackend, suiteNode } from '../support/scoped.js';
import { dummy, http, specYaml } from '../support/fixtures.js';
import { rawUpgrade, type RawUpgrade } from '../support/raw-http.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x61).toString('base64');

describe('a subscriber that stops reading', () => {
  let healthy: TestClient[];
  let slow: RawUpgrade;
  const received = [0, 0, 0];

  const backend = suiteBackend();
  const node = suiteNode(() => ({
    spec: specYaml({ '/ws': { message: dummy(''), disconnect: http(`${backend.url}/disconnect`) } }),
    settings: { limits: { outboundBufferBytes: 512 * 1024 } },
  }));
  beforeAll(async () => {
    healthy = await Promise.all([0, 1, 2].map(() => connectClient(node.wsUrl('/ws'))));
    healthy.forEach((client, i) => client.ws.on('message', () => received[i]!++));
    slow = await rawUpgrade(node.node.clientAddress.port, '/ws');
    const ids = [...healthy.map((c) => c.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string), slow.headers['x-yc-apigateway-websocket-connection-id']!];
    for (const id of ids) expect((await node.api('POST', `${V1}/connections/${id}:subscribe`, { topic: 'firehose' })).status).toBe(200);
  });
  afterAll(async () => {
    slow.socket.destroy();
    await Promise.all(healthy.map((c) => c.close()));
  });

  /** Publishes `count` 64 KiB messages one after another; resolves when every healthy client has them all. */
  async function burst(count: number): Promise<number> {
    const started = performance.now();
    const goal = received.map((n) => n + count);
    for (let i = 0; i < count; i++) {
      expect((await node.api('POST', `${V1}/topics/firehose:publish`, { data: CHUNK, type: 'BINARY' })).status).toBe(200);
    }
    const deadline = Date.now() + 10_000;
    while (received.some((n, i) => n < goal[i]!)) {
      if (Date.now() > deadline) throw new Error(`healthy clients got ${received} of ${goal}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return count / ((performance.now() - started) / 1000);
  }

  it('is closed with 1013 at its buffer limit while the others get every publication at their rate', async () => {
    slow.socket.pause();
    // The kernel buffers of the silent socket fill first, then the node's own buffer: publish
    // until the node lets go of it, counting the healthy clients' rate all along.
    const rates: number[] = [];
    let gone = false;
    for (let round = 0; round < 40 && !gone; round++) {
      rates.push(await burst(25));
      gone = backend.requests.some((r) => r.headers['x-yc-apigateway-websocket-disconnect-status-code'] !== undefined);
    }
    expect(gone, 'the slow consumer was let go').toBe(true);
    const call = await backend.waitFor((r) => r.url === '/disconnect');
    expect(call.headers['x-yc-apigateway-websocket-disconnect-status-code']).toBe('1013');
    expect(node.node.registry.size).toBe(3);
    // After it is gone: the same rate as while it was there (within a factor of two, on a shared machine).
    const after = await burst(50);
    const during = rates.reduce((a, b) => a + b, 0) / rates.length;
    expect(during, `publications/s with the slow consumer ${during.toFixed(0)}, after ${after.toFixed(0)}`).toBeGreaterThan(after / 2);
    expect(received[0]).toBe(received[1]);
    expect(received[1]).toBe(received[2]);
  });
});
