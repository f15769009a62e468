/**
 * GET /openapi.json and /docs: the document describes every route the management listener
 * serves, with its auth, and what it says holds against the live API; adding the schemas
 * changed no answer; the page loads nothing from anywhere but this server.
 */
import { existsSync } from 'node:fs';
import type { RouteOptions } from 'fastify';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createManagementApi } from '../../src/api/index.js';
import type { Hub } from '../../src/cluster/index.js';
import { Metrics, createLogger } from '../../src/observability/index.js';
import { dummy, specYaml } from '../support/fixtures.js';
import { connectClient, V1, type ApiResponse, type TestClient } from '../support/harness.js';
import { forSuite, suiteNode, useNode, useStarted } from '../support/scoped.js';

const ADMIN = 'admin-key';
const KEYS = [
  { key: ADMIN, scopes: ['read', 'write', 'broadcast'] as ('read' | 'write' | 'broadcast')[] },
  { key: 'read-key', scopes: ['read'] as ('read' | 'write' | 'broadcast')[] },
  { key: 'write-key', scopes: ['write'] as ('read' | 'write' | 'broadcast')[] },
  { key: 'broadcast-key', scopes: ['broadcast'] as ('read' | 'write' | 'broadcast')[] },
];
const keyWith = (scope: string): string => `${scope}-key`;
const keyWithout = (scope: string): string => KEYS.find((k) => k.key !== ADMIN && !k.scopes.includes(scope as never))!.key;
/** HTML pages served by the management listener, not API operations: this document's own page and the web console. */
const PAGES = ['/docs', '/console'];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Operation {
  operationId?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown; example?: Record<string, unknown> }> };
  responses: Record<string, { description: string; headers?: Record<string, { schema: { enum?: string[] } }>; content?: Record<string, { schema: { $ref?: string } }> }>;
  security?: Record<string, string[]>[];
}

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }>; securitySchemes: Record<string, Record<string, unknown>> };
}

interface DocumentedOperation {
  method: string;
  path: string;
  operation: Operation;
}

function operationsOf(document: OpenApiDocument): DocumentedOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
}

/** A fastify route path as a pattern; printRoutes writes a parameter with two names as `:a|:b`. */
function routePattern(path: string): RegExp {
  const parts = path.split(/(:[\w]+(?:\|:[\w]+)*|\*)/);
  const source = parts.map((part, i) => (i % 2 === 0 ? part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : part === '*' ? '.*' : '[^/]+')).join('');
  return new RegExp(`^${source}$`);
}

/** A concrete path of a documented template: `{connectionId}:send` → `p:send`. */
const samplePath = (template: string): string => template.replace(/\{[^}]+\}/g, 'p');

const isPage = (path: string): boolean => PAGES.some((page) => path === page || path.startsWith(`${page}/`));

/** Every route of the router tree `printRoutes()` draws, as (method, full path). */
function routesOf(tree: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (depth > 0 ? prefixes[depth - 1]! : '') + match[2]!;
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path });
  }
  return routes;
}

function documentedAt(document: OpenApiDocument, method: string, path: string): boolean {
  const pattern = routePattern(path);
  return operationsOf(document).some((op) => op.method === method && pattern.test(samplePath(op.path)));
}

/** Each $ref in the document, with where it was found. */
function refsOf(value: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => refsOf(item, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => (key === '$ref' && typeof inner === 'string' ? [{ ref: inner, at }] : refsOf(inner, `${at}/${key}`)));
}

function componentOf(document: OpenApiDocument, ref: string | undefined): { properties?: Record<string, unknown>; required?: string[] } {
  const name = ref?.replace('#/components/schemas/', '');
  const schema = name === undefined ? undefined : document.components.schemas[name];
  if (schema === undefined) throw new Error(`no component for ${String(ref)}`);
  return schema;
}

/** The answer has the documented schema's required fields and no field it does not list. */
function expectShape(document: OpenApiDocument, ref: string | undefined, body: unknown, what: string): void {
  const schema = componentOf(document, ref);
  const keys = Object.keys(body as object);
  for (const field of schema.required ?? []) expect(keys, `${what}: required ${field}`).toContain(field);
  for (const key of keys) expect(Object.keys(schema.properties ?? {}), `${what}: ${key} is documented`).toContain(key);
}

