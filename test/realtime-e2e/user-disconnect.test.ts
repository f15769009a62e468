import { afterEach, describe, expect, it } from 'vitest';
import { V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, type RealtimeClient } from './support.js';

const KEYS = [
  { key: 'admin-key', scopes: ['read', 'write', 'broadcast'] },
  { key: 'broadcast-key', scopes: ['broadcast', 'read'] },
  { key: 'acme-key', scopes: ['read', 'write'], tenantId: 'acme' },
] as const;

describe('POST /users/{userId}:disconnect', () => {
  const clients: RealtimeClient[] = [];
  const connect = async (tenantId: string, userId: string): Promise<RealtimeClient> => {
    const client = await connectRealtime(node, tenantId, userId);
    clients.push(client);
    return client;
  };
  const call = (path: string, body: unknown, key: string) => node.api('POST', `${V1}${path}`, body, { authorization: `Bearer ${key}` });

  const node = forSuite(() => startRealtimeNode({ management: { apiKeys: KEYS.map((k) => ({ ...k, scopes: [...k.scopes] })) } }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('closes every connection of the user with 4001 "user disconnected" and answers how many', async () => {
    const alice = [await connect('acme', 'alice'), await connect('acme', 'alice'), await connect('globex', 'alice')];
    const bob = await connect('acme', 'bob');
    // No body at all is the whole user, in every tenant.
    const response = await call('/users/alice:disconnect', undefined, 'admin-key');
    expect(response.status, response.text).toBe(200);
    expect(response.json).toEqual({ disconnected: 3 });
    for (const client of alice) expect(await client.closed).toEqual({ code: 4001, reason: 'user disconnected' });
    expect(await bob.drain()).toEqual([]);
    expect(await expectApi(node, 200, 'POST', `${V1}/users/alice:disconnect`, {}, 'admin-key')).toEqual({ disconnected: 0 });
  });

  it("limits a tenant-bound key to its tenant: another tenant's is refused with 403 and closes nothing", async () => {
    const acmeAlice = await connect('acme', 'alice');
    const globexAlice = await connect('globex', 'alice');
    const refused = await call('/users/alice:disconnect', { tenantId: 'globex' }, 'acme-key');
    expect(refused.status, refused.text).toBe(403);
    expect(refused.json).toMatchObject({ code: 7, message: 'this API key reaches only its own tenant' });
    expect(await globexAlice.drain()).toEqual([]);
    expect(await acmeAlice.drain()).toEqual([]);
    // Without a tenantId the key means its own tenant only.
    expect((await call('/users/alice:disconnect', {}, 'acme-key')).json).toEqual({ disconnected: 1 });
    expect((await acmeAlice.closed).code).toBe(4001);
    expect(await globexAlice.drain()).toEqual([]);
  });

  it('needs the write scope and a well-formed body', async () => {
    const alice = await connect('acme', 'alice');
    const noScope = await call('/users/alice:disconnect', {}, 'broadcast-key');
    expect(noScope.status).toBe(403);
    expect(noScope.json).toMatchObject({ code: 7, message: 'this API key lacks the "write" scope' });
    const badTenant = await call('/users/alice:disconnect', { tenantId: 5 }, 'admin-key');
    expect(badTenant.status).toBe(400);
    expect(badTenant.json).toMatchObject({ code: 3, details: [{ fieldViolations: [{ field: 'tenantId' }] }] });
    const extra = await call('/users/alice:disconnect', { reason: 'x' }, 'admin-key');
    expect(extra.status).toBe(400);
    expect(extra.json).toMatchObject({ details: [{ fieldViolations: [{ field: 'reason' }] }] });
    expect(await alice.drain()).toEqual([]);
  });
});
