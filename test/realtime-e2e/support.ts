/**
 * What the realtime end-to-end tests share: a gateway spec with realtime and raw paths, JWT
 * settings and signed tokens (from test/support/tokens.ts), and a client that knows the envelope protocol.
 */
import type { TopicSettings } from '../../src/config/index.js';
import { connectClient, startTestNode, type SettingsOverrides, type TestClient, type TestNode } from '../support/harness.js';
import { jwtSettings, signToken } from '../support/tokens.js';

export const GATEWAY_ID = 'rt-gateway';

/**
 * `/rt`: realtime, nothing forwarded. `/rt-dummy`: realtime forwarding to a dummy answer.
 * `/rt-http`: realtime forwarding to `forwardUrl` (when given). `/raw`: a plain dummy path.
 */
export function realtimeSpec(forwardUrl?: string): string {
  return `
openapi: 3.0.0
info: {title: realtime e2e, version: '1'}
x-switchboard: {gatewayId: ${GATEWAY_ID}}
paths:
  /rt:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
  /rt-dummy:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
        forward:
          type: dummy
          http_code: 200
          content:
            application/json: '{"type":"forwarded"}'
${
  forwardUrl === undefined
    ? ''
    : `  /rt-http:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
        forward:
          type: http
          url: ${forwardUrl}
`
}  /raw:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: dummy
        http_code: 200
        content:
          text/plain: ok
`;
}

export function topic(pattern: string, overrides: Partial<TopicSettings> = {}): TopicSettings {
  return { pattern, historySize: 100, historyTtlSeconds: 300, presence: true, joinLeave: false, ...overrides };
}

/** A node serving `realtimeSpec` with HS256 auth; settings merge over that. */
export function startRealtimeNode(settings: SettingsOverrides = {}, forwardUrl?: string): Promise<TestNode> {
  return startTestNode({ spec: realtimeSpec(forwardUrl), settings: { auth: { jwt: jwtSettings() }, ...settings } });
}

export function realtimeUrl(node: TestNode, query: Record<string, string>, path = '/rt'): string {
  return node.wsUrl(`${path}?${new URLSearchParams(query).toString()}`);
}

export interface RealtimeClient extends TestClient {
  connectionId: string;
  tenantId: string;
  userId: string;
  /** Sends an envelope (requestId added when absent) and resolves with the next envelope. */
  request(envelope: Record<string, unknown>): Promise<Envelope>;
  send(envelope: Record<string, unknown>): void;
  nextEnvelope(timeoutMs?: number): Promise<Envelope>;
  /**
   * Everything that arrives before the answer to a ping sent now. The server handles frames
   * in order and writes in order, so whatever it had already sent comes before the pong.
   */
  drain(): Promise<Envelope[]>;
}

export interface Envelope {
  type: string;
  data: Record<string, unknown>;
  tenantId?: string;
  userId?: string;
  timestamp: string;
  requestId?: string;
}

let requestCounter = 0;

/** Connects with a valid token and consumes the `connected` envelope. */
export async function connectRealtime(node: TestNode, tenantId: string, userId: string, path = '/rt'): Promise<RealtimeClient> {
  const token = await signToken(tenantId, userId);
  const client = await connectClient(realtimeUrl(node, { tenantId, userId, token }, path));
  const connected = await client.nextJson<Envelope>();
  if (connected.type !== 'connected') throw new Error(`expected "connected", got ${JSON.stringify(connected)}`);
  return wrapRealtime(client, connected.data.connectionId as string, tenantId, userId);
}

export function wrapRealtime(client: TestClient, connectionId: string, tenantId: string, userId: string): RealtimeClient {
  const nextEnvelope = (timeoutMs?: number): Promise<Envelope> => client.nextJson<Envelope>(timeoutMs);
  const send = (envelope: Record<string, unknown>): void => client.ws.send(JSON.stringify(envelope));
  return Object.assign(client, {
    connectionId,
    tenantId,
    userId,
    nextEnvelope,
    send,
    async request(envelope: Record<string, unknown>): Promise<Envelope> {
      send({ requestId: `r${++requestCounter}`, ...envelope });
      return nextEnvelope();
    },
    async drain(): Promise<Envelope[]> {
      const marker = `drain-${++requestCounter}`;
      send({ type: 'ping', requestId: marker });
      const seen: Envelope[] = [];
      for (;;) {
        const envelope = await nextEnvelope();
        if (envelope.type === 'pong' && envelope.requestId === marker) return seen;
        seen.push(envelope);
      }
    },
  });
}

/** A management call answered with the given status; returns the JSON body. */
export async function expectApi(node: TestNode, status: number, method: string, path: string, body?: unknown, key?: string): Promise<Record<string, unknown>> {
  const response = await node.api(method, path, body, key === undefined ? {} : { authorization: `Bearer ${key}` });
  if (response.status !== status) {
    throw new Error(`${method} ${path}: expected ${status}, got ${response.status} ${response.text}`);
  }
  return (response.json ?? {}) as Record<string, unknown>;
}

export const text = (value: string): { data: string; type: 'TEXT' } => ({ data: Buffer.from(value).toString('base64'), type: 'TEXT' });
