import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackplane, MemoryBus, NodeHub } from '../../src/cluster/index.js';
import { ConnectionRecord, ConnectionRegistry, OutboundFrame } from '../../src/connections/index.js';
import type { ClientSession } from '../../src/edge/index.js';
import { createLogger } from '../../src/observability/index.js';
import { createRealtime } from '../../src/realtime/index.js';
import { ManualClock } from '../../src/time/index.js';
import { FakeTransport } from '../support/fake-transport.js';
import { V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, startRealtimeNode, text, topic, type Envelope, type RealtimeClient } from './support.js';

const TENANTS = ['acme', 'globex', 'initech'] as const;
const USERS = ['alice', 'bob'] as const;
const NAMES = ['chat', 'news', 'chat.lobby'] as const;
/** What a client or a management key may name: bare names, scoped names of any tenant, names without a tenant. */
const TOPIC_NAMES = [...NAMES, ...TENANTS.flatMap((t) => NAMES.map((n) => `${t}:${n}`)), 'acme', ':chat'];
const SCOPED_TOPICS = TENANTS.flatMap((t) => NAMES.map((n) => `${t}:${n}`));

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A realtime session stand-in: the protocol writes to it as to a socket, and it names its route. */
class FakeSession extends FakeTransport {
  record!: ConnectionRecord;
  readonly route = { realtime: { kind: 'realtime', spec: { type: 'realtime' } } };
  sendText(textFrame: string): boolean {
    return this.write(new OutboundFrame(Buffer.from(textFrame), false));
  }
  forward(): void {
    throw new Error('nothing is forwarded in this test');
  }
}

type Action =
  | { kind: 'clientSubscribe'; conn: number; topic: string; claimTenant: string | undefined }
  | { kind: 'clientUnsubscribe'; conn: number; topic: string }
  | { kind: 'apiSubscribe'; conn: number; topic: string }
  | { kind: 'publish'; topic: string }
  | { kind: 'sendToUser'; user: string; tenant: string }
  | { kind: 'broadcast'; tenant: string }
  | { kind: 'disconnect'; conn: number };

const CONNS = 6;
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('clientSubscribe' as const),
    conn: fc.nat(CONNS - 1),
    topic: fc.constantFrom(...TOPIC_NAMES),
    claimTenant: fc.option(fc.constantFrom(...TENANTS), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant('clientUnsubscribe' as const), conn: fc.nat(CONNS - 1), topic: fc.constantFrom(...TOPIC_NAMES) }),
  fc.record({ kind: fc.constant('apiSubscribe' as const), conn: fc.nat(CONNS - 1), topic: fc.constantFrom(...TOPIC_NAMES) }),
  fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom(...SCOPED_TOPICS, 'chat', 'acme') }),
  fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom(...SCOPED_TOPICS) }),
  fc.record({ kind: fc.constant('sendToUser' as const), user: fc.constantFrom(...USERS), tenant: fc.constantFrom(...TENANTS) }),
  fc.record({ kind: fc.constant('broadcast' as const), tenant: fc.constantFrom(...TENANTS) }),
  fc.record({ kind: fc.constant('disconnect' as const), conn: fc.nat(CONNS - 1) }),
);

/** Every frame a connection of `tenant` received names that tenant and only that tenant. */
function expectOnlyTenant(tenant: string, frames: string[]): void {
  for (const frame of frames) {
    const message = JSON.parse(frame) as Record<string, unknown>;
    if ('type' in message) {
      const envelope = message as unknown as Envelope;
      expect(envelope.tenantId, frame).toBe(tenant);
      if (typeof envelope.data.topic === 'string') expect(envelope.data.topic.startsWith(`${tenant}:`), frame).toBe(true);
      if (envelope.type === 'publication') expect((envelope.data.payload as { topic: string }).topic, frame).toBe(envelope.data.topic);
    } else {
      // A raw frame from a user send or a tenant broadcast.
      expect(message.tenant, frame).toBe(tenant);
    }
  }
}