describe('the management API document', () => {
  const node = suiteNode({
    spec: specYaml({ '/ws': { message: dummy('') } }, 'docs-gw'),
    settings: { management: { apiKeys: KEYS, awsAccessKeys: [{ accessKeyId: 'AKIDDOCS', secretAccessKey: 'docs-secret' }] } },
  });
  const client: TestClient = forSuite(() => connectClient(node.wsUrl('/ws')));
  let connectionId: string;
  let document: OpenApiDocument;

  beforeAll(async () => {
    connectionId = client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
    const response = await node.api('GET', '/openapi.json');
    expect(response.status, response.text).toBe(200);
    document = response.json as OpenApiDocument;
  });

  const call = (method: string, path: string, body?: unknown, key?: string): Promise<ApiResponse> =>
    node.api(method, path, body, key === undefined ? {} : { authorization: `Bearer ${key}` });

  it('is served without an API key as an OpenAPI 3.1 document, the same as the page loads', async () => {
    const response = await node.api('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect((await node.api('GET', '/docs/json')).json).toEqual(document);
  });

  it('is well formed: responses, parameters, operation ids, tags, security names and $refs all hold together', () => {
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(0);
    const declaredTags = new Set((document.tags ?? []).map((t) => t.name));
    for (const { method, path, operation } of operations) {
      const where = `${method} ${path}`;
      expect(path, where).toMatch(/^\//);
      expect(operation.operationId, where).toEqual(expect.any(String));
      expect(Object.keys(operation.responses).length, where).toBeGreaterThan(0);
      for (const [code, response] of Object.entries(operation.responses)) {
        expect(code, where).toMatch(/^(?:[1-5]\d\d|default)$/);
        expect(response.description, `${where} ${code}`).toEqual(expect.any(String));
      }
      const parameters = operation.parameters ?? [];
      for (const parameter of parameters) {
        expect(['path', 'query', 'header', 'cookie'], where).toContain(parameter.in);
        expect(parameter.schema, `${where} ${parameter.name}`).toBeDefined();
      }
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const inPath = parameters.filter((p) => p.in === 'path');
      expect(inPath.map((p) => p.name).sort(), `${where}: path parameters`).toEqual(templated);
      for (const parameter of inPath) expect(parameter.required, `${where} ${parameter.name}`).toBe(true);
      for (const tag of operation.tags ?? []) expect(declaredTags, where).toContain(tag);
      for (const requirement of operation.security ?? []) {
        for (const name of Object.keys(requirement)) expect(Object.keys(document.components.securitySchemes), where).toContain(name);
      }
    }
    const ids = operations.map((op) => op.operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { ref, at } of refsOf(document)) {
      expect(ref, at).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas, `${at}: ${ref}`).toHaveProperty([ref.slice('#/components/schemas/'.length)]);
    }
  });

  it('lists every route the listener serves with its method, and nothing it does not serve', () => {
    const routes = routesOf(node.node.api.printRoutes());
    expect(routes.length).toBeGreaterThan(20);
    for (const { method, path } of routes) {
      if (isPage(path)) continue;
      // fastify answers HEAD for every GET route by itself: HEAD is GET without the body.
      if (method === 'HEAD' && routes.some((r) => r.method === 'GET' && r.path === path)) continue;
      expect(documentedAt(document, method, path), `${method} ${path} is in the document`).toBe(true);
    }
    for (const { method, path } of operationsOf(document)) {
      const served = routes.some((r) => r.method === method && routePattern(r.path).test(samplePath(path)));
      expect(served, `${method} ${path} is served`).toBe(true);
    }
    // The surface the issue names, spelled out.
    const expected = [
      `GET ${V1}/connections/{connectionId}`,
      `POST ${V1}/connections/{connectionId}:send`,
      `DELETE ${V1}/connections/{connectionId}`,
      `GET ${V1}/connections`,
      `POST ${V1}/connections/{connectionId}:subscribe`,
      `POST ${V1}/connections/{connectionId}:unsubscribe`,
      `POST ${V1}/topics/{topic}:publish`,
      `GET ${V1}/topics/{topic}/presence`,
      `GET ${V1}/topics/{topic}/history`,
      `POST ${V1}/users/{userId}:send`,
      `POST ${V1}/users/{userId}:disconnect`,
      `POST ${V1}/tenants/{tenantId}:broadcast`,
      'POST /@connections/{connectionId}',
      'GET /@connections/{connectionId}',
      'DELETE /@connections/{connectionId}',
      'POST /{stage}/@connections/{connectionId}',
      'GET /{stage}/@connections/{connectionId}',
      'DELETE /{stage}/@connections/{connectionId}',
      'GET /metrics',
      `GET ${V1}/nodes/metrics`,
      'GET /healthz',
      'GET /readyz',
      'GET /openapi.json',
    ];
    expect(operationsOf(document).map((op) => `${op.method} ${op.path}`).sort()).toEqual(expected.sort());
  });

  it('declares the API key (Bearer or Api-Key) with its scope, SigV4 for @connections, and nothing for probes and docs', () => {
    const schemes = document.components.securitySchemes;
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.apiKeyAuth).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization' });
    expect(schemes.sigv4).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization', 'x-amazon-apigateway-authtype': 'awsSigv4' });
    for (const { method, path, operation } of operationsOf(document)) {
      const where = `${method} ${path}`;
      if (['/healthz', '/readyz', '/openapi.json'].includes(path)) {
        expect(operation.security, where).toEqual([]);
      } else if (path.includes('/@connections/')) {
        expect(operation.security, where).toEqual([{ sigv4: [] }]);
      } else {
        expect(operation.security, where).toEqual([{ bearerAuth: [expect.stringMatching(/^(read|write|broadcast)$/)] }, { apiKeyAuth: [expect.any(String)] }]);
        expect(operation.security![0]!.bearerAuth).toEqual(operation.security![1]!.apiKeyAuth);
      }
    }
  });

  /** A documented path with live values: the test's connection unless told otherwise. */
  function concrete(path: string, id = connectionId): string {
    const values: Record<string, string> = { connectionId: id, topic: 'acme:chat.room1', userId: 'alice', tenantId: 'acme', stage: 'production' };
    return path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(values[name]!));
  }

  it('the documented scope is the one the call needs: without it 403, with it alone past auth', async () => {
    const unknown = 'nobody.AAAAAAAAAAAAAAAAAAAAAA';
    let checked = 0;
    for (const { method, path, operation } of operationsOf(document)) {
      const scope = operation.security?.[0]?.bearerAuth?.[0];
      if (scope === undefined) continue;
      const url = concrete(path, unknown);
      const body = operation.requestBody?.content['application/json']?.example;
      const refused = await call(method, url, body, keyWithout(scope));
      expect(refused.status, `${method} ${path} without ${scope}: ${refused.text}`).toBe(403);
      expect(refused.json).toMatchObject({ code: 7, message: `this API key lacks the "${scope}" scope` });
      const allowed = await call(method, url, body, keyWith(scope));
      expect([401, 403], `${method} ${path} with ${scope} alone: ${allowed.text}`).not.toContain(allowed.status);
      expect((await call(method, url, body)).status, `${method} ${path} without a key`).toBe(401);
      checked++;
    }
    expect(checked).toBe(14);
  });

  it('public operations answer without a key; @connections takes SigV4, not the API key', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json']) expect((await call('GET', path)).status, path).toBe(200);
    const withKey = await call('GET', `/@connections/${connectionId}`, undefined, ADMIN);
    expect(withKey.status).toBe(403);
    expect(withKey.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    const documented = document.paths['/@connections/{connectionId}']!.get!.responses['403']!;
    expect(documented.headers?.['x-amzn-ErrorType']?.schema.enum).toEqual(['ForbiddenException']);
    expectShape(document, documented.content?.['application/json']?.schema.$ref, withKey.json, 'GetConnection 403');
  });

  it("documents the key's rate limit on every API-key operation as 429 with Retry-After, as a limited key meets it", async () => {
    for (const { method, path, operation } of operationsOf(document)) {
      if (operation.security?.[0]?.bearerAuth === undefined) continue;
      expect(operation.responses['429']?.headers, `${method} ${path}`).toHaveProperty(['Retry-After']);
    }
    const limited = await useNode({ settings: { management: { apiKeys: [{ key: 'slow-key', scopes: ['read'], rateLimit: { requestsPerSecond: 1, burst: 1 } }] } } });
    const headers = { authorization: 'Bearer slow-key' };
    expect((await limited.api('GET', `${V1}/connections`, undefined, headers)).status).toBe(200);
    const refused = await limited.api('GET', `${V1}/connections`, undefined, headers);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.json).toMatchObject({ code: 8, details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo' }] });
    expectShape(document, '#/components/schemas/Status', refused.json, '429');
  });

  it('documents errors as google.rpc.Status on the API-key routes and in the AWS shape on @connections', () => {
    for (const { method, path, operation } of operationsOf(document)) {
      for (const [code, response] of Object.entries(operation.responses)) {
        if (code.startsWith('2')) continue;
        const expected = path.includes('/@connections/') ? '#/components/schemas/AwsError' : '#/components/schemas/Status';
        expect(response.content?.['application/json']?.schema, `${method} ${path} ${code}`).toEqual({ $ref: expected });
      }
    }
    expect(componentOf(document, '#/components/schemas/Status')).toMatchObject({ required: ['code', 'message', 'details'] });
  });

  it('accepts every documented request example, answers in the documented shape, and refuses an undocumented field by name', async () => {
    let checked = 0;
    for (const { method, path, operation } of operationsOf(document)) {
      const media = operation.requestBody?.content['application/json'];
      if (media?.example === undefined) continue;
      const where = `${method} ${path}`;
      const requestSchema = componentOf(document, (media.schema as { $ref: string }).$ref);
      expect(Object.keys(media.example).sort(), `${where}: the example shows every field`).toEqual(Object.keys(requestSchema.properties ?? {}).sort());
      const ok = await call(method, concrete(path), media.example, ADMIN);
      expect(ok.status, `${where}: ${ok.text}`).toBe(200);
      expectShape(document, operation.responses['200']!.content?.['application/json']?.schema.$ref, ok.json, where);
      const extra = await call(method, concrete(path), { ...media.example, undocumentedField: true }, ADMIN);
      expect(extra.status, where).toBe(400);
      expect(extra.json).toMatchObject({ code: 3, details: [{ fieldViolations: [{ field: 'undocumentedField' }] }] });
      checked++;
    }
    expect(checked).toBe(7);
    await client.next();
  });

  it('answers GET calls in their documented shapes, view=FULL fields included', async () => {
    const get = document.paths[`${V1}/connections/{connectionId}`]!.get!;
    const full = await call('GET', `${concrete(`${V1}/connections/{connectionId}`)}?view=FULL`, undefined, ADMIN);
    expect(full.json).toMatchObject({ id: connectionId, subscriptions: [], isAlive: true });
    expectShape(document, get.responses['200']!.content?.['application/json']?.schema.$ref, full.json, 'get FULL');
    const list = await call('GET', `${V1}/connections`, undefined, ADMIN);
    expectShape(document, document.paths[`${V1}/connections`]!.get!.responses['200']!.content?.['application/json']?.schema.$ref, list.json, 'list');
    const history = await call('GET', concrete(`${V1}/topics/{topic}/history`), undefined, ADMIN);
    expectShape(document, document.paths[`${V1}/topics/{topic}/history`]!.get!.responses['200']!.content?.['application/json']?.schema.$ref, history.json, 'history');
    const nodeMetrics = await call('GET', `${V1}/nodes/metrics`, undefined, ADMIN);
    expectShape(document, document.paths[`${V1}/nodes/metrics`]!.get!.responses['200']!.content?.['application/json']?.schema.$ref, nodeMetrics.json, 'node metrics');
  });

  it('left the answers as they were: messages naming the field, scope before body, no field dropped, no CSP on the API', async () => {
    const send = `${V1}/connections/${connectionId}:send`;
    const badData = await call('POST', send, { data: 12345, type: 'TEXT' }, ADMIN);
    expect(badData.status).toBe(400);
    expect(badData.text).toBe(
      '{"code":3,"message":"data must be a base64 string","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"data","description":"data must be a base64 string"}]}]}',
    );
    // A key without the scope hears 403 before anything about its body (Ajv would have said 400 first).
    const noScope = await call('POST', send, { data: 12345 }, 'read-key');
    expect(noScope.status).toBe(403);
    expect(noScope.text).toBe('{"code":7,"message":"this API key lacks the \\"write\\" scope","details":[]}');
    const badPage = await call('GET', `${V1}/connections?pageSize=abc`, undefined, ADMIN);
    expect(badPage.text).toBe(
      '{"code":3,"message":"pageSize must be an integer, got \\"abc\\"","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"pageSize","description":"pageSize must be an integer, got \\"abc\\""}]}]}',
    );
    const badView = await call('GET', `${V1}/connections/${connectionId}?view=full`, undefined, ADMIN);
    expect(badView.json).toMatchObject({ code: 3, details: [{ fieldViolations: [{ field: 'view' }] }] });
    const unknownVerb = await call('POST', `${V1}/topics/acme:x:shout`, { data: 'eA==' }, ADMIN);
    expect(unknownVerb.text).toBe('{"code":5,"message":"no method shout on topics; use :publish","details":[]}');
    const noKey = await call('GET', '/metrics');
    expect(noKey.text).toBe(
      '{"code":16,"message":"missing API key: send \\"Authorization: Bearer <key>\\" or \\"Authorization: Api-Key <key>\\"","details":[]}',
    );
    const metrics = await call('GET', '/metrics', undefined, ADMIN);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(metrics.text).toContain('switchboard_connections');
    for (const response of [badData, noScope, metrics, await call('GET', '/healthz'), await call('GET', '/openapi.json')]) {
      expect(response.headers.get('content-security-policy')).toBeNull();
    }
    expect((await call('GET', '/healthz')).text).toBe('{"status":"ok"}');
    expect((await call('HEAD', '/healthz')).status).toBe(200);
  });

  it('/docs is an HTML page whose scripts, styles and icons all come from this server', async () => {
    for (const path of ['/docs', '/docs/']) {
      const page = await node.api('GET', path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(page.headers.get('content-security-policy')).not.toMatch(/https?:|\*/);
      const assets = [...page.text.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
      expect(assets.length).toBeGreaterThanOrEqual(4);
      for (const asset of assets) {
        expect(asset, `${path}: ${asset}`).not.toMatch(/^(?:[a-z]+:)?\/\//i);
        const url = new URL(asset, `${node.apiUrl}${path}`);
        expect(url.origin).toBe(node.apiUrl);
        const loaded = await fetch(url);
        expect(loaded.status, url.pathname).toBe(200);
        await loaded.arrayBuffer();
      }
    }
    const initializer = await node.api('GET', '/docs/static/swagger-initializer.js');
    expect(initializer.status).toBe(200);
    // No URL in a string it could load (a comment links to an answer on the web).
    expect(initializer.text).not.toMatch(/['"`]\s*(?:https?:)?\/\//);
    expect(initializer.text).toContain('validatorUrl: null');
  });

  const CHROMIUM = '/usr/bin/chromium';
  const hasChromium = existsSync(CHROMIUM);
  it.skipIf(!hasChromium)(`/docs renders every operation in a browser without a request to another host (skipped only when ${CHROMIUM} is missing)`, async () => {
    const browser = await useStarted(chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }));
    const page = await browser.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${node.apiUrl}/docs`);
    const operations = operationsOf(document).length;
    await page.waitForFunction((n) => window.document.querySelectorAll('.opblock').length >= n, operations, { timeout: 15_000 });
    expect(await page.locator('.opblock').count()).toBe(operations);
    expect(await page.locator('.errors-wrapper').count()).toBe(0);
    expect(requests.length).toBeGreaterThan(3);
    for (const url of requests) expect(url.startsWith(`${node.apiUrl}/`), url).toBe(true);
    expect(problems).toEqual([]);
  });
});

describe('a fresh management API instance', () => {
  const managementApi = () => createManagementApi({ hub: {} as Hub, apiKeys: [], metrics: new Metrics(() => 0), log: createLogger('silent'), ready: () => true });

  it('documents every route fastify registers, except the hidden routes of the docs page', async () => {
    const app = managementApi();
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => {
      routes.push(route);
    });
    await app.ready();
    try {
      const document = app.swagger() as unknown as OpenApiDocument;
      const methods = routes.flatMap((route) => (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ method, route })));
      expect(methods.length).toBeGreaterThan(20);
      for (const { method, route } of methods) {
        if (method === 'HEAD') continue;
        if (route.schema?.hide === true) {
          expect(route.url, `${method} ${route.url} is hidden`).toMatch(/^\/docs(?:\/|$)/);
          continue;
        }
        expect(documentedAt(document, method, route.url), `${method} ${route.url} is in the document`).toBe(true);
      }
    } finally {
      await app.close();
    }
  });

  it('leaves fastify validation to a route declared with a schema of its own, not through documented()', async () => {
    const app = managementApi();
    app.register(async (plugin) => {
      plugin.post('/validated', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async () => ({}));
    });
    try {
      const rejected = await app.inject({ method: 'POST', url: '/validated', payload: {} });
      expect(rejected.statusCode).toBe(400);
      expect(rejected.json()).toMatchObject({ code: 3, message: expect.stringContaining('n') });
      expect((await app.inject({ method: 'POST', url: '/validated', payload: { n: 1 } })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
