/**
 * Spec builders and small helpers shared by the tests that run a node. Specs are built as
 * objects and written out as YAML, the format operators write them in.
 */
import { createServer, type AddressInfo } from 'node:net';
import { stringify } from 'yaml';

export type Integration = Record<string, unknown>;

export interface PathSpec {
  connect?: Integration;
  message?: Integration;
  disconnect?: Integration;
  /** `$request.body.action` and the like; needs `routes`. */
  selection?: string;
  /** Route key → integration, `$default` included. */
  routes?: Record<string, Integration>;
}

/** `type: http` to `url`; `extra` adds method, headers or timeouts ({connect, read} in seconds). */
export function http(url: string, extra: Record<string, unknown> = {}): Integration {
  return { type: 'http', url, ...extra };
}

export function dummy(content: string, httpCode = 200, httpHeaders: Record<string, string> = {}): Integration {
  return { type: 'dummy', http_code: httpCode, content, ...(Object.keys(httpHeaders).length > 0 ? { http_headers: httpHeaders } : {}) };
}

/** A gateway spec (OpenAPI 3 YAML) with the given WebSocket paths. */
export function specYaml(paths: Record<string, PathSpec>, gatewayId = 'test-gw'): string {
  const out: Record<string, unknown> = {};
  for (const [path, p] of Object.entries(paths)) {
    const item: Record<string, unknown> = {};
    if (p.connect) item['x-yc-apigateway-websocket-connect'] = { 'x-yc-apigateway-integration': p.connect };
    const message: Record<string, unknown> = {};
    if (p.message) message['x-yc-apigateway-integration'] = p.message;
    if (p.routes) message['x-switchboard-routes'] = p.routes;
    item['x-yc-apigateway-websocket-message'] = message;
    if (p.selection) item['x-switchboard-route-selection'] = p.selection;
    if (p.disconnect) item['x-yc-apigateway-websocket-disconnect'] = { 'x-yc-apigateway-integration': p.disconnect };
    out[path] = item;
  }
  return stringify({ openapi: '3.0.0', info: { title: 'gateway under test', version: '1.0.0' }, 'x-switchboard': { gatewayId }, paths: out });
}

/** A loopback port with nothing listening on it (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
