/**
 * A connection's identity (tenantId, userId) travels to its backends in headers: every
 * identity a client can open a connection with must reach them, byte for byte, or be refused
 * at the handshake with a reason, never fail each call later.
 */
import { describe, expect, it } from 'vitest';
import { startRealtimeNode } from '../realtime-e2e/support.js';
import { connectClient } from '../support/harness.js';
import { useBackend, useStarted } from '../support/scoped.js';
import { signToken } from '../support/tokens.js';
import { sleep } from '../support/fixtures.js';

const EVENT = 'x-yc-apigateway-websocket-event-type';
/** A header value as the bytes on the wire (Node reads them as latin1), decoded as UTF-8. */
const utf8Of = (value: string | string[] | undefined): string => Buffer.from(String(value), 'latin1').toString('utf8');

describe('identity headers to backends', () => {
  it('a user id outside Latin-1 reaches the forward integration as UTF-8 bytes, not as a failed call', async () => {
    const backend = await useBackend();
    const node = await useStarted(startRealtimeNode({}, `${backend.url}/fwd`));
    const user = '李-José';
    const token = await signToken('acme', user);
    const client = await connectClient(node.wsUrl(`/rt-http?tenantId=acme&userId=${encodeURIComponent(user)}&token=${token}`));
    await client.nextJson(); // connected
    client.ws.send(JSON.stringify({ type: 'custom', data: {}, requestId: 'r1' }));
    const forwarded = await backend.waitFor((r) => r.headers[EVENT] === 'MESSAGE');
    expect(utf8Of(forwarded.headers['x-switchboard-user-id'])).toBe(user);
    expect(forwarded.headers['x-switchboard-tenant-id']).toBe('acme');
    await client.close();
  });

  it('an identity holding a control character is refused at the handshake with 1008 naming the parameter', async () => {
    const node = await useStarted(startRealtimeNode());
    for (const [tenant, user, name] of [['acme', 'a\u0001b', 'userId'], ['ac\nme', 'alice', 'tenantId'], ['acme', 'x\u007f', 'userId']] as const) {
      const token = await signToken(tenant, user);
      const client = await connectClient(node.wsUrl(`/rt?tenantId=${encodeURIComponent(tenant)}&userId=${encodeURIComponent(user)}&token=${token}`));
      const closed = await Promise.race([client.closed, sleep(2000).then(() => ({ code: 0, reason: 'still open' }))]);
      await client.close();
      expect(closed.code).toBe(1008);
      expect(closed.reason).toBe(`query parameter "${name}" must not contain control characters`);
    }
  });
});
