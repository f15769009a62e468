import { describe, expect, it } from 'vitest';
import { eventually, type TestBackend, type TestClient, type TestNode } from '../support/harness.js';
import { useBackend, useClient, useNode } from '../support/scoped.js';
import { dummy, http, RFC3339_UTC, sleep, specYaml } from '../support/fixtures.js';

const CONNECTIONS = '/apigateways/websocket/v1/connections';
const idOf = (client: TestClient): string => client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;

describe('heartbeat', () => {
  async function start(): Promise<{ node: TestNode; backend: TestBackend }> {
    const backend = await useBackend();
    // useNode takes Settings as they are after loading, so a fraction of a second is fine here.
    const node = await useNode({
      spec: specYaml({ '/ws': { message: dummy(''), disconnect: http(`${backend.url}/disconnect`) } }),
      settings: { limits: { heartbeatSeconds: 0.2 } },
    });
    return { node, backend };
  }

  it('terminates a client that stops answering pings, and the DISCONNECT call arrives', async () => {
    const { node, backend: b } = await start();
    const silent = await useClient(node.wsUrl('/ws'), { autoPong: false });
    const id = idOf(silent);
    const closed = await Promise.race([silent.closed, sleep(3000).then(() => undefined)]);
    expect(closed, 'the silent client should be dropped within a few heartbeats').toBeDefined();
    expect(closed!.code).toBe(1006);
    const call = await b.waitFor((r) => r.headers['x-yc-apigateway-websocket-connection-id'] === id);
    expect(call.headers['x-yc-apigateway-websocket-event-type']).toBe('DISCONNECT');
    expect(call.headers['x-yc-apigateway-websocket-disconnect-status-code']).toBe('1006');
    expect((await node.api('GET', `${CONNECTIONS}/${id}`)).status).toBe(404);
  });

  it('keeps a client that answers pings, and GET ?view=FULL shows isAlive and lastPing', async () => {
    const { node } = await start();
    const responsive = await useClient(node.wsUrl('/ws'));
    let pings = 0;
    responsive.ws.on('ping', () => pings++);
    const id = idOf(responsive);
    await sleep(1000);
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(responsive.ws.readyState).toBe(responsive.ws.OPEN);
    const full = await eventually(
      async () => (await node.api('GET', `${CONNECTIONS}/${id}?view=FULL`)).json as Record<string, unknown>,
      (view) => view.isAlive === true,
    );
    expect(full).toMatchObject({ id, gatewayId: 'test-gw', isAlive: true, subscriptions: [] });
    expect(full.lastPing).toMatch(RFC3339_UTC);
    expect(Math.abs(Date.parse(full.lastPing as string) - Date.now())).toBeLessThan(2000);
    // The plain view stays exactly the seed's shape.
    const basic = (await node.api('GET', `${CONNECTIONS}/${id}`)).json as Record<string, unknown>;
    expect(Object.keys(basic).sort()).toEqual(['connectedAt', 'gatewayId', 'id', 'identity', 'lastActiveAt']);
  });

  it('shows isAlive false in ?view=FULL while a ping is unanswered, lastPing still at connect', async () => {
    const { node } = await start();
    const silent = await useClient(node.wsUrl('/ws'), { autoPong: false });
    const pinged = new Promise<void>((resolve) => silent.ws.once('ping', () => resolve()));
    await pinged;
    const view = (await node.api('GET', `${CONNECTIONS}/${idOf(silent)}?view=FULL`)).json as Record<string, unknown>;
    expect(view.isAlive).toBe(false);
    expect(view.lastPing).toMatch(RFC3339_UTC);
    // The seed's ConnectionInfo: lastPing records the client's answer, not the server's ping.
    expect(view.lastPing).toBe(view.connectedAt);
  });

  it('rejects an unknown view with 400 naming the field', async () => {
    const { node } = await start();
    const client = await useClient(node.wsUrl('/ws'));
    const response = await node.api('GET', `${CONNECTIONS}/${idOf(client)}?view=EVERYTHING`);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ code: 3, details: [{ fieldViolations: [{ field: 'view' }] }] });
  });
});
