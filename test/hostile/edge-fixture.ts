/**
 * The node the hostile and conformance suites attack: a raw path `/echo` whose message
 * integration is a real HTTP backend answering `>` + the message (text stays text, binary
 * stays binary), a `/dummy` path answering `ok` without any I/O, and a bystander: a client
 * on the same node, subscribed to a topic, that must keep getting its echoes and
 * publications whatever the attackers do.
 */
import { expect } from 'vitest';
import { b64, connectClient, eventually, startBackend, startTestNode, type TestBackend, type TestClient, type TestNode, V1 } from '../support/harness.js';
import { dummy, http, specYaml } from '../support/fixtures.js';
import type { EdgeLimits } from './verdict.js';

/** Small limits so that oversized frames and messages cost little to send. */
export const LIMITS: EdgeLimits = { maxFrameBytes: 1024, maxMessageBytes: 4096 };

export interface EdgeUnderTest {
  node: TestNode;
  backend: TestBackend;
  port: number;
  limits: EdgeLimits;
  /** The bystander still gets an echo and a publication, and the node still counts only it. */
  bystanderServed(): Promise<void>;
  /** Waits until every attacker connection is gone from the registry. */
  attackersGone(): Promise<void>;
  close(): Promise<void>;
}

export async function startEdgeUnderTest(limits: EdgeLimits = LIMITS): Promise<EdgeUnderTest> {
  const backend = await startBackend((request, res) => {
    const binary = request.headers['content-type'] === 'application/octet-stream';
    res.setHeader('content-type', binary ? 'application/octet-stream' : 'text/plain; charset=utf-8');
    res.end(Buffer.concat([Buffer.from('>'), request.body]));
  });
  const node = await startTestNode({
    spec: specYaml({ '/echo': { message: http(`${backend.url}/echo`) }, '/dummy': { message: dummy('ok') } }),
    settings: {
      limits: {
        ...limits,
        messagesPerSecond: 1_000_000,
        maxConnectionsPerIp: 100_000,
        maxPendingMessages: 1024,
      },
    },
  });
  const bystander: TestClient = await connectClient(node.wsUrl('/echo'));
  const bystanderId = bystander.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
  const subscribed = await node.api('POST', `${V1}/connections/${bystanderId}:subscribe`, { topic: 'bystander' });
  expect(subscribed.status).toBe(200);
  let round = 0;
  return {
    node,
    backend,
    port: node.node.clientAddress.port,
    limits,
    async bystanderServed() {
      const n = ++round;
      bystander.ws.send(`still there ${n}`);
      await expectNext(bystander, `>still there ${n}`);
      const published = await node.api('POST', `${V1}/topics/bystander:publish`, { data: b64(`news ${n}`), type: 'TEXT' });
      expect(published.status).toBe(200);
      await expectNext(bystander, `news ${n}`);
      expect((await node.api('GET', '/healthz')).status).toBe(200);
    },
    async attackersGone() {
      await eventually(() => node.node.registry.size, (size) => size === 1, 3000);
    },
    async close() {
      await bystander.close();
      await node.close();
      await backend.close();
    },
  };
}

/**
 * The next message of this round; messages of an earlier round (late after a failed run that
 * fast-check is shrinking) are skipped, anything else is a failure.
 */
async function expectNext(client: TestClient, wanted: string): Promise<void> {
  const round = (text: string): number => Number(/(\d+)$/.exec(text)?.[1] ?? NaN);
  for (;;) {
    const text = (await client.next(3000)).text;
    if (text === wanted) return;
    if (round(text) < round(wanted)) continue;
    expect(text).toBe(wanted);
  }
}
