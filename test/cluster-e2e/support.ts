/**
 * What the multi-node tests share: a private backplane server (redis-server or nats-server
 * -js on a free port, never the shared ones on 6379 and 4222), nodes of the realtime spec
 * clustered over it, realtime clients on any node, and management calls by node.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { apiCall, connectClient, V1, type ApiResponse, type TestNode } from '../support/harness.js';
import { startNatsServer } from '../support/nats-server.js';
import { startRedisServer } from '../support/redis-server.js';
import { JWT_SECRET, signToken } from '../support/tokens.js';
import { GATEWAY_ID, realtimeSpec, startRealtimeNode, topic, wrapRealtime, type Envelope, type RealtimeClient } from '../realtime-e2e/support.js';

export type BackplaneKind = 'redis' | 'nats';

export interface BackplaneServer {
  kind: BackplaneKind;
  /** The URL nodes are given, which is also the name UNAVAILABLE errors give. */
  url: string;
  port: number;
  /** A URL of the same scheme for another port (a proxy in front of this server). */
  urlAt(port: number): string;
  /** Whether history outlives stop() and start(): NATS keeps its store; the private Redis runs without persistence. */
  historySurvivesRestart: boolean;
  /** Takes the server away (an outage). */
  stop(): Promise<void>;
  /** Brings it back on the same port. */
  start(): Promise<void>;
  /** Ends it for good. */
  close(): Promise<void>;
}

export async function startBackplaneServer(kind: BackplaneKind): Promise<BackplaneServer> {
  if (kind === 'redis') {
    const server = await startRedisServer();
    return {
      kind,
      url: server.url,
      port: server.port,
      urlAt: (port) => `redis://127.0.0.1:${port}`,
      historySurvivesRestart: false,
      stop: () => server.stop(),
      start: () => server.restart(),
      close: () => server.stop(),
    };
  }
  const server = await startNatsServer();
  return {
    kind,
    url: server.url,
    port: server.port,
    urlAt: (port) => `nats://127.0.0.1:${port}`,
    historySurvivesRestart: true,
    stop: () => server.halt(),
    start: () => server.restart(),
    close: () => server.stop(),
  };
}

/** Every topic keeps history and presence, so each case can use any topic of its tenant. */
export const CLUSTER_TOPICS = [topic('*', { historySize: 100, historyTtlSeconds: 300, presence: true })];

/** A node of the realtime spec on the backplane, on free ports. */
export function startClusterNode(backplane: string, nodeId: string): Promise<TestNode> {
  return startRealtimeNode({ backplane, nodeId, topics: CLUSTER_TOPICS });
}

/** Anything clients can connect to: an in-process TestNode or a node in its own process. */
export interface Reachable {
  wsUrl(path: string): string;
  apiUrl: string;
}

/** Connects to `/rt` with a valid token and consumes the `connected` envelope. */
export async function connectRealtimeAt(node: Reachable, tenantId: string, userId: string): Promise<RealtimeClient> {
  const token = await signToken(tenantId, userId);
  const client = await connectClient(node.wsUrl(`/rt?${new URLSearchParams({ tenantId, userId, token }).toString()}`));
  const connected = await client.nextJson<Envelope>();
  if (connected.type !== 'connected') throw new Error(`expected "connected", got ${JSON.stringify(connected)}`);
  return wrapRealtime(client, connected.data.connectionId as string, tenantId, userId);
}

export function api(node: Reachable, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  return apiCall(node.apiUrl, method, path, body);
}

/** A management call that must answer `status`; returns its JSON body. */
export async function expectApi(node: Reachable, status: number, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await api(node, method, path, body);
  if (response.status !== status) throw new Error(`${method} ${path} on ${node.apiUrl}: expected ${status}, got ${response.status} ${response.text}`);
  return (response.json ?? {}) as Record<string, unknown>;
}

export const text = (value: string): { data: string; type: 'TEXT' } => ({ data: Buffer.from(value).toString('base64'), type: 'TEXT' });

export const connectionPath = (id: string): string => `${V1}/connections/${encodeURIComponent(id)}`;

/** What a cross-node call answers while this node has lost its backplane: 503, code 14, naming it. */
export function expectUnavailable(response: ApiResponse, backplaneUrl: string): void {
  expect(response.status, response.text).toBe(503);
  expect(response.json).toEqual({ code: 14, message: `backplane ${backplaneUrl} unavailable`, details: [] });
}

/** Subscribes through the realtime protocol; returns the `subscribed` data. */
export async function subscribe(client: RealtimeClient, name: string, since?: { offset: number; epoch: string }): Promise<Record<string, unknown>> {
  const reply = await client.request({ type: 'subscribe', data: { topic: name, ...(since === undefined ? {} : { since }) } });
  if (reply.type !== 'subscribed') throw new Error(`subscribe ${name}: ${JSON.stringify(reply)}`);
  return reply.data;
}

/** The next `publication` envelope, skipping anything else. */
export async function nextPublication(client: RealtimeClient, timeoutMs = 5000): Promise<Envelope> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const envelope = await client.nextEnvelope(Math.max(1, deadline - Date.now()));
    if (envelope.type === 'publication') return envelope;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A config file and a spec file for `switchboard start` in a process of its own. */
export async function nodeProcessFiles(): Promise<{ config: string; spec: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-cluster-'));
  const spec = join(dir, 'gateway.yaml');
  const config = join(dir, 'switchboard.yaml');
  await writeFile(spec, realtimeSpec());
  await writeFile(
    config,
    [
      `spec: ${spec}`,
      'auth:',
      '  jwt:',
      `    secret: ${JWT_SECRET}`,
      '    algorithms: [HS256]',
      '    claims: {tenantId: tid, userId: sub}',
      'topics:',
      '  - pattern: "*"',
      '    historySize: 100',
      '    historyTtlSeconds: 300',
      '    presence: true',
      'log: {level: info}',
      '',
    ].join('\n'),
  );
  return { config, spec, remove: () => rm(dir, { recursive: true, force: true }) };
}

export { GATEWAY_ID, V1, type RealtimeClient, type Envelope, type TestNode };
