import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConnectionRecord, ConnectionRegistry, type ClientTransport } from '../../src/connections/index.js';

const NO_TRANSPORT: ClientTransport = { write: () => true, close: () => undefined };

function record(id: string, options: { tenantId?: string; userId?: string; gatewayId?: string; ip?: string } = {}): ConnectionRecord {
  return new ConnectionRecord(id, options.gatewayId ?? 'gw', options.ip ?? '10.0.0.1', 'ua', 0, 'realtime', NO_TRANSPORT, options.tenantId, options.userId);
}

function same(actual: boolean, expected: boolean, step: unknown): void {
  if (actual !== expected) throw new Error(`${JSON.stringify(step)} returned ${actual}, the model says ${expected}`);
}

const ids = (set: ReadonlySet<ConnectionRecord> | undefined): string[] => (set === undefined ? [] : [...set].map((r) => r.id).sort());

describe('ConnectionRegistry', () => {
  it('indexes a connection by id, tenant, user, gateway and address, and forgets it on remove', () => {
    const registry = new ConnectionRegistry();
    const a = record('a', { tenantId: 'acme', userId: 'alice', ip: '10.0.0.9' });
    registry.add(a);
    expect(registry.get('a')).toBe(a);
    expect(ids(registry.ofTenant('acme'))).toEqual(['a']);
    expect(ids(registry.ofUser('alice'))).toEqual(['a']);
    expect(ids(registry.ofGateway('gw'))).toEqual(['a']);
    expect(registry.connectionsFromIp('10.0.0.9')).toBe(1);
    expect(registry.connectionsOfTenant('acme')).toBe(1);
    expect(registry.remove(a)).toBe(true);
    expect(registry.remove(a)).toBe(false);
    expect(registry.size).toBe(0);
    expect(registry.ofTenant('acme')).toBeUndefined();
    expect(registry.ofUser('alice')).toBeUndefined();
    expect(registry.ofGateway('gw')).toBeUndefined();
    expect(registry.connectionsFromIp('10.0.0.9')).toBe(0);
  });

  it('refuses a second record under an id already registered', () => {
    const registry = new ConnectionRegistry();
    registry.add(record('a'));
    expect(() => registry.add(record('a'))).toThrow(/already registered/);
  });

  it('numbers records in registration order', () => {
    const registry = new ConnectionRegistry();
    const [a, b, c] = [record('a'), record('b'), record('c')];
    for (const r of [a, b, c]) registry.add(r);
    expect(a.seq).toBeLessThan(b.seq);
    expect(b.seq).toBeLessThan(c.seq);
    registry.remove(b);
    const d = record('d');
    registry.add(d);
    expect(d.seq).toBeGreaterThan(c.seq);
  });

  it('keeps its topic index and the records equal to a simple model under any subscribe, unsubscribe, add and remove', () => {
    const TENANTS = ['acme', 'globex', undefined] as const;
    const USERS = ['alice', 'bob', undefined] as const;
    const TOPICS = ['t1', 't2', 't3'];
    const POOL = 4;

    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), conn: fc.nat(POOL - 1) }),
      fc.record({ kind: fc.constant('remove' as const), conn: fc.nat(POOL - 1) }),
      fc.record({ kind: fc.constant('subscribe' as const), conn: fc.nat(POOL - 1), topic: fc.constantFrom(...TOPICS) }),
      fc.record({ kind: fc.constant('unsubscribe' as const), conn: fc.nat(POOL - 1), topic: fc.constantFrom(...TOPICS) }),
    );
    const identity = fc.record({
      tenant: fc.constantFrom(...TENANTS),
      user: fc.constantFrom(...USERS),
      gateway: fc.constantFrom('gw1', 'gw2'),
      ip: fc.constantFrom('10.0.0.1', '10.0.0.2'),
    });

    fc.assert(
      fc.property(fc.array(identity, { minLength: POOL, maxLength: POOL }), fc.array(op, { minLength: 10, maxLength: 80, size: 'max' }), (identities, ops) => {
        const registry = new ConnectionRegistry();
        const records = identities.map((who, i) =>
          record(`c${i}`, {
            ...(who.tenant === undefined ? {} : { tenantId: who.tenant }),
            ...(who.user === undefined ? {} : { userId: who.user }),
            gatewayId: who.gateway,
            ip: who.ip,
          }),
        );
        // The model: which records are live (once removed, never again) and what each is subscribed to.
        const state: ('new' | 'live' | 'gone')[] = records.map(() => 'new');
        const topicsOf = records.map(() => new Set<string>());

        for (const step of ops) {
          const r = records[step.conn]!;
          const live = state[step.conn] === 'live';
          switch (step.kind) {
            case 'add':
              if (state[step.conn] !== 'new') continue; // ids are never reused
              registry.add(r);
              state[step.conn] = 'live';
              break;
            case 'remove':
              same(registry.remove(r), live, step);
              if (live) state[step.conn] = 'gone';
              break;
            case 'subscribe': {
              const expected = live && !topicsOf[step.conn]!.has(step.topic);
              same(registry.subscribe(r, step.topic), expected, step);
              if (expected) topicsOf[step.conn]!.add(step.topic);
              break;
            }
            case 'unsubscribe': {
              const expected = live && topicsOf[step.conn]!.has(step.topic);
              same(registry.unsubscribe(r, step.topic), expected, step);
              if (expected) topicsOf[step.conn]!.delete(step.topic);
              break;
            }
          }
          check();
        }

        /** What the registry says and what the model says, compared as one value per step. */
        function check(): void {
          const liveIndexes = records.map((_, i) => i).filter((i) => state[i] === 'live');
          const idsWhere = (predicate: (i: number) => boolean): string[] | undefined => {
            const found = liveIndexes.filter(predicate).map((i) => records[i]!.id).sort();
            // An empty set is never kept: the index shrinks back as connections go.
            return found.length === 0 ? undefined : found;
          };
          const actualIds = (set: ReadonlySet<ConnectionRecord> | undefined): string[] | undefined => (set === undefined ? undefined : ids(set));
          const actual = {
            size: registry.size,
            all: [...registry.all()].map((r) => r.id).sort(),
            get: records.map((r) => registry.get(r.id) === r),
            topics: [...registry.topics()].sort(),
            byTopic: TOPICS.map((t) => actualIds(registry.subscribersOf(t))),
            byTenant: ['acme', 'globex'].map((t) => [actualIds(registry.ofTenant(t)), registry.connectionsOfTenant(t)]),
            byUser: ['alice', 'bob'].map((u) => actualIds(registry.ofUser(u))),
            byGateway: ['gw1', 'gw2'].map((g) => actualIds(registry.ofGateway(g))),
            perIp: ['10.0.0.1', '10.0.0.2'].map((ip) => registry.connectionsFromIp(ip)),
            subscriptions: liveIndexes.map((i) => [...(records[i]!.subscriptions ?? [])].sort()),
            isSubscribed: liveIndexes.map((i) => TOPICS.map((t) => records[i]!.isSubscribed(t))),
          };
          const expected = {
            size: liveIndexes.length,
            all: liveIndexes.map((i) => records[i]!.id).sort(),
            get: records.map((_, i) => state[i] === 'live'),
            topics: TOPICS.filter((t) => liveIndexes.some((i) => topicsOf[i]!.has(t))),
            byTopic: TOPICS.map((t) => idsWhere((i) => topicsOf[i]!.has(t))),
            byTenant: ['acme', 'globex'].map((t) => [idsWhere((i) => records[i]!.tenantId === t), liveIndexes.filter((i) => records[i]!.tenantId === t).length]),
            byUser: ['alice', 'bob'].map((u) => idsWhere((i) => records[i]!.userId === u)),
            byGateway: ['gw1', 'gw2'].map((g) => idsWhere((i) => records[i]!.gatewayId === g)),
            perIp: ['10.0.0.1', '10.0.0.2'].map((ip) => liveIndexes.filter((i) => records[i]!.sourceIp === ip).length),
            subscriptions: liveIndexes.map((i) => [...topicsOf[i]!].sort()),
            isSubscribed: liveIndexes.map((i) => TOPICS.map((t) => topicsOf[i]!.has(t))),
          };
          // Plain comparison first: thousands of steps run, and expect() is the slow part.
          if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('leaves a removed record its subscriptions, so leave events can still name them', () => {
    const registry = new ConnectionRegistry();
    const a = record('a');
    registry.add(a);
    registry.subscribe(a, 'acme:x');
    registry.remove(a);
    expect(registry.subscribersOf('acme:x')).toBeUndefined();
    expect([...(a.subscriptions ?? [])]).toEqual(['acme:x']);
  });
});
