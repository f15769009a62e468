/**
 * Real servers and real sockets for tests: a Switchboard node on free loopback ports, an HTTP
 * backend that records what it was sent, and a WebSocket client that queues what it receives.
 * Every helper returns something with close(); tests close what they start.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { defaultSettings, parseGatewaySpec, SwitchboardNode, type GatewaySpec, type Settings } from '../../src/index.js';
import { createLogger } from '../../src/observability/index.js';

/** Base path of the management API's Connection service. */
export const V1 = '/apigateways/websocket/v1';

export type SettingsOverrides = {
  [K in keyof Settings]?: Settings[K] extends object ? Partial<Settings[K]> : Settings[K];
};

export interface TestNode {
  node: SwitchboardNode;
  /** `ws://127.0.0.1:PORT` + path. */
  wsUrl(path: string): string;
  /** Base URL of the management listener. */
  apiUrl: string;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  json: unknown;
  text: string;
}

/** Starts a node on 127.0.0.1 with free ports; `spec` is YAML text, specs, or undefined for the demo. */
export async function startTestNode(options: { spec?: string | GatewaySpec[]; settings?: SettingsOverrides } = {}): Promise<TestNode> {
  const base = defaultSettings();
  const overrides = options.settings ?? {};
  const settings: Settings = {
    ...base,
    ...(overrides as Partial<Settings>),
    listen: { host: '127.0.0.1', port: 0 },
    management: { ...base.management, listen: { host: '127.0.0.1', port: 0 }, ...(overrides.management ?? {}) },
    // Every test client comes from 127.0.0.1: the per-address budgets, which would make a busy
    // test flaky, are lifted unless a test sets them (test/security/edge-attacks.test.ts does).
    limits: { ...base.limits, acceptsPerSecondPerIp: 0, pendingHandshakesPerIp: 100_000, ...(overrides.limits ?? {}) },
    auth: { ...base.auth, ...(overrides.auth ?? {}) },
    edge: { ...base.edge, ...(overrides.edge ?? {}) },
    backends: { ...base.backends, ...(overrides.backends ?? {}) },
    log: { level: 'silent' },
  };
  const specs = typeof options.spec === 'string' ? [parseGatewaySpec(options.spec, 'test-spec.yaml')] : options.spec;
  const node = await SwitchboardNode.start(settings, { ...(specs ? { specs } : {}), log: createLogger('silent') });
  const client = node.clientAddress;
  const mgmt = node.managementAddress;
  const apiUrl = `http://127.0.0.1:${mgmt.port}`;
  return {
    node,
    apiUrl,
    wsUrl: (path: string) => `ws://127.0.0.1:${client.port}${path}`,
    api: (method, path, body, headers = {}) => apiCall(apiUrl, method, path, body, headers),
    close: () => node.stop(),
  };
}

export async function apiCall(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type BackendHandler = (request: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface TestBackend {
  url: string;
  requests: RecordedRequest[];
  setHandler(handler: BackendHandler): void;
  /** Resolves with the first recorded request that matches. */
  waitFor(predicate: (request: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** A real HTTP backend on `port` (a free one by default); by default answers 200 with an empty body. */
export async function startBackend(handler?: BackendHandler, port = 0): Promise<TestBackend> {
  let current: BackendHandler = handler ?? ((_req, res) => {
    res.end();
  });
  const requests: RecordedRequest[] = [];
  const waiters: { predicate: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.predicate(recorded)) waiters.splice(i, 1)[0]!.resolve(recorded);
      }
      Promise.resolve(current(recorded, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    setHandler: (next) => {
      current = next;
    },
    waitFor: (predicate, timeoutMs = 5000) => {
      const found = requests.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('backend request not seen in time')), timeoutMs);
        waiters.push({ predicate, resolve: (r) => { clearTimeout(timer); resolve(r); } });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ReceivedMessage {
  data: Buffer;
  binary: boolean;
  text: string;
}

export interface TestClient {
  ws: WebSocket;
  /** Headers of the 101 response. */
  upgradeHeaders: IncomingHttpHeaders;
  next(timeoutMs?: number): Promise<ReceivedMessage>;
  /** Next message parsed as JSON. */
  nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /** Resolves true when no message arrives within the time. */
  silentFor(ms: number): Promise<boolean>;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** Connects and resolves once open; rejects with the HTTP status when the upgrade is refused. */
export function connectClient(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const inbox: ReceivedMessage[] = [];
    const waiting: ((m: ReceivedMessage) => void)[] = [];
    let upgradeHeaders: IncomingHttpHeaders = {};
    let resolveClosed!: (value: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
    ws.on('upgrade', (res) => {
      upgradeHeaders = res.headers;
    });
    ws.on('message', (data: Buffer, binary: boolean) => {
      const message = { data, binary, text: data.toString('utf8') };
      const waiter = waiting.shift();
      if (waiter) waiter(message);
      else inbox.push(message);
    });
    ws.on('close', (code, reason) => resolveClosed({ code, reason: reason.toString('utf8') }));
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers })));
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () => {
      const next = (timeoutMs = 5000): Promise<ReceivedMessage> => {
        const queued = inbox.shift();
        if (queued) return Promise.resolve(queued);
        return new Promise((res, rej) => {
          const timer = setTimeout(() => {
            const i = waiting.indexOf(waiter);
            if (i >= 0) waiting.splice(i, 1);
            rej(new Error(`no message within ${timeoutMs} ms`));
          }, timeoutMs);
          const waiter = (m: ReceivedMessage): void => {
            clearTimeout(timer);
            res(m);
          };
          waiting.push(waiter);
        });
      };
      resolve({
        ws,
        upgradeHeaders,
        next,
        nextJson: async <T,>(timeoutMs?: number) => JSON.parse((await next(timeoutMs)).text) as T,
        silentFor: (ms) => next(ms).then(() => false, () => true),
        closed,
        close: async () => {
          if (ws.readyState === WebSocket.CLOSED) return;
          ws.close();
          await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
          ws.terminate();
        },
      });
    });
  });
}

/** Resolves when the predicate holds, polling; for state that settles asynchronously. */
export async function eventually<T>(probe: () => T | Promise<T>, accept: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last value ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');
