/**
 * A client written exactly to the seed's websocket-manager protocol (seeds/realtime-connection-info.md):
 * envelopes `{type, data: {channel}, tenantId, userId, timestamp}` with numeric timestamps, the
 * full `tenant:name` as `channel`. It works against Switchboard unchanged.
 */
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { expectApi, realtimeUrl, startRealtimeNode, text, topic } from './support.js';
import { signToken } from '../support/tokens.js';

interface SeedEnvelope {
  type: string;
  data: Record<string, unknown>;
  tenantId?: string;
  userId?: string;
  timestamp: string | number;
}

/** The seed manager's client: plain `ws`, one envelope per frame, nothing of Switchboard's own. */
class SeedClient {
  private readonly inbox: SeedEnvelope[] = [];
  private readonly waiting: ((envelope: SeedEnvelope) => void)[] = [];
  private constructor(
    readonly ws: WebSocket,
    readonly tenantId: string,
    readonly userId: string,
  ) {
    ws.on('message', (data: Buffer) => {
      const envelope = JSON.parse(data.toString('utf8')) as SeedEnvelope;
      const waiter = this.waiting.shift();
      if (waiter) waiter(envelope);
      else this.inbox.push(envelope);
    });
  }

  static open(url: string, tenantId: string, userId: string): Promise<SeedClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new SeedClient(ws, tenantId, userId);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  send(type: string, data: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ type, data, tenantId: this.tenantId, userId: this.userId, timestamp: Date.now() }));
  }

  next(): Promise<SeedEnvelope> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no envelope within 5 s')), 5000);
      this.waiting.push((envelope) => {
        clearTimeout(timer);
        resolve(envelope);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

describe("a client written to the seed manager's protocol", () => {
  const node = forSuite(() => startRealtimeNode({ topics: [topic('acme:*')] }));

  it('subscribes with channel and numeric timestamps, hears publications, pings and unsubscribes unchanged', async () => {
    const token = await signToken('acme', 'alice');
    const client = await SeedClient.open(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token }), 'acme', 'alice');
    try {
      const connected = await client.next();
      expect(connected).toMatchObject({ type: 'connected', tenantId: 'acme', userId: 'alice' });
      const connectionId = connected.data.connectionId as string;

      client.send('subscribe', { channel: 'acme:orders' });
      const subscribed = await client.next();
      expect(subscribed).toMatchObject({ type: 'subscribed', tenantId: 'acme', data: { channel: 'acme:orders', topic: 'acme:orders' } });

      await expectApi(node, 200, 'POST', `${V1}/topics/acme:orders:publish`, text('{"order":42}'));
      expect(await client.next()).toMatchObject({ type: 'publication', data: { topic: 'acme:orders', payload: { order: 42 } } });

      client.send('ping', {});
      expect(await client.next()).toMatchObject({ type: 'pong', tenantId: 'acme', userId: 'alice' });

      // The seed's ConnectionInfo is all there in the FULL view from the start.
      const view = await expectApi(node, 200, 'GET', `${V1}/connections/${connectionId}?view=FULL`);
      expect(view).toMatchObject({ tenantId: 'acme', userId: 'alice', subscriptions: ['acme:orders'], isAlive: true, lastPing: view.connectedAt });

      client.send('unsubscribe', { channel: 'acme:orders' });
      expect(await client.next()).toMatchObject({ type: 'unsubscribed', data: { channel: 'acme:orders', topic: 'acme:orders' } });
    } finally {
      await client.close();
    }
  });

  it("refuses a channel of another tenant with FORBIDDEN_TENANT and a timestamp that is neither a number nor RFC 3339", async () => {
    const token = await signToken('acme', 'alice');
    const client = await SeedClient.open(realtimeUrl(node, { tenantId: 'acme', userId: 'alice', token }), 'acme', 'alice');
    try {
      await client.next();
      client.send('subscribe', { channel: 'globex:orders' });
      expect(await client.next()).toMatchObject({ type: 'error', data: { code: 'FORBIDDEN_TENANT', field: 'data.channel' } });
      client.ws.send(JSON.stringify({ type: 'ping', data: {}, timestamp: true }));
      expect(await client.next()).toMatchObject({ type: 'error', data: { code: 'BAD_REQUEST', field: 'timestamp' } });
      client.ws.send(JSON.stringify({ type: 'ping', data: {}, timestamp: '2026-11-22T11:40:14.123Z' }));
      expect(await client.next()).toMatchObject({ type: 'pong' });
    } finally {
      await client.close();
    }
  });
});
