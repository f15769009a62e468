import { describe, expect, it } from 'vitest';
import type { Hub } from '../../src/cluster/index.js';
import { ConnectionRecord, type ClientTransport } from '../../src/connections/index.js';
import { createLogger } from '../../src/observability/index.js';
import { createRealtime, type RealtimeSession } from '../../src/realtime/index.js';
import { ManualClock } from '../../src/time/index.js';

const transport: ClientTransport = { write: () => true, close: () => undefined };

/** A connection of tenant acme, user alice, on a path without a forward integration; keeps what it was sent. */
function session(): { session: RealtimeSession; sent: Record<string, unknown>[] } {
  const sent: Record<string, unknown>[] = [];
  const record = new ConnectionRecord('n.1', 'g', '127.0.0.1', 'ua', 0, 'realtime', transport, 'acme', 'alice');
  return {
    sent,
    session: {
      record,
      route: {} as RealtimeSession['route'],
      sendText: (text) => (sent.push(JSON.parse(text) as Record<string, unknown>), true),
      forward: () => undefined,
      open: true,
      close: () => undefined,
      backendHeaders: () => ({}),
    },
  };
}

/** A Hub that records the subscriptions it was asked for. */
function recordingHub(): { hub: Hub; calls: string[] } {
  const calls: string[] = [];
  const hub = {
    subscribe: async (connectionId: string, topic: string) => (calls.push(`subscribe ${connectionId} ${topic}`), { offset: 0, epoch: 'e' }),
    unsubscribe: async (connectionId: string, topic: string) => void calls.push(`unsubscribe ${connectionId} ${topic}`),
  } as unknown as Hub;
  return { hub, calls };
}

function realtime(): ReturnType<typeof createRealtime> {
  return createRealtime({ jwt: undefined, clock: new ManualClock(), log: createLogger('silent') });
}

const frame = (envelope: unknown): Buffer => Buffer.from(JSON.stringify(envelope));

describe('the realtime protocol, one frame at a time', () => {
  it('answers a binary frame BAD_REQUEST: the protocol takes JSON text frames only', () => {
    const rt = realtime();
    rt.attach(recordingHub().hub);
    const { session: client, sent } = session();
    rt.protocol.message(client, frame({ type: 'ping' }), true);
    expect(sent).toEqual([expect.objectContaining({ type: 'error', data: { code: 'BAD_REQUEST', message: 'the realtime protocol takes JSON text frames only' } })]);
  });

  it('answers an envelope naming another tenant FORBIDDEN_TENANT with its requestId, and the Hub is never asked', () => {
    const rt = realtime();
    const { hub, calls } = recordingHub();
    rt.attach(hub);
    const { session: client, sent } = session();
    rt.protocol.message(client, frame({ type: 'subscribe', tenantId: 'globex', requestId: 'r1', data: { topic: 'orders' } }), false);
    expect(sent).toEqual([
      expect.objectContaining({ type: 'error', requestId: 'r1', data: { code: 'FORBIDDEN_TENANT', message: 'tenantId does not match this connection', field: 'tenantId' } }),
    ]);
    expect(calls).toEqual([]);
  });

  it('answers ping with pong and subscribes to the tenant-scoped topic', async () => {
    const rt = realtime();
    const { hub, calls } = recordingHub();
    rt.attach(hub);
    const { session: client, sent } = session();
    rt.protocol.message(client, frame({ type: 'ping', requestId: 'p' }), false);
    rt.protocol.message(client, frame({ type: 'subscribe', requestId: 's', data: { topic: 'orders' } }), false);
    await expect.poll(() => sent.length).toBe(2);
    expect(sent.map((envelope) => [envelope.type, envelope.requestId, envelope.tenantId])).toEqual([
      ['pong', 'p', 'acme'],
      ['subscribed', 's', 'acme'],
    ]);
    expect(sent[1]?.data).toEqual({ topic: 'acme:orders', channel: 'acme:orders', offset: 0, epoch: 'e' });
    expect(calls).toEqual([`subscribe ${client.record.id} acme:orders`]);
  });

  it('answers a type it does not know UNKNOWN_TYPE when the path has no forward integration', () => {
    const rt = realtime();
    rt.attach(recordingHub().hub);
    const { session: client, sent } = session();
    rt.protocol.message(client, frame({ type: 'order.create', requestId: 'o' }), false);
    expect(sent).toEqual([
      expect.objectContaining({ type: 'error', requestId: 'o', data: { code: 'UNKNOWN_TYPE', message: 'unknown message type "order.create"', field: 'type' } }),
    ]);
  });

  it('refuses to run before the composition root attached the Hub', () => {
    const rt = realtime();
    const { session: client } = session();
    expect(() => rt.protocol.message(client, frame({ type: 'ping' }), false)).toThrow('realtime protocol used before attach(hub)');
  });
});
