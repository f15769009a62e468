/**
 * The client SDK keeps its token fresh by itself: it answers `refresh_required` with a token
 * from getToken(), and on close 4401 (`token expired`) reconnects with a fresh token and
 * recovers its subscriptions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SERVER_CLOSE_CODES, SwitchboardClient, type DisconnectedEvent, type PublicationEvent, type SwitchboardClientOptions } from '../../src/client/index.js';
import { forSuite, suiteNode } from '../support/scoped.js';
import { clientSpec, nextEvent, publish, startEchoBackend } from './support.js';
import { jwtSettings, signToken } from '../support/tokens.js';

describe('SwitchboardClient token refresh', () => {
  const clients: SwitchboardClient[] = [];

  const backend = forSuite(startEchoBackend);
  const node = suiteNode(() => ({
    spec: clientSpec(backend.url),
    settings: {
      auth: { jwt: jwtSettings({ refreshNoticeSeconds: 1 }) },
      topics: [{ pattern: '*', historySize: 100, historyTtlSeconds: 300, presence: false, joinLeave: false }],
    },
  }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  const client = (getToken: () => Promise<string>, overrides: Partial<SwitchboardClientOptions> = {}): SwitchboardClient => {
    const created = new SwitchboardClient({
      url: node.wsUrl('/rt'),
      tenantId: 'acme',
      userId: 'alice',
      WebSocket,
      getToken,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, factor: 2, jitter: true },
      ...overrides,
    });
    clients.push(created);
    return created;
  };

  it('answers refresh_required with a token from getToken() and stays connected past the first exp', async () => {
    const tokens = [signToken('acme', 'alice', {}, '2s'), signToken('acme', 'alice', {}, '1h')];
    let calls = 0;
    const sb = client(() => tokens[Math.min(calls++, 1)]!);
    const disconnects: DisconnectedEvent[] = [];
    sb.on('disconnected', (event) => disconnects.push(event));
    await sb.connect();
    const refreshed = await nextEvent(sb, 'refreshed', 4000);
    expect(Date.parse(refreshed.expiresAt!)).toBeGreaterThan(Date.now() + 3_500_000);
    expect(calls).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(disconnects).toEqual([]);
    expect(sb.state).toBe('connected');
  });

  it('on close 4401 reconnects with a fresh token and recovers its subscriptions', async () => {
    let calls = 0;
    // The first token expires; the refresh gets another user's token (refused), so exp passes unrefreshed.
    const sb = client(() => {
      calls++;
      if (calls === 1) return signToken('acme', 'alice', {}, '2s');
      if (calls === 2) return signToken('acme', 'mallory', {}, '1h');
      return signToken('acme', 'alice', {}, '1h');
    });
    const errors: Error[] = [];
    sb.on('error', (err) => errors.push(err));
    const received: PublicationEvent[] = [];
    await sb.connect();
    await sb.subscribe('expiry', (publication) => received.push(publication));
    await publish(node, 'acme:expiry', '"before"');
    const disconnected = await nextEvent(sb, 'disconnected', 4000);
    expect(disconnected).toMatchObject({ code: SERVER_CLOSE_CODES.TOKEN_EXPIRED, reason: 'token expired', willReconnect: true });
    expect(errors.map((err) => err.message)).toContain('token is for another user than this connection');
    await publish(node, 'acme:expiry', '"while away"');
    const reconnected = await nextEvent(sb, 'connected', 4000);
    expect(reconnected.reconnected).toBe(true);
    await publish(node, 'acme:expiry', '"after"');
    await expect.poll(() => received.map((p) => p.payload)).toEqual(['before', 'while away', 'after']);
    expect(calls).toBe(3);
  });

  it('without getToken, close 4401 ends the client with UNAUTHORIZED "token expired"', async () => {
    const token = await signToken('acme', 'alice', {}, '2s');
    const sb = new SwitchboardClient({ url: node.wsUrl('/rt'), tenantId: 'acme', userId: 'alice', WebSocket, token, reconnect: { initialDelayMs: 20, maxDelayMs: 200, factor: 2, jitter: true } });
    clients.push(sb);
    const messages: string[] = [];
    sb.on('message', (message) => messages.push(message.type));
    await sb.connect();
    const failed = await nextEvent(sb, 'error', 4000);
    expect(failed).toMatchObject({ code: 'UNAUTHORIZED', message: 'token expired', closeCode: 4401 });
    expect(messages).toEqual(['refresh_required']);
    expect(sb.state).toBe('idle');
  });
});