describe('tenant isolation', () => {
  it('no frame reaches a connection of another tenant, whatever clients, keys and publishers do (registry + the Hub on the memory backplane)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ tenant: fc.constantFrom(...TENANTS), user: fc.constantFrom(...USERS) }), { minLength: CONNS, maxLength: CONNS }),
        fc.array(action, { minLength: 1, maxLength: 40, size: 'max' }),
        async (identities, actions) => {
          const clock = new ManualClock();
          const registry = new ConnectionRegistry();
          const realtime = createRealtime({ jwt: undefined, clock, log: createLogger('silent') });
          const hub = new NodeHub({ nodeId: 'n1', registry, backplane: new MemoryBackplane(new MemoryBus(clock)), topics: [topic('*', { joinLeave: true, presence: true })], framer: realtime.framer, log: createLogger('silent') });
          await hub.start();
          realtime.attach(hub);
          const sessions = identities.map((who, i) => {
            const session = new FakeSession();
            session.onClose = () => {
              if (registry.remove(session.record)) hub.connectionGone(session.record);
            };
            session.record = new ConnectionRecord(`n1.c${String(i).padStart(21, '0')}`, 'gw', '127.0.0.1', 'ua', clock.now(), 'realtime', session, who.tenant, who.user);
            registry.add(session.record);
            return session;
          });
          // The model: the topics each open connection is subscribed to.
          const model = sessions.map(() => new Set<string>());
          const asSession = (s: FakeSession): ClientSession => s as unknown as ClientSession;
          let n = 0;

          for (const step of actions) {
            switch (step.kind) {
              case 'clientSubscribe':
              case 'clientUnsubscribe': {
                const session = sessions[step.conn]!;
                const tenant = session.record.tenantId!;
                const envelope: Record<string, unknown> = { type: step.kind === 'clientSubscribe' ? 'subscribe' : 'unsubscribe', data: { topic: step.topic } };
                const claim = step.kind === 'clientSubscribe' ? step.claimTenant : undefined;
                if (claim !== undefined) envelope.tenantId = claim;
                realtime.protocol.message(asSession(session), Buffer.from(JSON.stringify(envelope)), false);
                await flush();
                const scoped = step.topic.includes(':') ? step.topic : `${tenant}:${step.topic}`;
                const allowed = session.open && (claim === undefined || claim === tenant) && scoped.startsWith(`${tenant}:`) && scoped.length > tenant.length + 1;
                if (allowed && step.kind === 'clientSubscribe') model[step.conn]!.add(scoped);
                if (allowed && step.kind === 'clientUnsubscribe') model[step.conn]!.delete(scoped);
                break;
              }
              case 'apiSubscribe': {
                const session = sessions[step.conn]!;
                const accepted = await hub.subscribe(session.record.id, step.topic).then(
                  () => true,
                  () => false,
                );
                expect(accepted).toBe(session.open && step.topic.startsWith(`${session.record.tenantId!}:`));
                if (accepted) model[step.conn]!.add(step.topic);
                break;
              }
              case 'publish': {
                const payload = { data: Buffer.from(JSON.stringify({ topic: step.topic, n: ++n })), binary: false };
                const result = await hub.publish(step.topic, payload);
                const expected = sessions.filter((s, i) => s.open && model[i]!.has(step.topic)).length;
                expect(result.delivered).toBe(expected);
                break;
              }
              case 'sendToUser':
                await hub.sendToUser(step.user, { data: Buffer.from(JSON.stringify({ tenant: step.tenant })), binary: false }, step.tenant);
                break;
              case 'broadcast':
                await hub.broadcast(step.tenant, { data: Buffer.from(JSON.stringify({ tenant: step.tenant })), binary: false });
                break;
              case 'disconnect':
                sessions[step.conn]!.close(1000, 'disconnected by the test');
                model[step.conn]!.clear();
                break;
            }
          }
          await flush();
          sessions.forEach((session) => expectOnlyTenant(session.record.tenantId!, session.texts()));
        },
      ),
      { numRuns: 150 },
    );
  });

  describe('end to end through the management API', () => {
    const node = forSuite(() => startRealtimeNode({ topics: [topic('*', { joinLeave: true })] }));
    /** One client per tenant and user, all closed after the block. */
    const everyone = forSuite(async () => {
      const clients: RealtimeClient[] = [];
      for (const tenant of TENANTS) for (const user of USERS) clients.push(await connectRealtime(node, tenant, user));
      const close = async (): Promise<void> => {
        await Promise.all(clients.map((c) => c.close()));
      };
      return { clients, close };
    });

    it('publishes, user sends, broadcasts and subscribes of any tenant reach only that tenant', async () => {
      const { clients } = everyone;
      const step = fc.oneof(
        fc.record({ kind: fc.constant('subscribe' as const), client: fc.nat(clients.length - 1), topic: fc.constantFrom(...TOPIC_NAMES), viaApi: fc.boolean() }),
        fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom(...SCOPED_TOPICS) }),
        fc.record({ kind: fc.constant('user' as const), user: fc.constantFrom(...USERS), tenant: fc.constantFrom(...TENANTS) }),
        fc.record({ kind: fc.constant('broadcast' as const), tenant: fc.constantFrom(...TENANTS) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
          let n = 0;
          for (const s of steps) {
            if (s.kind === 'subscribe') {
              const client = clients[s.client]!;
              if (s.viaApi) {
                await node.api('POST', `${V1}/connections/${client.connectionId}:subscribe`, { topic: s.topic });
              } else {
                client.send({ type: 'subscribe', data: { topic: s.topic } });
              }
            } else if (s.kind === 'publish') {
              const response = await node.api('POST', `${V1}/topics/${s.topic}:publish`, text(JSON.stringify({ topic: s.topic, n: ++n })));
              expect(response.status).toBe(200);
            } else if (s.kind === 'user') {
              await node.api('POST', `${V1}/users/${s.user}:send`, { ...text(JSON.stringify({ tenant: s.tenant })), tenantId: s.tenant });
            } else {
              await node.api('POST', `${V1}/tenants/${s.tenant}:broadcast`, text(JSON.stringify({ tenant: s.tenant })));
            }
          }
          for (const client of clients) {
            expectOnlyTenant(client.tenantId, (await client.drain()).map((e) => JSON.stringify(e)));
          }
          // Start the next run from no subscriptions.
          for (const client of clients) {
            const view = (await node.api('GET', `${V1}/connections/${client.connectionId}?view=FULL`)).json as { subscriptions: string[] };
            for (const subscription of view.subscriptions) {
              await node.api('POST', `${V1}/connections/${client.connectionId}:unsubscribe`, { topic: subscription });
            }
            await client.drain();
          }
        }),
        { numRuns: 12 },
      );
    });
  });
});
